"""A session that ends anywhere in the resident's path loses no answer: the signed 確認画面 refills the form
(only files are asked for again, by name), and each page of a form with pages carries the others' answers."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from madoguchi.lib.receipt import stored_token
from madoguchi.procedures.services import save_form_version
from madoguchi.submissions import resident_views
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Attachment, Submission
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_POST, hidden_fields, make_procedure

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
    b"\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8\x00\x00\x00\x00IEND\xaeB`\x82"
)

FILE_SCHEMA = {
    "email_field": "email",
    "fields": [
        *ALL_TYPES_SCHEMA["fields"][1:-2],
        {"key": "doc", "type": "file", "label": "本人確認書類", "required": True, "allowed_types": ["png"]},
        {"key": "agree", "type": "consent", "label": "同意します", "required": True},
    ],
}

ANSWERS = {
    "title": "ＡＢＣ１２３",
    "body": "一行目\r\n二行目",
    "count": "１２",
    "email": "taro@example.jp",
    "phone": "090-1234-5678",
    "address__postal": "〒６８０－８５７０",
    "address__address": "鳥取市東町一丁目220",
    "name__family": "山﨑",
    "name__given": "太郎",
    "kana": "ﾔﾏｻﾞｷ ﾀﾛｳ",
    "birthday": "令和元年5月1日",
    "gender": "乙",
    "topics": ["介護", "子育て"],
    "area": "中部",
    "agree": "1",
}

PAGED_SCHEMA = {
    "email_field": "email",
    "pages": [
        {"key": "who", "title": "申請する人", "fields": ["name", "email"]},
        {"key": "what", "title": "内容", "fields": ["note", "topics"]},
        {"key": "agree", "title": "同意", "fields": ["agree"]},
    ],
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "note", "type": "long_text", "label": "ご意見", "required": True},
        {"key": "topics", "type": "multiple_choice", "label": "関心", "options": ["子育て", "介護", "防災"]},
        {"key": "agree", "type": "consent", "label": "同意します", "required": True},
    ],
}  # fmt: skip


def form_url(procedure, page=None):
    url = reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})
    return f"{url}?page={page}" if page else url


def confirm_url(procedure):
    return reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


def post_form(client, procedure, data):
    return client.post(form_url(procedure), {"version": procedure.current_version_id, **data})


def end_the_session(client):
    """The session has expired: its row is gone and the browser has dropped its cookie (both last
    SESSION_COOKIE_AGE)."""
    Session.objects.all().delete()
    client.cookies.pop(settings.SESSION_COOKIE_NAME, None)


def png(name="免許証.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def test_a_session_ended_on_the_confirmation_page_of_a_form_with_a_file_keeps_every_other_answer(
    client, tottori
):
    procedure = make_procedure(tottori, FILE_SCHEMA, title="全項目")
    assert post_form(client, procedure, {**ANSWERS, "doc": png()}).status_code == 302
    confirmed = hidden_fields(client.get(confirm_url(procedure)).content.decode())
    end_the_session(client)

    response = client.post(confirm_url(procedure), confirmed)
    assert response.status_code == 302 and response["Location"] == form_url(procedure)
    assert Submission.objects.count() == 0
    response = client.get(form_url(procedure))
    page = response.content.decode()
    assert "添付ファイルの保存期限が切れました" in page and "「本人確認書類」" in page
    assert "このファイルをもう一度選んでください" in page  # next to the field itself
    for shown in ('value="ＡＢＣ１２３"', "一行目\n二行目", 'value="12"', 'value="taro@example.jp"',
                  'value="090-1234-5678"', 'value="680-8570"', 'value="鳥取市東町一丁目220"',
                  'value="山﨑"', 'value="太郎"', 'value="ヤマザキ\u3000タロウ"', 'value="乙" checked',
                  'value="介護" checked', 'value="子育て" checked'):  # fmt: skip
        assert shown in page, shown

    # The file chosen again, the rest as shown: received with every answer and the file.
    assert post_form(client, procedure, {**ANSWERS, "doc": png("再.png")}).status_code == 302
    client.post(confirm_url(procedure), hidden_fields(client.get(confirm_url(procedure)).content.decode()))
    answers = read_answers(Submission.objects.get())
    assert answers["name"] == {"family": "山﨑", "given": "太郎"}
    assert answers["birthday"] == "2019-05-01" and answers["topics"] == ["子育て", "介護"]
    assert Attachment.objects.get().original_name == "再.png"


def test_going_back_from_the_confirmation_page_after_the_session_ended_keeps_every_answer(client, tottori):
    """「入力画面に戻って修正する」 posts the page's signed answers: with the session gone they refill the form."""
    procedure = make_procedure(tottori, FILE_SCHEMA, title="全項目")
    assert post_form(client, procedure, {**ANSWERS, "doc": png()}).status_code == 302
    page = client.get(confirm_url(procedure)).content.decode()
    assert 'name="edit"' in page and "入力画面に戻って修正する" in page
    confirmed = hidden_fields(page)
    end_the_session(client)

    response = client.post(confirm_url(procedure), {**confirmed, "edit": "1"})
    assert response.status_code == 302 and response["Location"] == form_url(procedure)
    assert Submission.objects.count() == 0  # going back never submits
    page = client.get(form_url(procedure)).content.decode()
    for shown in ('value="ＡＢＣ１２３"', 'value="taro@example.jp"', 'value="山﨑"', 'value="介護" checked'):
        assert shown in page, shown
    assert "このファイルをもう一度選んでください" in page  # the file was this session's: chosen again


