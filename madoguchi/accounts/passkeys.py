"""パスキー (WebAuthn) as a staff member's second factor, beside the authenticator app: at login, after the
password, a passkey on this PC or phone (fingerprint, face, PIN or a security key) instead of the 6-digit
code. Built on django-otp-webauthn (its credentials are django-otp devices, so the rest of the 2段階認証 rules
in accounts/two_factor.py apply to them unchanged).

Our rules on top of the library's:
- a passkey is added only by a member who already has the authenticator app (so the recovery codes exist),
  in a login that has passed its second factor, after 本人確認 (reauth.is_recent);
- a passkey never replaces the password (no passwordless login: OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN off);
- the relying party is this site as the browser reached it: the host (already checked against
  ALLOWED_HOSTS) and the scheme of the request, so no setting is needed and a phishing site's origin never
  matches (W3C WebAuthn Level 3 §5.1.4 / §7.1: the origin and RP ID checks);
- adding, removing, using and failing a passkey are audited like the other second factors.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils.translation import gettext, gettext_lazy
from django.views.i18n import JavaScriptCatalog
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn import views as webauthn_views
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from madoguchi.accounts import reauth, two_factor
from madoguchi.lib.client import client_address


class SiteWebAuthnHelper(WebAuthnHelper):
    """The relying party is the host the request came to (ALLOWED_HOSTS has vetted it)."""

    def get_relying_party_domain(self) -> str:
        domain, _port = split_domain_port(self.request.get_host())
        return domain

    def get_relying_party_name(self) -> str:
        from django.conf import settings

        return settings.SITE_NAME

    def get_allowed_origins(self) -> list[str]:
        scheme = "https" if self.request.is_secure() else "http"
        return [f"{scheme}://{self.request.get_host()}"]

    def authenticate_begin(self, user=None, require_user_verification: bool = True):
        # The device must check its user (fingerprint, face, PIN), as the page says, also after the password:
        # a passkey taken along with an unlocked PC is not enough.
        return super().authenticate_begin(user=user, require_user_verification=True)


class NeedsAppFirst(webauthn_errors.OTPWebAuthnApiError):
    status_code = 403
    default_detail = gettext_lazy("パスキーは、認証アプリの2段階認証を設定してから追加できます。")
    default_code = "needs_app_first"


class NeedsReauth(webauthn_errors.OTPWebAuthnApiError):
    status_code = 403
    default_detail = gettext_lazy(
        "本人確認の有効時間が過ぎました。ページを開き直して、もう一度お試しください。"
    )
    default_code = "needs_reauth"


def credentials_of(user) -> list[WebAuthnCredential]:
    """The member's own passkeys, newest first."""
    return list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("-created_at", "-pk"))


def has_passkey(user) -> bool:
    return user.is_authenticated and WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def remove(request: HttpRequest, credential_id: int | None) -> bool:
    """Delete one of the member's own passkeys (False: none of theirs has that id); audited. This login
    stays verified when it was the passkey it was verified with (it passed its second factor; other
    logins that used that passkey are asked for a code again)."""
    user = request.user
    used_here = getattr(user, "otp_device", None)
    with transaction.atomic():
        credential = WebAuthnCredential.objects.filter(user=user, pk=credential_id).first()
        if credential is None:
            return False
        this_login = used_here is not None and used_here.persistent_id == credential.persistent_id
        credential.delete()
        two_factor.record_for_user(user, "auth.passkey_removed", {"credential": credential_id})
    if this_login:
        app = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if app is not None:
            otp_login(request, app)
    return True


class _AddCheck:
    def check_can_register(self):
        user = self.get_user()
        if not two_factor.has_app(user):
            raise NeedsAppFirst()
        if not user.is_verified() or not reauth.is_recent(self.request):
            raise NeedsReauth()


class BeginRegistration(_AddCheck, webauthn_views.BeginCredentialRegistrationView):
    pass


class CompleteRegistration(_AddCheck, webauthn_views.CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            credential = WebAuthnCredential.objects.filter(user=self.request.user).order_by("-pk").first()
            if credential is not None:
                number = WebAuthnCredential.objects.filter(user=self.request.user).count()
                credential.name = f"パスキー {number}"
                credential.save(update_fields=["name"])
                two_factor.record_for_user(
                    self.request.user, "auth.passkey_added", {"credential": credential.pk}
                )
                messages.success(self.request, gettext("パスキーを追加しました。次のログインから使えます。"))
        return response


class BeginAuthentication(webauthn_views.BeginCredentialAuthenticationView):
    pass


class CompleteAuthentication(webauthn_views.CompleteCredentialAuthenticationView):
    """The passkey shown after the password: the session is verified as by a code; a failure is audited."""

    def handle_exception(self, exc):
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated:
            two_factor.record_for_user(
                user, "auth.two_factor_failed", {"client": client_address(self.request), "method": "passkey"}
            )
        return super().handle_exception(exc)

    def get_success_url(self):
        from madoguchi.accounts.two_factor_views import next_page

        return next_page(self.request)


# The library's script speaks through gettext: its messages in Japanese come from the project's djangojs
# catalog (madoguchi/locale/ja: LOCALE_PATHS are read for every domain), English from the library's own.
catalog = JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])
