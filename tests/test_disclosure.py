"""開示請求 and 個人情報ファイル簿 (#11 point 11): an admin finds everything held about a 受付番号 or an e-mail
address and downloads it (after 本人確認, audited); the file register lists each procedure's purpose, items,
retention and records held. Another organization's cases are never found."""

import json

import pytest
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.notifications import services as notify
from madoguchi.submissions import services
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db


def test_an_admin_discloses_everything_held_about_a_receipt_number(
    client, owner, colleague, procedure, tottori
):
    result = make_submission(procedure)
    submission = result.submission
    notify.send_message(submission=submission, author=colleague, body="持ち物をご確認ください。")
    services.add_note(submission=submission, author=colleague, body="電話で確認済み")
    client.force_login(owner)
    url = reverse("staff:privacy_disclosure", kwargs={"code": tottori.code})
    number = submission.display_receipt_number
    typed = number.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))  # full width forgiven
    page = client.post(url, {"query": typed, "action": "search"})
    assert page.status_code == 200 and number in page.content.decode()
    download = client.post(url, {"query": number, "action": "json"})
    assert download["Content-Type"].startswith("application/json")
    document = json.loads(download.content)
    (case,) = document["申請"]
    assert case["受付番号"] == number and case["氏名"] == submission.applicant_name
    assert any(m["本文"] == "持ち物をご確認ください。" for m in case["メッセージ"])
    assert case["回答"] and {"項目", "キー", "回答"} <= set(case["回答"][0])
    assert case["送信したメール"] and case["状態の履歴"]
    assert case["職員メモ（開示するかは団体が判断）"][0]["本文"] == "電話で確認済み"
    entry = AuditLog.objects.get(organization=tottori, action="privacy.disclosure")
    assert entry.detail["receipt_numbers"] == [number] and entry.actor == owner
    assert "髙橋" not in json.dumps(entry.detail, ensure_ascii=False)


def test_an_email_address_finds_every_case_of_it_and_only_this_organizations(
    client, owner, procedure, tottori, yonago
):
    first = make_submission(procedure).submission
    second = make_submission(procedure).submission
    other = make_submission(make_procedure(yonago, title="米子市の教室")).submission
    client.force_login(owner)
    url = reverse("staff:privacy_disclosure", kwargs={"code": tottori.code})
    document = json.loads(
        client.post(url, {"query": first.applicant_email.upper(), "action": "json"}).content
    )
    found = {c["受付番号"] for c in document["申請"]}
    assert {first.display_receipt_number, second.display_receipt_number} <= found
    assert other.display_receipt_number not in found
    # 米子市's number typed into 鳥取市's page: nothing.
    page = client.post(url, {"query": other.display_receipt_number, "action": "search"}).content.decode()
    assert "保有している個人情報はありません" in page


@pytest.mark.parametrize("query", ["", "abc", "x" * 300, "2026-\x00123", "@" * 10])
def test_a_bad_query_gets_a_message_never_a_500(client, owner, tottori, query):
    client.force_login(owner)
    url = reverse("staff:privacy_disclosure", kwargs={"code": tottori.code})
    response = client.post(url, {"query": query, "action": "search"})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "入力してください" in response.content.decode()


def test_a_processor_cannot_and_an_outsider_gets_404(client, colleague, outsider, tottori):
    url = reverse("staff:privacy_disclosure", kwargs={"code": tottori.code})
    client.force_login(colleague)
    assert client.get(url).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_the_file_register_lists_each_procedure(client, owner, procedure, tottori):
    make_submission(procedure)
    make_submission(procedure)
    client.force_login(owner)
    page = client.get(reverse("staff:privacy_register", kwargs={"code": tottori.code})).content.decode()
    assert procedure.title in page and "利用目的" in page and "記録件数" in page and "氏名" in page
    csv = client.get(reverse("staff:privacy_register", kwargs={"code": tottori.code}) + "?format=csv")
    text = csv.content.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("ファイルの名称,保有する機関,利用目的,記録項目")
    assert row.startswith(f"{procedure.title} 申請データ") and row.endswith(",2")
