"""The resident pages in English: chosen by the browser or by the switcher in the header, with no JavaScript.

Japanese stays the default. What staff wrote (titles, labels, options) is shown as written, and the staff
pages, with the e-mails they send, stay in Japanese whatever the browser asks for.
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.submissions.models import Status, Submission
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_POST, make_procedure
from tests.test_resident_flow import all_types_post, confirm_url, form_url, post_form

pytestmark = pytest.mark.django_db

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
CATALOGUE = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES"


def english_client(**defaults) -> Client:
    return Client(**ENGLISH, **defaults)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_japanese_is_the_default_without_a_language_header(client, procedure, council):
    page = client.get("/").content.decode()
    assert '<html lang="ja">' in page
    assert "オンラインでできる手続" in page and "市町村から探す" in page
    assert "Services you can apply for online" not in page


@pytest.mark.parametrize("header", ["en", "en-GB,en;q=0.9", "en-US,ja;q=0.5"])
def test_home_page_is_in_english_when_the_browser_prefers_it(procedure, council, header):
    page = Client(HTTP_ACCEPT_LANGUAGE=header).get("/", {"q": "スマートフォン"}).content.decode()
    assert '<html lang="en">' in page
    assert "Services you can apply for online" in page
    assert "1 result for “スマートフォン”" in page
    assert "Find by municipality" in page
    assert "Check application status" in page
    # Names of places, councils and services are shown as they are.
    assert "シニア向けスマートフォン教室" in page and "鳥取市" in page
    assert (
        "このサービスは" not in page
        and "This service is run jointly by 鳥取県自治体ICT共同化推進協議会" in page
    )


def test_an_unsupported_language_falls_back_to_japanese(procedure):
    page = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/").content.decode()
    assert '<html lang="ja">' in page and "オンラインでできる手続" in page


def test_form_page_is_in_english_and_keeps_the_labels_staff_wrote(procedure):
    page = english_client().get(form_url(procedure)).content.decode()
    assert "1. Fill in" in page and "2. Check" in page
    assert "Family name" in page and "Given name" in page
    assert '<span class="required">Required</span>' in page
    assert ">Continue</button>" in page
    for label in (
        "氏名",
        "ふりがな",
        "電話番号",
        "メールアドレス",
        "希望する回",
        "注意事項に同意します",
        "午前",
    ):
        assert label in page
    assert "シニア向けスマートフォン教室" in page
    assert "入力内容を確認する" not in page and "必須" not in page


def test_validation_errors_are_in_english_and_keep_what_was_typed(tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    resident = english_client()
    data = all_types_post(name__family="", name__given="", address__postal="68-857")
    response = post_form(resident, procedure, data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "<title>Error: 全項目 – fill in the form" in page
    assert "There are problems with 2 answers" in page
    assert "氏名: Enter “氏名”" in page  # the label as staff wrote it, the message in English
    assert "住所: Enter a postal code of 7 digits, like 680-8570" in page
    assert '<span class="visually-hidden">Error: </span>' in page
    assert "入力してください" not in page and "入力内容を確認してください" not in page
    assert 'value="68-857"' in page and 'value="鳥取市東町一丁目220"' in page


def test_one_error_reads_in_the_singular(procedure):
    response = post_form(english_client(), procedure, {**SIGNUP_POST, "phone": "12345"})
    page = response.content.decode()
    assert "There is a problem with 1 answer" in page
    assert "Enter a phone number of 10 or 11 digits starting with 0, like 0857-26-7111" in page


def test_bad_file_is_explained_in_english(tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("a.exe", b"MZ" + b"0" * 50)
    page = post_form(english_client(), procedure, {**all_types_post(), "doc": upload}).content.decode()
    assert "This type of file cannot be attached. Choose a PDF or PNG file" in page
    assert "PDF or PNG, up to 1 MB" in page


def test_confirmation_and_completion_pages_are_in_english(procedure):
    resident = english_client()
    assert post_form(resident, procedure, SIGNUP_POST).status_code == 302
    page = resident.get(confirm_url(procedure)).content.decode()
    assert "<h1>Check your answers</h1>" in page
    assert "Your application has not been sent yet." in page
    assert ">Submit application</button>" in page
    assert "Go back and change your answers" in page
    assert "<dt>氏名</dt><dd>髙橋\u3000﨑子</dd>" in page  # staff's label, the resident's answer
    assert Submission.objects.count() == 0

    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    page = resident.post(confirm_url(procedure), {"token": token}, follow=True).content.decode()
    submission = Submission.objects.get()
    assert "<h1>Application received</h1>" in page
    receipt = submission.display_receipt_number
    assert (
        f'<dt>Reference number</dt><dd class="receipt-number" data-testid="receipt-number">{receipt}</dd>'
        in page
    )
    assert "<dt>Inquiry code</dt>" in page
    assert "The email is in Japanese." in page
    assert "申請を受け付けました" not in page


def test_status_page_shows_the_status_and_messages_in_english(client, procedure, colleague):
    from madoguchi.submissions import services

    post_form(client, procedure, SIGNUP_POST)
    page = client.get(confirm_url(procedure)).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    page = client.post(confirm_url(procedure), {"token": token}, follow=True).content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', page).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', page).group(1)

    resident = english_client()
    wrong = resident.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": "AAAA-AAAA"})
    assert (
        "We could not find an application with that reference number and inquiry code."
        in wrong.content.decode()
    )
    resident.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": code})
    submission = Submission.objects.get()
    services.transition(
        submission=submission, to_status=Status.RETURNED, actor=colleague, reason="写しが不鮮明"
    )
    page = resident.get(reverse("public:status_view")).content.decode()
    assert (
        '<strong class="status status-returned" data-testid="status">Returned for correction</strong>' in page
    )
    assert "写しが不鮮明" in page  # the reason the department wrote
    assert "Correct your answers" in page and "Withdraw application" in page

    response = resident.post(reverse("public:status_withdraw"), {"reason": ""}, follow=True)
    assert "Enter a reason for withdrawing." in response.content.decode()


def test_closed_procedure_says_so_in_english(procedure):
    from madoguchi.procedures.models import Procedure

    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.CLOSED)
    page = english_client().get(form_url(procedure)).content.decode()
    assert "This service is closed for applications." in page


def test_language_switcher_works_without_javascript(procedure):
    resident = Client(enforce_csrf_checks=True)
    page = resident.get("/312011/").content.decode()
    switcher = re.search(r'<form class="language-switch".*?</form>', page, re.S).group(0)
    assert 'method="post" action="/i18n/setlang/"' in switcher
    assert '<input type="hidden" name="next" value="/312011/">' in switcher
    assert (
        '<button type="submit" class="link-button" name="language" value="en" lang="en">English</button>'
        in switcher
    )
    assert 'aria-current="true">日本語</span>' in switcher

    response = resident.post(
        "/i18n/setlang/", {"csrfmiddlewaretoken": csrf_token(page), "language": "en", "next": "/312011/"}
    )
    assert response.status_code == 302 and response["Location"] == "/312011/"
    page = resident.get("/312011/").content.decode()
    assert '<html lang="en">' in page and "Online services from 鳥取市" in page
    # The choice is kept: the next pages are in English too, with a way back to Japanese.
    page = resident.get(form_url(procedure)).content.decode()
    assert ">Continue</button>" in page
    assert 'name="language" value="ja" lang="ja">日本語</button>' in page

    resident.post(
        "/i18n/setlang/",
        {"csrfmiddlewaretoken": csrf_token(page), "language": "ja", "next": form_url(procedure)},
    )
    page = resident.get(form_url(procedure)).content.decode()
    assert '<html lang="ja">' in page and ">入力内容を確認する</button>" in page


def test_switcher_choice_wins_over_the_browser_language(procedure):
    resident = english_client()
    resident.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    page = resident.get("/").content.decode()
    assert '<html lang="ja">' in page and "オンラインでできる手続" in page


def test_switcher_never_sends_the_resident_to_another_site(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_switcher_keeps_the_search_on_the_page(client, procedure):
    page = client.get("/", {"q": "教室"}).content.decode()
    assert '<input type="hidden" name="next" value="/?q=%E6%95%99%E5%AE%A4">' in page


def test_staff_pages_and_their_emails_stay_japanese_for_an_english_browser(procedure, submission, colleague):
    staff = english_client()
    staff.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    staff.force_login(colleague)
    page = staff.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).content.decode()
    assert '<html lang="ja">' in page and "処理待ち" in page
    assert "Received" not in page and "language-switch" not in page

    url = reverse("staff:transition", kwargs={"submission_id": submission.pk})
    page = staff.post(url, {"to": Status.RETURNED, "reason": "写しが不鮮明"}, follow=True).content.decode()
    assert "状態を「返却中」に変更しました。" in page
    email = OutgoingEmail.objects.filter(kind="status_returned").get()
    assert email.subject.startswith("【返却中】")
    assert "「返却中」" in email.body


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural and msgstr[...] joined, and their flags."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and "msgid" in entry:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": set()}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def test_english_catalogue_is_complete_and_compiled():
    entries = po_entries(CATALOGUE / "django.po")
    messages = [e for e in entries if e["msgid"]]
    assert len(messages) > 150
    assert not [e for e in entries if "fuzzy" in e["flags"]]
    untranslated = [
        e["msgid"]
        for e in messages
        if not all(value for key, value in e.items() if key == "msgstr" or key.startswith("msgstr["))
    ]
    assert untranslated == []
    # The .mo is committed too (a fresh machine has no gettext tools) and matches the .po.
    with (CATALOGUE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for e in messages:
        msgid = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            assert compiled.ngettext(msgid, e["msgid_plural"], 2) == e["msgstr[1]"], e["msgid"]
        else:
            assert compiled.gettext(msgid) == e["msgstr"], e["msgid"]
