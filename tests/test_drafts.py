"""一時保存: a resident saves a half-filled form, gets the resume link by e-mail, and finishes it in another
browser; the link works until the draft expires or the application is sent; a job purges old drafts."""

import hashlib
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import drafts
from madoguchi.submissions.models import Submission, SubmissionDraft
from tests.conftest import SIGNUP_POST, hidden_fields, make_procedure

pytestmark = pytest.mark.django_db

NO_EMAIL_SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "note", "type": "long_text", "label": "ご意見"},
        {"key": "doc", "type": "file", "label": "本人確認書類", "allowed_types": ["png"]},
    ],
}

PAGED_SCHEMA = {
    "email_field": "email",
    "pages": [
        {"key": "who", "title": "申請する人", "fields": ["name", "email"]},
        {"key": "what", "title": "内容", "fields": ["note", "count"]},
        {"key": "agree", "title": "同意", "fields": ["agree"]},
    ],
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "note", "type": "long_text", "label": "ご意見", "required": True},
        {"key": "count", "type": "number", "label": "人数"},
        {"key": "agree", "type": "consent", "label": "同意します", "required": True},
    ],
}  # fmt: skip


def form_url(procedure, page=None):
    url = reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})
    return f"{url}?page={page}" if page else url


def draft_url(procedure):
    return reverse("public:draft", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


def confirm_url(procedure):
    return reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


def save_draft(client, procedure, data, **extra):
    return client.post(
        form_url(procedure), {"version": procedure.current_version_id, **data, "save_draft": "1"}, **extra
    )


def resume_link() -> str:
    """The resume link of the latest draft e-mail, as a path the test client can open."""
    email = OutgoingEmail.objects.filter(kind=drafts.EMAIL_KIND).order_by("-pk").first()
    url = re.search(r"https?://\S+", email.body).group(0)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_save_button_is_on_the_form_after_its_main_action(client, procedure):
    page = client.get(form_url(procedure)).content.decode()
    main = page.index("入力内容を確認する")
    assert page.index('name="save_draft"') > main  # Enter still presses the main action
    assert "一時保存する" in page


def test_saving_with_the_forms_own_email_sends_the_link_and_stores_only_a_hash(client, procedure):
    response = save_draft(client, procedure, {**SIGNUP_POST, "phone": "12"})  # an error does not stop it
    assert response.status_code == 302 and response["Location"] == draft_url(procedure) + "?saved=1"
    page = client.get(response["Location"]).content.decode()
    assert "一時保存しました" in page and "sakiko@example.jp" in page and "保存期限" in page

    draft = SubmissionDraft.objects.get()
    assert draft.organization == procedure.organization and draft.procedure == procedure
    assert draft.form_version_id == procedure.current_version_id
    assert draft.email == "sakiko@example.jp"
    assert drafts.draft_content(draft).raw["phone"] == "12"
    assert "sakiko" not in json.dumps(draft.answers_data)  # stored encrypted
    expected = timezone.now() + timedelta(days=procedure.draft_days)
    assert abs((draft.expires_at - expected).total_seconds()) < 60

    email = OutgoingEmail.objects.get(kind="draft")
    assert email.to == "sakiko@example.jp" and email.submission is None
    assert email.subject == "【一時保存】シニア向けスマートフォン教室"
    token = resume_link().split("key=")[1]
    assert draft.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(SubmissionDraft.objects.values().get())
    jst = timezone.localtime(draft.expires_at, timezone=timezone.get_fixed_timezone(9 * 60))
    assert f"{jst.year}年{jst.month}月{jst.day}日" in email.body and "日本時間" in email.body
    assert "鳥取市" in email.body and "添付ファイルは保存されていません" in email.body


def test_a_draft_resumed_in_another_browser_is_finished_there_and_then_deleted(client, procedure):
    save_draft(client, procedure, SIGNUP_POST)
    link = resume_link()

    other = Client()  # another phone: no session, no cookie
    response = other.get(link)
    assert response.status_code == 302 and response["Location"] == form_url(procedure)
    page = other.get(form_url(procedure)).content.decode()
    assert "一時保存した内容を読み込みました" in page
    assert 'value="髙橋"' in page and 'value="﨑子"' in page and 'value="タカハシ　サキコ"' in page

    third = Client()  # the link works more than once, until the application is sent
    assert third.get(link).status_code == 302

    assert (
        other.post(form_url(procedure), {"version": procedure.current_version_id, **SIGNUP_POST}).status_code
        == 302
    )
    done = other.post(
        confirm_url(procedure), hidden_fields(other.get(confirm_url(procedure)).content.decode())
    )
    assert 'data-testid="draft-discarded"' in other.get(done["Location"]).content.decode()
    submission = Submission.objects.get()
    assert submission.applicant_email == "sakiko@example.jp"
    assert not SubmissionDraft.objects.exists()

    gone = Client().get(link)
    assert gone.status_code == 404 and "一時保存した内容を開けません" in gone.content.decode()
    # The first browser holds the same application: its form says it was sent, with the 受付番号.
    page = client.get(form_url(procedure)).content.decode()
    assert 'data-testid="sent-from-here"' in page and submission.display_receipt_number in page


def test_without_an_email_answer_the_address_is_asked_for_with_errors_next_to_the_field(client, tottori):
    procedure = make_procedure(tottori, NO_EMAIL_SCHEMA)
    response = save_draft(client, procedure, {"name__family": "佐藤", "note": "途中まで"})
    assert response["Location"] == draft_url(procedure)
    page = client.get(draft_url(procedure)).content.decode()
    assert 'autocomplete="email"' in page and "添付ファイルは保存されません" in page

    bad = client.post(draft_url(procedure), {"email": "sato@"})
    page = bad.content.decode()
    assert bad.status_code == 400 and "メールアドレスの形式が正しくありません" in page
    assert 'aria-describedby="draft-email-error draft-email-help"' in page and 'value="sato@"' in page
    assert not SubmissionDraft.objects.exists()

    good = client.post(draft_url(procedure), {"email": " sato@example.jp "})
    assert good["Location"] == draft_url(procedure) + "?saved=1"
    assert SubmissionDraft.objects.get().email == "sato@example.jp"
    assert OutgoingEmail.objects.get(kind="draft").to == "sato@example.jp"
    # Back to the form in the same browser: everything typed is still there.
    page = client.get(form_url(procedure)).content.decode()
    assert 'value="佐藤"' in page and "途中まで" in page


def test_an_address_given_only_on_the_save_page_fills_the_forms_empty_email_box_on_resuming(
    client, procedure
):
    response = save_draft(client, procedure, {**SIGNUP_POST, "email": ""})
    assert response["Location"] == draft_url(procedure)  # no address in the form: the save page asks
    assert client.post(draft_url(procedure), {"email": "sakiko@example.jp"})["Location"].endswith("?saved=1")

    other = Client()
    assert other.get(resume_link()).status_code == 302
    page = other.get(form_url(procedure)).content.decode()
    assert 'name="email" value="sakiko@example.jp"' in page
    assert 'value="髙橋"' in page  # and the rest as typed

    # An address typed into the form itself stays as typed.
    save_draft(Client(), procedure, {**SIGNUP_POST, "email": "other@example.jp"})
    third = Client()
    third.get(resume_link())
    assert 'name="email" value="other@example.jp"' in third.get(form_url(procedure)).content.decode()


def test_saving_again_updates_the_same_draft_with_a_new_link(client, procedure):
    save_draft(client, procedure, SIGNUP_POST)
    first = resume_link()
    save_draft(client, procedure, {**SIGNUP_POST, "name__given": "花子"})
    second = resume_link()
    assert SubmissionDraft.objects.count() == 1 and first != second
    assert Client().get(first).status_code == 404
    other = Client()
    other.get(second)
    assert 'value="花子"' in other.get(form_url(procedure)).content.decode()


def test_a_form_with_pages_resumes_on_the_page_where_it_was_saved(client, tottori):
    procedure = make_procedure(tottori, PAGED_SCHEMA)
    version = procedure.current_version_id
    who = {"name__family": "髙橋", "name__given": "﨑子", "email": "sakiko@example.jp"}
    client.post(form_url(procedure), {"version": version, "page": "who", **who})
    save_draft(client, procedure, {"page": "what", "note": "書きかけ"})
    other = Client()
    response = other.get(resume_link())
    assert response["Location"] == form_url(procedure, "what")
    page = other.get(response["Location"]).content.decode()
    assert "2 / 3 ページ" in page and "書きかけ" in page
    other.post(form_url(procedure), {"version": version, "page": "what", "note": "書き終えた"})
    other.post(form_url(procedure), {"version": version, "page": "agree", "agree": "1"})
    page = other.get(confirm_url(procedure)).content.decode()
    assert "髙橋" in page and "書き終えた" in page


def test_expired_forged_and_closed_links_get_a_clear_page(client, procedure):
    save_draft(client, procedure, SIGNUP_POST)
    link = resume_link()
    for forged in ("/drafts/resume/?key=nope", "/drafts/resume/", "/drafts/resume/?key=" + "x" * 5000):
        response = Client().get(forged)
        assert response.status_code == 404 and "このリンクは使えません" in response.content.decode()

    Procedure.objects.filter(pk=procedure.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    closed = Client().get(link)
    assert closed.status_code == 410
    assert "受付を終了したため、一時保存した内容から続けることはできません" in closed.content.decode()

    Procedure.objects.filter(pk=procedure.pk).update(closes_at=None)
    SubmissionDraft.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = Client().get(link)
    assert expired.status_code == 404 and "保存期限が過ぎた" in expired.content.decode()


def test_the_token_is_not_logged_even_when_the_link_is_wrong(client, procedure, caplog):
    save_draft(client, procedure, SIGNUP_POST)
    link = resume_link()
    token = link.split("key=")[1]
    with caplog.at_level("DEBUG"):
        Client().get(link)
        Client().get(link[:-3])
    assert token not in caplog.text and token[:-3] not in caplog.text


def test_an_address_gets_a_limited_number_of_links_an_hour(client, tottori):
    procedure = make_procedure(tottori, NO_EMAIL_SCHEMA)
    save_draft(client, procedure, {"name__family": "佐藤"})
    for _ in range(drafts.EMAILS_PER_ADDRESS_PER_HOUR):
        client.post(draft_url(procedure), {"email": "target@example.jp"})
    response = client.post(draft_url(procedure), {"email": "target@example.jp"})
    assert response.status_code == 400 and "しばらく時間をおいてから" in response.content.decode()
    assert OutgoingEmail.objects.filter(kind="draft").count() == drafts.EMAILS_PER_ADDRESS_PER_HOUR


def test_purge_drafts_deletes_only_expired_drafts(client, procedure, tottori):
    save_draft(client, procedure, SIGNUP_POST)
    save_draft(Client(), procedure, {**SIGNUP_POST, "email": "other@example.jp"})
    old, kept = SubmissionDraft.objects.order_by("pk")
    SubmissionDraft.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    call_command("purge_drafts", stdout=open("/dev/null", "w"))
    assert list(SubmissionDraft.objects.values_list("pk", flat=True)) == [kept.pk]
    call_command("purge_drafts", stdout=open("/dev/null", "w"))  # idempotent
    assert SubmissionDraft.objects.count() == 1


# Whatever a resident types survives save → resume unchanged ---------------------------------------------

# What a browser can send: any character but lone surrogates (not encodable) and the controls the form
# drops as it reads them (tested in test_control_characters).
TYPED = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
    max_size=40,
)


def shown_answers(page: str) -> list:
    """What the form page shows in its boxes: each text input's name and value, and each text area."""
    form = page[page.index('id="apply-form"') :]
    inputs = re.findall(
        r'<input class="input[^"]*" type="[a-z]+" id="[^"]*" name="([^"]+)" value="([^"]*)"', form
    )
    areas = re.findall(r"<textarea[^>]*>(.*?)</textarea>", form, re.S)
    return [*inputs, *areas]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(family=TYPED, given_name=TYPED, furigana=TYPED, phone=TYPED, email=TYPED, note=TYPED)
def test_arbitrary_answers_survive_save_and_resume_unchanged(
    tottori, family, given_name, furigana, phone, email, note
):
    procedure = Procedure.objects.filter(organization=tottori, title="PROPERTY").first() or make_procedure(
        tottori,
        {**NO_EMAIL_SCHEMA, "fields": [*NO_EMAIL_SCHEMA["fields"],
                                      {"key": "kana", "type": "furigana", "label": "ふりがな"},
                                      {"key": "phone", "type": "phone", "label": "電話番号"},
                                      {"key": "mail", "type": "email", "label": "メール"}]},
        title="PROPERTY",
    )  # fmt: skip
    typed = {
        "name__family": family,
        "name__given": given_name,
        "kana": furigana,
        "phone": phone,
        "mail": email,
        "note": note,
    }
    saver = Client()
    save_draft(saver, procedure, typed)
    assert saver.post(draft_url(procedure), {"email": "prop@example.jp"}).status_code == 302
    kept = saver.session[f"apply:{procedure.pk}"]["raw"]

    resumer = Client()
    assert resumer.get(resume_link()).status_code == 302
    resumed = resumer.session[f"apply:{procedure.pk}"]["raw"]
    assert {k: v for k, v in resumed.items() if not k.endswith("__remove")} == {
        k: v for k, v in kept.items() if not k.endswith("__remove")
    }
    assert shown_answers(resumer.get(form_url(procedure)).content.decode()) == shown_answers(
        saver.get(form_url(procedure)).content.decode()
    )
    SubmissionDraft.objects.all().delete()
    OutgoingEmail.objects.all().delete()


def test_a_submitted_application_discards_exactly_its_own_drafts(procedure, tottori):
    """By the draft's id, by the application's token (hashed, or as drafts saved before hashing held it),
    and nothing else: another application's draft, or a draft of another procedure with the same token."""
    other_procedure = make_procedure(tottori, NO_EMAIL_SCHEMA, title="別の手続")

    def draft(of, application_token):
        return drafts.save_draft(
            procedure=of, version=of.current_version, raw={"note": "途中"}, page="",
            application_token=application_token, send=False,
        ).draft  # fmt: skip

    by_id, by_token, legacy, others, elsewhere = (
        draft(procedure, "app-a"),
        draft(procedure, "app-b"),
        draft(procedure, "app-c"),
        draft(procedure, "app-d"),
        draft(other_procedure, "app-b"),
    )
    data = dict(legacy.answers_data, token="app-c")  # the token itself, as stored before it was hashed
    SubmissionDraft.objects.filter(pk=legacy.pk).update(answers_data=data, application_token="")
    # submissions/0017 copied each kept draft's token into its own column.
    from importlib import import_module

    from django.apps import apps

    import_module("madoguchi.submissions.migrations.0017_draft_application_token").copy_tokens(apps, None)
    assert SubmissionDraft.objects.get(pk=legacy.pk).application_token == "app-c"
    assert SubmissionDraft.objects.get(pk=by_token.pk).application_token == by_token.answers_data["token"]

    assert drafts.discard_draft(procedure_id=procedure.pk, draft_id=by_id.pk) == 1
    assert drafts.discard_draft(procedure_id=procedure.pk, application_token="app-b") == 1
    assert drafts.discard_draft(procedure_id=procedure.pk, application_token="app-c") == 1
    assert drafts.discard_draft(procedure_id=procedure.pk, draft_id=elsewhere.pk) == 0
    assert drafts.discard_draft(procedure_id=procedure.pk, application_token="app-z") == 0
    assert drafts.discard_draft(procedure_id=procedure.pk) == 0
    assert set(SubmissionDraft.objects.values_list("pk", flat=True)) == {others.pk, elsewhere.pk}
    assert not {by_token.pk, legacy.pk} & set(SubmissionDraft.objects.values_list("pk", flat=True))