def test_a_confirmation_page_sent_after_every_cookie_was_deleted_leads_back_with_the_answers(tottori):
    """Cookies deleted (the CSRF cookie too): the post is refused, and the refusal page offers the page's
    own signed answers back with a fresh token; one button returns to the filled form. Nothing is sent."""
    import re

    from django.test import Client

    resident = Client(enforce_csrf_checks=True)
    procedure = make_procedure(tottori, FILE_SCHEMA, title="全項目")
    page = resident.get(form_url(procedure)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    data = {"version": procedure.current_version_id, "csrfmiddlewaretoken": token, **ANSWERS, "doc": png()}
    assert resident.post(form_url(procedure), data).status_code == 302
    confirmed = hidden_fields(resident.get(confirm_url(procedure)).content.decode())
    resident.cookies.clear()

    refused = resident.post(confirm_url(procedure), confirmed)
    page = refused.content.decode()
    assert refused.status_code == 403 and "入力した内容は残っています" in page
    form = hidden_fields(page)
    assert form["confirmed"] == confirmed["confirmed"] and form["csrfmiddlewaretoken"] != confirmed.get(
        "csrfmiddlewaretoken"
    )
    back = resident.post(confirm_url(procedure), {**form, "edit": "1"})
    assert back.status_code == 302 and back["Location"] == form_url(procedure)
    page = resident.get(form_url(procedure)).content.decode()
    assert 'value="山﨑"' in page and 'value="taro@example.jp"' in page
    assert Submission.objects.count() == 0
    # A forged or foreign payload is not passed on.
    resident.cookies.clear()
    forged = resident.post(confirm_url(procedure), {**confirmed, "confirmed": "x" + confirmed["confirmed"]})
    assert forged.status_code == 403 and "入力した内容は残っています" not in forged.content.decode()


def test_going_back_from_the_confirmation_page_within_the_session_keeps_the_file(client, tottori):
    procedure = make_procedure(tottori, FILE_SCHEMA, title="全項目")
    post_form(client, procedure, {**ANSWERS, "doc": png()})
    confirmed = hidden_fields(client.get(confirm_url(procedure)).content.decode())
    response = client.post(confirm_url(procedure), {**confirmed, "edit": "1"})
    assert response.status_code == 302 and Submission.objects.count() == 0
    page = client.get(form_url(procedure)).content.decode()
    assert 'value="山﨑"' in page and "免許証.png" in page and "もう一度選んでください" not in page


def test_a_form_with_pages_keeps_the_earlier_pages_when_the_session_ends_between_steps(client, tottori):
    procedure = make_procedure(tottori, PAGED_SCHEMA, title="ページ")
    version = procedure.current_version_id
    client.post(form_url(procedure), {"version": version, "page": "who", "name__family": "髙橋",
                                      "name__given": "﨑子", "email": "sakiko@example.jp"})  # fmt: skip
    page_two = hidden_fields(client.get(form_url(procedure, "what")).content.decode())
    assert page_two.get("carry")
    end_the_session(client)
    response = client.post(form_url(procedure), {**page_two, "note": "二ページ目", "topics": ["防災"]})
    assert response["Location"] == form_url(procedure, "agree")
    page_three = hidden_fields(client.get(form_url(procedure, "agree")).content.decode())
    end_the_session(client)
    response = client.post(form_url(procedure), {**page_three, "agree": "1"})
    assert response["Location"] == confirm_url(procedure)
    page = client.get(confirm_url(procedure)).content.decode()
    assert "髙橋" in page and "sakiko@example.jp" in page and "二ページ目" in page and "防災" in page


def test_a_forged_carry_is_ignored(client, tottori):
    from django.core import signing

    procedure = make_procedure(tottori, PAGED_SCHEMA, title="ページ")
    forged = signing.dumps({"p": procedure.pk, "v": procedure.current_version_id,
                            "raw": {"name__family": "偽"}}, key="not-the-server-key",
                           salt=resident_views.CARRY_SALT, compress=True)  # fmt: skip
    client.post(form_url(procedure), {"version": procedure.current_version_id, "page": "what",
                                      "carry": forged, "note": "本文"})  # fmt: skip
    assert "偽" not in client.get(form_url(procedure, "who")).content.decode()


def test_a_session_ended_while_the_form_was_open_keeps_what_the_form_sends(client, procedure):
    client.get(form_url(procedure))
    end_the_session(client)
    response = post_form(client, procedure, {**SIGNUP_POST, "phone": "12345"})
    assert response.status_code == 302
    page = client.get(form_url(procedure)).content.decode()
    assert 'value="髙橋"' in page and 'value="12345"' in page and "電話番号" in page


def test_a_confirmation_page_too_old_to_send_refills_the_form_instead(client, procedure, monkeypatch):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = hidden_fields(client.get(confirm_url(procedure)).content.decode())
    end_the_session(client)
    monkeypatch.setattr(resident_views, "CONFIRMED_MAX_AGE", -1)
    response = client.post(confirm_url(procedure), confirmed, follow=True)
    page = response.content.decode()
    assert Submission.objects.count() == 0
    assert "確認画面を開いてから時間が経ったため" in page
    assert 'value="髙橋"' in page and 'value="0857-20-3111"' in page and 'value="sakiko@example.jp"' in page
    monkeypatch.setattr(resident_views, "CONFIRMED_MAX_AGE", 24 * 60 * 60)
    assert post_form(client, procedure, SIGNUP_POST).status_code == 302
    client.post(confirm_url(procedure), hidden_fields(client.get(confirm_url(procedure)).content.decode()))
    assert Submission.objects.get().token == stored_token(confirmed["token"])  # the same application


def test_a_new_version_of_the_form_after_the_session_ended_keeps_the_answers(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = hidden_fields(client.get(confirm_url(procedure)).content.decode())
    end_the_session(client)
    schema = procedure.current_version.spec.model_dump(mode="json", exclude_none=True)
    schema["fields"].append({"key": "memo", "type": "short_text", "label": "備考"})
    save_form_version(procedure=procedure, schema=schema)
    procedure.refresh_from_db()
    page = client.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    assert Submission.objects.count() == 0
    assert 'value="髙橋"' in page and 'value="sakiko@example.jp"' in page and "備考" in page
