"""The second factor of a staff or operator login (2段階認証): a one-time code from an authenticator app
(TOTP, RFC 6238: 6 digits, 30-second steps) and single-use recovery codes (回復コード), kept by django-otp.

Who must have it (`is_required`): every admin of an organization, the operator (Django's is_staff or
is_superuser), and every member of an organization whose policy (Organization.two_factor_required) says so.
Anyone else may turn it on. Whoever has it is asked for a code after their password, on every login.

How a login goes: the password page logs the user in as Django does; until a code is accepted the session is
not "verified" (django_otp's OTPMiddleware), and `TwoFactorMiddleware` lets such a session reach nothing under
/staff/ or /admin/ but the code page, the set-up page (when the user has no second factor yet and must), the
password pages and logout. So a stolen password alone opens no staff page, and the rule sits in one place.

Forged and replayed codes: a TOTP code is accepted once (django-otp keeps the last time step used, so the same
code cannot log in twice), a recovery code is deleted when used; after each wrong code the next try must wait
twice as long (django-otp's throttling, 1 s, 2 s, 4 s …); every failure, use of a recovery code and change
is in the audit log. An admin who lost their phone is helped by another admin of the organization
(`reset`), or by the operator in the Django admin.

Errors raised: none; functions return what happened (see each).
"""

from __future__ import annotations

import base64
import time
import unicodedata

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi.accounts.models import Membership, Role
from madoguchi.audit.services import record
from madoguchi.lib.client import client_address

RECOVERY_CODES = 10  # how many single-use recovery codes a member gets at a time
TOTP_NAME = "認証アプリ"
RECOVERY_NAME = "回復コード"


