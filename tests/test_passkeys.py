"""パスキー's server-side rules (accounts/passkeys.py); the ceremony itself in Chromium is
tests/browser/test_passkeys.py. A passkey is added only beside the authenticator app, in a login that passed
its second factor, after 本人確認; never instead of the password; a member removes only their own."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from madoguchi.accounts import reauth
from madoguchi.audit.models import AuditLog
from tests.test_two_factor import _password, _set_up

pytestmark = pytest.mark.django_db

BEGIN_REGISTER = reverse("otp_webauthn:credential-registration-begin")
BEGIN_VERIFY = reverse("otp_webauthn:credential-authentication-begin")


def _credential(user, name="パスキー 1") -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=b"credential-" + name.encode(),
        public_key=b"\x00",
        sign_count=0,
    )


def _post_json(client: Client, url: str):
    return client.post(url, "{}", content_type="application/json")


def test_a_passkey_is_offered_only_beside_the_app_and_after_reauthentication(owner, settings):
    client = Client()
    _password(client, owner)  # an admin: sent to set up the app first
    refused = _post_json(client, BEGIN_REGISTER)
    assert refused.status_code in (302, 403)  # before the app: the set-up page, or the library's refusal
    _set_up(client, owner)
    page = client.get(reverse("staff:two_factor")).content.decode()
    assert "パスキーを追加する" in page and "passkey-register-button" not in page  # no script yet
    offered = client.post(reverse("staff:two_factor"), {"action": "passkey_add"}).content.decode()
    assert 'id="passkey-register-button"' in offered and "otp_webauthn_register.js" in offered
    begun = _post_json(client, BEGIN_REGISTER)
    assert begun.status_code == 200 and begun.json()["rp"]["id"] == "testserver"
    # 本人確認 too old: the page asks for the password again, and the JSON step refuses in Japanese.
    session = client.session
    session[reauth.CONFIRMED_AT] = 0
    session.save()
    assert (
        "パスワード" in client.post(reverse("staff:two_factor"), {"action": "passkey_add"}).content.decode()
    )
    stale = _post_json(client, BEGIN_REGISTER)
    assert stale.status_code == 403 and "本人確認" in stale.json()["detail"]


def test_without_the_app_no_passkey_can_be_added(viewer):
    client = Client()
    _password(client, viewer)  # a viewer needs no second factor and has none
    response = _post_json(client, BEGIN_REGISTER)
    assert response.status_code == 403 and "認証アプリ" in response.json()["detail"]
    assert not WebAuthnCredential.objects.exists()


def test_the_code_page_offers_a_passkey_to_a_member_who_has_one_and_its_steps_open_before_the_code(owner):
    _set_up(Client(), owner)
    client = Client()
    _password(client, owner)
    page = client.get(reverse("staff:two_factor_verify")).content.decode()
    assert "確認コードの入力" in page and "passkey-verification-button" not in page
    _credential(owner)
    client = Client()
    _password(client, owner)
    page = client.get(reverse("staff:two_factor_verify")).content.decode()
    assert 'id="passkey-verification-button"' in page and "otp_webauthn_auth.js" in page
    begun = _post_json(client, BEGIN_VERIFY)  # reachable before the code: it is the code's alternative
    assert begun.status_code == 200
    assert begun.json()["userVerification"] == "required"  # the device checks its user (fingerprint, PIN)
    assert [c["id"] for c in begun.json()["allowCredentials"]]  # only this member's passkeys are offered
    # Staff pages stay closed until it (or the code) is passed.
    assert client.get(reverse("staff:home"))["Location"].startswith(reverse("staff:two_factor_verify"))


def test_no_passkey_login_without_the_password():
    response = _post_json(Client(), BEGIN_VERIFY)
    assert response.status_code == 403
    assert json.loads(response.content)["code"] in (
        "passwordless_login_disabled",
        "passwordless-login-disabled",
    )


def test_a_member_removes_their_own_passkey_and_only_their_own(owner, colleague):
    client = Client()
    _set_up(client, owner)
    mine = _credential(owner, "パスキー 1")
    theirs = _credential(colleague, "パスキー 2")
    page = client.get(reverse("staff:two_factor")).content.decode()
    assert "パスキー 1を削除する" in page and "パスキー 2" not in page
    other = client.post(reverse("staff:two_factor"), {"action": "passkey_remove", "credential": theirs.pk})
    assert other.status_code == 404 and WebAuthnCredential.objects.filter(pk=theirs.pk).exists()
    for forged in ("", "abc", "１", "9" * 30):
        response = client.post(
            reverse("staff:two_factor"), {"action": "passkey_remove", "credential": forged}
        )
        assert response.status_code == 404
    done = client.post(reverse("staff:two_factor"), {"action": "passkey_remove", "credential": mine.pk})
    assert done.status_code == 302 and not WebAuthnCredential.objects.filter(pk=mine.pk).exists()
    assert AuditLog.objects.filter(action="auth.passkey_removed").exists()


def test_the_passkey_scripts_speak_japanese_and_english(client):
    catalog = client.get(reverse("otp_webauthn:js-i18n-catalog")).content.decode()
    assert (
        "\\u30d1\\u30b9\\u30ad\\u30fc\\u3092\\u8ffd\\u52a0\\u3057\\u307e\\u3057\\u305f" in catalog
    )  # パスキーを追加しました
    client.cookies["django_language"] = "en"
    english = client.get(reverse("otp_webauthn:js-i18n-catalog"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "\\u30d1\\u30b9\\u30ad\\u30fc" not in english  # the library's own English


def test_removing_the_passkey_this_login_used_keeps_this_login(owner):
    from django_otp import DEVICE_ID_SESSION_KEY

    client = Client()
    _set_up(client, owner)
    used = _credential(owner)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = used.persistent_id  # this login passed its second factor with it
    session.save()
    assert client.get(reverse("staff:home")).status_code == 200
    removed = client.post(reverse("staff:two_factor"), {"action": "passkey_remove", "credential": used.pk})
    assert removed.status_code == 302 and removed["Location"] == reverse("staff:two_factor")
    page = client.get(reverse("staff:two_factor"))
    assert page.status_code == 200 and "パスキーを削除しました。" in page.content.decode()
