"""本人確認 (#11 point 2): past STAFF_REAUTH_SECONDS after the password was typed, exports of personal data and
changes of a member's role ask for the password again (and the app's code, for a member who has one); what was
chosen is carried through; a wrong password is refused, counted and audited."""

import time

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi.accounts import reauth
from madoguchi.accounts.models import Membership, Role
from madoguchi.audit.models import AuditLog
from tests.conftest import PASSWORD, make_submission, make_user

pytestmark = pytest.mark.django_db


def _stale(client, settings) -> None:
    session = client.session
    session[reauth.CONFIRMED_AT] = int(time.time()) - settings.STAFF_REAUTH_SECONDS - 5
    session.save()


def test_a_fresh_login_exports_at_once(client, colleague, procedure):
    make_submission(procedure)
    client.force_login(colleague)
    response = client.get(reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk}))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")


def test_a_stale_login_confirms_the_password_before_a_csv_and_keeps_its_options(
    client, colleague, procedure, settings, tottori
):
    make_submission(procedure)
    client.force_login(colleague)
    _stale(client, settings)
    url = (
        reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk}) + "?encoding=cp932&purpose=systems"
    )
    page = client.get(url)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "本人確認" in page.content.decode() and "確認コード" not in page.content.decode()
    assert not AuditLog.objects.filter(action="submission.export").exists()
    wrong = client.post(url, {"_reauth": "1", "_reauth_method": "GET", "_reauth_password": "nope"})
    assert wrong.status_code == 400 and "パスワードが正しくありません" in wrong.content.decode()
    assert AuditLog.objects.filter(organization=tottori, action="auth.login_failed").exists()
    empty = client.post(url, {"_reauth": "1", "_reauth_method": "GET", "_reauth_password": ""})
    assert empty.status_code == 400 and "パスワードを入力してください" in empty.content.decode()
    ok = client.post(url, {"_reauth": "1", "_reauth_method": "GET", "_reauth_password": PASSWORD})
    # The file is offered from a page that says the confirmation is done (a download leaves the browser on
    # the page it is on: the confirmation page must not stay up).
    assert ok.status_code == 200 and "本人確認ができました" in ok.content.decode()
    assert f'href="{url.replace("&", "&amp;")}"' in ok.content.decode()
    csv = client.get(url)
    assert csv["Content-Type"].startswith("text/csv") and "shift_jis" in csv["Content-Type"].lower()
    # Confirmed for the next 15 minutes: the .xlsx goes at once.
    xlsx = client.get(reverse("staff:export_xlsx", kwargs={"procedure_id": procedure.pk}))
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_a_selection_export_carries_the_selection_through_the_confirmation(
    client, colleague, procedure, settings
):
    first, second, third = (make_submission(procedure).submission for _ in range(3))
    client.force_login(colleague)
    _stale(client, settings)
    url = reverse("staff:inbox_bulk", kwargs={"procedure_id": procedure.pk})
    page = client.post(url, {"ids": [first.pk, third.pk], "action": "csv"})
    html = page.content.decode()
    assert "本人確認" in html and f'name="ids" value="{first.pk}"' in html and f'value="{third.pk}"' in html
    carried = {"ids": [first.pk, third.pk], "action": "csv"}
    done = client.post(
        url, {**carried, "_reauth": "1", "_reauth_method": "POST", "_reauth_password": PASSWORD}
    )
    assert "本人確認ができました" in done.content.decode() and f'value="{third.pk}"' in done.content.decode()
    response = client.post(url, carried)
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert first.display_receipt_number in body and second.display_receipt_number not in body


def test_a_role_change_asks_too_and_a_member_with_an_app_gives_its_code(client, owner, tottori, settings):
    member = make_user("yamada", tottori, Role.VIEWER)
    device = TOTPDevice.objects.create(user=owner, name="app", confirmed=True)
    client.force_login(owner)
    _stale(client, settings)
    membership = Membership.objects.get(user=member)
    url = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    assert client.get(url).status_code == 200  # the form itself: no confirmation to look at it
    page = client.post(url, {"role": Role.PROCESSOR})
    assert "本人確認" in page.content.decode() and "確認コード" in page.content.decode()
    no_code = client.post(
        url, {"role": Role.PROCESSOR, "_reauth": "1", "_reauth_method": "POST", "_reauth_password": PASSWORD}
    )
    assert no_code.status_code == 400 and "確認コードを入力してください" in no_code.content.decode()
    assert 'id="reauth-code-error"' in no_code.content.decode()  # the message is at the code's box
    code = f"{TOTP(device.bin_key).token():06d}"
    done = client.post(
        url,
        {
            "role": Role.PROCESSOR,
            "_reauth": "1",
            "_reauth_method": "POST",
            "_reauth_password": PASSWORD,
            "_reauth_code": code,
        },
    )
    assert done.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.PROCESSOR


def test_an_outsider_gets_404_not_the_confirmation(client, outsider, procedure, settings):
    client.force_login(outsider)
    _stale(client, settings)
    assert client.get(reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})).status_code == 404


def test_changing_ones_own_second_factor_asks_too(client, colleague, settings):
    TOTPDevice.objects.create(user=colleague, name="app", confirmed=True)
    client.force_login(colleague)
    _stale(client, settings)
    page = client.post(reverse("staff:two_factor"), {"action": "off"})
    assert "本人確認" in page.content.decode()
    assert TOTPDevice.objects.filter(user=colleague).exists()
