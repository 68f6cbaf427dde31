"""Settings come from the environment only; the defaults are safe and need no services.

SQLite is the embedded default so that a fresh clone runs with `make run`; production sets DATABASE_URL.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "False") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not envbool("MADOGUCHI_INSECURE_DEV_KEY"):
        raise RuntimeError("SECRET_KEY must be set (or DEBUG=true for local development)")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
# Keys the inquiry codes (their hashes, and their derivation from each submission's token). Its own
# setting, so that rotating SECRET_KEY (sessions, signed pages) leaves every resident's code valid.
INQUIRY_CODE_KEY = os.environ.get("INQUIRY_CODE_KEY") or SECRET_KEY
# The master keyset (a Tink JSON keyset of AES-256-GCM keys) that wraps every organization's data keys:
# answers, attachments, export files and sessions are stored encrypted (lib/envelope.py). From the
# environment only, never the database: `manage.py master_keyset` makes one. Development uses a fixed one.
MASTER_KEYSET = os.environ.get("MADOGUCHI_MASTER_KEYSET", "")
if not MASTER_KEYSET and os.environ.get("MADOGUCHI_MASTER_KEYSET_FILE"):
    MASTER_KEYSET = Path(os.environ["MADOGUCHI_MASTER_KEYSET_FILE"]).read_text(encoding="utf-8").strip()
_MAKING_MASTER_KEYSET = sys.argv[1:2] == ["master_keyset"]  # the command that makes the first one
if (
    not MASTER_KEYSET
    and not DEBUG
    and not envbool("MADOGUCHI_INSECURE_DEV_KEY")
    and not _MAKING_MASTER_KEYSET
):
    raise RuntimeError(
        "MADOGUCHI_MASTER_KEYSET must be set (make one with `manage.py master_keyset`), "
        "or DEBUG=true for local development"
    )

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = os.environ.get("SITE_NAME", "窓口 電子申請サービス")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "madoguchi.organizations",
    "madoguchi.accounts",
    "madoguchi.audit",
    "madoguchi.procedures",
    "madoguchi.submissions",
    "madoguchi.stats",
    "madoguchi.notifications",
    "madoguchi.api",
    "django_otp",  # 2段階認証 (accounts/two_factor.py)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",  # パスキー as a second factor (accounts/passkeys.py)
    "axes",  # failed logins counted per account and per client; lockouts (accounts/login_security.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "madoguchi.security.RequestLimitsMiddleware",  # after the language is known, before the body is read
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "madoguchi.lib.tenancy.TenantScopeMiddleware",  # which organizations' rows the database lets it see
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): this login passed its second factor
    "madoguchi.security.PrivateResponsesMiddleware",  # no-store for staff pages and every download
    "django.contrib.messages.middleware.MessageMiddleware",
    "madoguchi.security.StaffSessionTimeoutMiddleware",  # idle and absolute timeouts of a staff login
    "madoguchi.accounts.two_factor.TwoFactorMiddleware",  # no staff page before the second factor
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login with the lockout page
    # After CSRF's check: 503 beyond the limit; residents' posts of a form are kept as drafts (overload.py)
    "madoguchi.overload.ConcurrencyLimitMiddleware",
]
# Requests one process works on at once (madoguchi/overload.py); beyond it, 503 with Retry-After at once. The
# default is gunicorn's threads per worker; run more threads than this to answer the excess quickly.
MADOGUCHI_MAX_CONCURRENT_REQUESTS = envint("MADOGUCHI_MAX_CONCURRENT_REQUESTS", envint("GUNICORN_THREADS", 2))

ROOT_URLCONF = os.environ.get("ROOT_URLCONF", "madoguchi.urls")
WSGI_APPLICATION = "madoguchi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "madoguchi" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "madoguchi.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, live_server, the worker) write; wait instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not the shared in-memory database: its table locks ignore the timeout under concurrency.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_SQLITE_FILE", str(BASE_DIR / "test-db.sqlite3"))
    }
    # Django's, keeping the organization guards (triggers) when a migration rebuilds a table.
    DATABASES["default"]["ENGINE"] = "madoguchi.lib.sqlite"
else:
    # Lets the resident's final submit (one long statement, submissions/single_statement.py) and the reads
    # of every step (lib/prepared.py) be prepared once per connection; nothing else is prepared. The ORM's
    # own queries bind on the client and are never prepared. Set false behind a pooler in transaction mode
    # (pgbouncer), which cannot keep prepared statements: then the connection prepares none at all.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        1_000_000 if envbool("DB_PREPARED_STATEMENTS", "true") else None
    )

# PostgreSQL: the role the application works as, not the tables' owner, so that row-level security applies
# (lib/tenancy.py; `manage.py db_app_role`). Empty: the role of DATABASE_URL's user. Run `migrate` without it.
DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE", "")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "staff:login"
# 2段階認証 (django-otp): the name an authenticator app shows beside the code.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", SITE_NAME)
# パスキー: a second factor after the password, never instead of it; the relying party is the host the
# request came to (accounts/passkeys.SiteWebAuthnHelper).
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_HELPER_CLASS = "madoguchi.accounts.passkeys.SiteWebAuthnHelper"
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = "madoguchi.passkeys"
# Read by the library's system checks only: the relying party and the origin used are those of the request
# (above), this site's own. Its origin check (E030/E031) is about the unused setting, so it is silenced.
OTP_WEBAUTHN_RP_ID = urlsplit(SITE_URL).hostname or "localhost"
OTP_WEBAUTHN_RP_NAME = SITE_NAME
SILENCED_SYSTEM_CHECKS = ["otp_webauthn.E030", "otp_webauthn.E031"]
LOGIN_REDIRECT_URL = "staff:home"
LOGOUT_REDIRECT_URL = "staff:login"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("日本語")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "madoguchi" / "locale"]
TIME_ZONE = "Asia/Tokyo"  # shown on screen; stored in UTC because USE_TZ
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "madoguchi" / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media-not-served/"  # attachments are only served through authorised views
# A Japanese font for the PDFs (決裁用 and the resident's 控え): an OpenType/TrueType file or collection
# (.otf, .ttf, .ttc). Empty: the first of paper.KNOWN_FONT_PATHS found (Debian's fonts-noto-cjk, IPAex, …).
PDF_FONT_PATH = os.environ.get("PDF_FONT_PATH", "")


def file_storage() -> dict:
    """Where attachments live: a local folder, or an S3-compatible bucket shared by every app node."""
    if os.environ.get("FILE_STORAGE", "filesystem") != "s3":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["S3_BUCKET"],
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,  # MinIO, Sakura, etc.; empty for AWS
            "region_name": os.environ.get("S3_REGION", "ap-northeast-1"),
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,  # none: the instance's own role
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("S3_PREFIX", ""),
            "default_acl": None,  # objects stay private; the bucket policy decides
            "querystring_auth": True,
            "file_overwrite": False,
            # A download is read into a temporary file, on disk beyond 8 MB: a large export or attachment
            # never sits whole in a web worker's memory.
            "max_memory_size": 8 * 1024 * 1024,
            # e.g. AES256 or aws:kms where the service supports it; many S3-compatible ones encrypt anyway.
            "object_parameters": {"ServerSideEncryption": os.environ["S3_SSE"]}
            if os.environ.get("S3_SSE")
            else {},
        },
    }


STORAGES = {
    "default": file_storage(),
    "staticfiles": {
        # Hashed names need `collectstatic` first: on in production, off for `make run` and the tests.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if envbool("STATIC_MANIFEST", str(not DEBUG))
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or envbool("WHITENOISE_USE_FINDERS")

# Uploads: the per-field limit comes from the form; this caps the whole request.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Any request body above this is refused before it is read (a form's files together, plus the text).
MAX_REQUEST_BYTES = envint("MAX_REQUEST_MB", 50) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
MAX_UPLOAD_REQUEST_BYTES = envint("MAX_UPLOAD_REQUEST_BYTES", 30 * 1024 * 1024)

# Django's database sessions, each read or write one statement (lib/sessions.py): every step of a
# resident's form reads or writes its session.
SESSION_ENGINE = "madoguchi.lib.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "False" if DEBUG else "True")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True  # read by the server only
LANGUAGE_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 2 * 60 * 60)
# A staff login ends after this long without a request, and this long after it began (seconds;
# madoguchi.security.StaffSessionTimeoutMiddleware). Expired session rows: `manage.py clearsessions` daily.
STAFF_IDLE_TIMEOUT = envint("STAFF_IDLE_TIMEOUT", 30 * 60)
STAFF_ABSOLUTE_TIMEOUT = envint("STAFF_ABSOLUTE_TIMEOUT", 10 * 60 * 60)
# Exports of personal data and changes of a member's role ask for the password again this long after it was
# last typed (seconds; accounts/reauth.py).
STAFF_REAUTH_SECONDS = envint("STAFF_REAUTH_SECONDS", 15 * 60)
# ClamAV: every uploaded file is scanned by this clamd (host:port or unix:/path) when set; a file is refused
# when clamd is down or slower than CLAMD_TIMEOUT seconds (lib/clamd.py).
CLAMD_ADDRESS = os.environ.get("CLAMD_ADDRESS", "")
CLAMD_TIMEOUT = envint("CLAMD_TIMEOUT", 30)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 0)  # e.g. 31536000 once the site is only served over HTTPS
SECURE_SSL_REDIRECT = envbool("SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Behind one reverse proxy: trust its X-Forwarded-Proto, and the address it appends to X-Forwarded-For.
BEHIND_TLS_PROXY = envbool("BEHIND_TLS_PROXY")
# Anti-automation: at most this many submissions of one procedure from one client address per window (a
# retry of a case already received is always answered). Generous, for addresses many people share.
SUBMISSIONS_PER_CLIENT = envint("SUBMISSIONS_PER_CLIENT", 20)
SUBMISSION_WINDOW_SECONDS = envint("SUBMISSION_WINDOW_SECONDS", 10 * 60)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "madoguchi.notifications.backends.EmailBackend"  # the console, Japanese subjects and bodies readable
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "madoguchi@localhost")
EMAIL_MAX_ATTEMPTS = envint("EMAIL_MAX_ATTEMPTS", 6)

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "madoguchi_cache"}
}

# Personal data never goes to logs: requests are logged by path only (no query strings, no bodies).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "django.server": {"level": "WARNING"}},
}
CSRF_FAILURE_VIEW = "madoguchi.organizations.views.csrf_failure"


# Brute force and credential stuffing on the staff login and the admin (django-axes): after
# AXES_FAILURE_LIMIT failures for one user name, or from one client address outside the office networks,
# further attempts are refused (HTTP 429, a Japanese page) until AXES_COOLOFF_TIME has passed or an admin
# lifts the lockout (the staff account page, the operator's admin, or `manage.py axes_reset_username <name>`).
# Every login, failure and lockout is in the audit log (accounts/login_security.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "30")))
# Per user name everywhere; per client address too, except from STAFF_OFFICE_NETWORKS (comma-separated
# CIDR, e.g. an LGWAN gateway or a town hall's proxy): there many staff share one address, and one
# colleague's typos must not lock out the whole office (login_security.lockout_parameters).
STAFF_OFFICE_NETWORKS = [
    n.strip() for n in os.environ.get("STAFF_OFFICE_NETWORKS", "").split(",") if n.strip()
]
AXES_LOCKOUT_PARAMETERS = "madoguchi.accounts.login_security.lockout_parameters"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "madoguchi.accounts.login_security.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # its log lines would carry user names and addresses
AXES_IPWARE_PROXY_COUNT = int(os.environ["AXES_PROXY_COUNT"]) if os.environ.get("AXES_PROXY_COUNT") else None