def is_required(user) -> bool:
    """Whether `user` may not use staff pages without a second factor: an organization's admin, the
    operator, or a member of an organization that requires it of all its staff."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return (
        Membership.objects.filter(user=user)
        .filter(Q(role=Role.ADMIN) | Q(organization__two_factor_required=True))
        .exists()
    )


def is_enabled(user) -> bool:
    """Whether the user has a confirmed second factor (and so is asked for a code at every login)."""
    return user.is_authenticated and user_has_device(user, confirmed=True)


def users_with_second_factor(user_ids: list[int]) -> set[int]:
    """Of these users, those with a confirmed authenticator app (one query)."""
    return set(
        TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True).values_list("user_id", flat=True)
    )


def _record_all(*, user, actor, action: str, detail: dict | None = None) -> None:
    """One audit entry per organization the user belongs to (login_security's, shared with the logins)."""
    from madoguchi.accounts.login_security import _record_all as record_for_each_organization

    record_for_each_organization(user=user, actor=actor, action=action, detail=detail or {})


def record_for_user(user, action: str, detail: dict | None = None) -> None:
    """An audit entry of the user's own second-factor event, in each organization they belong to."""
    _record_all(user=user, actor=user, action=action, detail=detail)


def has_app(user) -> bool:
    """Whether the user has a confirmed authenticator app (passkeys are added beside one: accounts/passkeys)."""
    return user.is_authenticated and TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def normalise_code(raw: str) -> str:
    """A code as typed, forgiven: full-width digits and letters, spaces and hyphens (「１２３ ４５６」 →
    「123456」), upper case for a recovery code. At most 32 characters are looked at."""
    text = unicodedata.normalize("NFKC", str(raw or ""))[:64]
    return "".join(ch for ch in text if ch.isalnum()).lower()[:32]


def recovery_code_digest(code: str) -> str:
    """What is stored of a recovery code (StaticToken.token, 16 characters): the first 64 bits of an
    HMAC-SHA256 keyed by INQUIRY_CODE_KEY, as hex. The codes have 40 bits of their own, too few against
    hashing every possible code offline; the key is not in the database, so a copy of it gives no code.
    INQUIRY_CODE_KEY rather than SECRET_KEY: replacing SECRET_KEY must not lock admins out. `code`: as
    normalise_code gives it. (ASVS 5.0 V6.5.2)"""
    from django.conf import settings
    from django.utils.crypto import salted_hmac

    return salted_hmac(
        "madoguchi.recovery-code", code, secret=settings.INQUIRY_CODE_KEY, algorithm="sha256"
    ).hexdigest()[:16]


def pending_totp(user) -> TOTPDevice | None:
    """The authenticator app being set up (not yet confirmed by a code), if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def start_totp(user) -> TOTPDevice:
    """Begin setting up an authenticator app: a new secret key, unconfirmed until `confirm_totp`. An earlier
    unconfirmed one is replaced; a confirmed one stays until the new one is confirmed."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def secret_text(device: TOTPDevice) -> str:
    """The secret key as an authenticator app takes it when typed (base32, in groups of four)."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address of the key as an SVG QR code, for an authenticator app's camera."""
    import segno

    # No fixed size (a viewBox instead): the page's CSS fits it to a phone's width.
    return segno.make(device.config_url, error="m").svg_inline(omitsize=True, title="QR")


def confirm_totp(request, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the app being set up with a code it shows. On success the older app (if any) is replaced, new
    recovery codes are made (returned, to be shown once), this login counts as verified and the change is
    audited. None when the code is wrong (nothing changes)."""
    user = request.user
    if device.user_id != user.pk or device.confirmed:
        return None
    # No waiting between tries here: whoever sets up the app sees its key on the page (nothing to guess).
    device.throttle_reset(commit=False)
    if not device.verify_token(normalise_code(code)):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.created_at = timezone.now()
        device.save()
        codes = _new_recovery_codes(user)
        _record_all(user=user, actor=user, action="auth.two_factor_on")
    otp_login(request, device)
    return codes


def _new_recovery_codes(user) -> list[str]:
    static, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    # Only their keyed hashes are stored: shown once, then nobody can read them again.
    StaticToken.objects.bulk_create(StaticToken(device=static, token=recovery_code_digest(c)) for c in codes)
    return codes


def new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODES new ones (the old ones stop working); audited."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        _record_all(user=user, actor=user, action="auth.recovery_codes_new")
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


class Result:
    """What `verify` found: ok (the code was accepted), wait_seconds (after wrong codes: try again in …),
    recovery (a recovery code was used; `left` of them remain), replayed (a right code already used)."""

    def __init__(self, ok=False, wait_seconds=0, recovery=False, left=0, replayed=False):
        self.ok, self.wait_seconds, self.recovery, self.left = ok, wait_seconds, recovery, left
        self.replayed = replayed


def wrong_code_message(result: Result) -> str:
    """The message for a code that was not accepted (the page language)."""
    from django.utils.translation import gettext

    if result.replayed:
        return gettext(
            "この確認コードはすでに使われています。認証アプリに次の数字が表示されてから入力してください。"
        )
    return gettext(
        "確認コードが正しくありません。認証アプリにいま表示されている6桁の数字か、回復コードを入力してください。"
    )


def _was_used(devices, token: str) -> bool:
    """Whether a refused 6-digit code is one of the app's current codes, refused only because it was used."""
    from django_otp.oath import TOTP

    for device in devices:
        if isinstance(device, TOTPDevice) and token.isdigit():
            totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
            totp.time = time.time()
            if totp.verify(int(token), device.tolerance):
                return True
    return False


def _wait_seconds(devices) -> int:
    """Seconds until every throttled device accepts a try again (0: none is throttled)."""
    wait = 0
    now = timezone.now()
    for device in devices:
        allowed, data = device.verify_is_allowed()
        if not allowed and data and data.get("locked_until"):
            wait = max(wait, int((data["locked_until"] - now).total_seconds()) + 1)
        elif not allowed:
            wait = max(wait, 1)
    return wait


def verify(request, code: str) -> Result:
    """Check a code typed after the password: a 6-digit app code or a recovery code. On success the session is
    verified (django_otp.login). Every failure and every recovery code used is audited; the typed code never
    is."""
    user = request.user
    token = normalise_code(code)
    devices = list(devices_for_user(user, confirmed=True))
    if not token:
        return Result()
    # Only the kind of device the code can be, so a wrong app code does not slow down the recovery codes.
    if token.isdigit() and len(token) == 6:
        candidates = [d for d in devices if isinstance(d, TOTPDevice)]
    else:
        candidates = [d for d in devices if isinstance(d, StaticDevice)]
    matched = None
    with transaction.atomic():
        # Each try holds its devices' rows: simultaneous guesses are checked one after another, each seeing the
        # throttle the one before left (a burst cannot test many codes inside one waiting time).
        candidates = [type(d).objects.select_for_update().get(pk=d.pk) for d in candidates]
        wait = _wait_seconds(candidates)
        if wait:
            return Result(wait_seconds=wait)
        for device in candidates:
            typed = token if isinstance(device, TOTPDevice) else recovery_code_digest(token)
            if device.verify_token(typed):
                matched = device
                break
    if matched is not None:
        otp_login(request, matched)
        if isinstance(matched, StaticDevice):
            left = recovery_codes_left(user)
            _record_all(user=user, actor=user, action="auth.recovery_code_used", detail={"left": left})
            return Result(ok=True, recovery=True, left=left)
        return Result(ok=True)
    client = client_address(request)
    _record_all(user=user, actor=user, action="auth.two_factor_failed", detail={"client": client})
    return Result(replayed=_was_used(candidates, token))


def turn_off(user) -> bool:
    """Remove the user's own second factor, when nothing requires it of them (False: it is required)."""
    if is_required(user):
        return False
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=None):
            device.delete()
        _record_all(user=user, actor=user, action="auth.two_factor_off")
    return True


def reset(*, user, actor, organization) -> int:
    """An admin removes a colleague's second factor (a lost phone): at their next login they set it up again
    (if required) or log in with the password alone. Audited in `organization`. Returns devices removed."""
    with transaction.atomic():
        removed = 0
        for device in devices_for_user(user, confirmed=None):
            device.delete()
            removed += 1
        record(organization=organization, actor=actor, action="auth.two_factor_reset", obj=user, detail={})
    return removed


# Pages a logged-in session reaches before its code is accepted (url names in the staff namespace).
OPEN_BEFORE_CODE = frozenset(
    {
        "login",
        "logout",
        "two_factor_verify",
        "two_factor",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
    }
)


# The passkey steps of the login (accounts/passkeys.py); adding a passkey needs the second factor passed.
PASSKEY_BEFORE_CODE = frozenset(
    {"credential-authentication-begin", "credential-authentication-complete", "js-i18n-catalog"}
)

NOT_NEEDED_AT = "two_factor_not_needed_at"  # session key: UTC epoch seconds of the last check
RECHECK_SECONDS = 300


class TwoFactorMiddleware:
    """Sends a logged-in session that has not passed its second factor from any page under /staff/ or /admin/
    to the code page (when the user has a second factor) or to the set-up page (when they must have one and
    do not yet). Runs after django_otp's OTPMiddleware. See the module's docstring."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils.http import urlencode

        path = request.path
        if not (path.startswith("/staff/") or path.startswith("/admin/")):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        match = request.resolver_match
        if match is not None and (
            (match.namespace == "staff" and match.url_name in OPEN_BEFORE_CODE)
            or (match.namespace == "admin" and match.url_name in {"login", "logout"})
            or (match.namespace == "otp_webauthn" and match.url_name in PASSKEY_BEFORE_CODE)
        ):
            return None
        if user.is_verified():
            return None
        # A member who neither has nor needs a second factor: asked again every RECHECK_SECONDS (a role or a
        # policy changed meanwhile applies within minutes), not on every page.
        now = int(time.time())
        checked = request.session.get(NOT_NEEDED_AT)
        if isinstance(checked, int) and 0 <= now - checked < RECHECK_SECONDS:
            return None
        if is_enabled(user):
            target = reverse("staff:two_factor_verify")
        elif is_required(user):
            target = reverse("staff:two_factor")
        else:
            request.session[NOT_NEEDED_AT] = now
            return None
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)
