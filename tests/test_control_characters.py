"""Control characters in what staff and residents type: refused with a Japanese message in staff texts, dropped
from residents' answers, never a 500 (PostgreSQL refuses NUL outright), nothing stored with one.

The class (lib/japanese.CONTROL_CHARACTERS): C0 and C1 controls but tab, line feed and carriage return, and the
bidirectional embedding, override and isolate characters.
"""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.accounts.models import Membership, Role
from madoguchi.audit.models import AuditLog
from madoguchi.lib import japanese as ja
from madoguchi.notifications.models import Message
from madoguchi.organizations.models import Department
from madoguchi.submissions import services
from madoguchi.submissions.models import Note, Status, StatusChange, Submission
from tests.conftest import make_procedure, make_submission, make_user

pytestmark = pytest.mark.django_db

CONTROLS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]] + [
    chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
]
text_with_a_control = st.tuples(
    st.text(alphabet="あいう理由メモ 123", max_size=8), st.sampled_from(CONTROLS), st.text(max_size=8)
).map(lambda parts: "".join(parts))


def test_the_class_is_every_control_but_tab_and_line_ends():
    for char in CONTROLS:
        assert ja.has_control_characters(f"a{char}b") and ja.remove_control_characters(f"a{char}b") == "ab"
    for char in "\t\n\r　 ー髙𠮷":
        assert not ja.has_control_characters(char)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=text_with_a_control)
def test_a_staff_text_with_a_control_character_is_refused_everywhere_and_nothing_is_stored(
    client, owner, submission, text
):
    client.force_login(owner)
    pk = submission.pk
    before = (Note.objects.count(), StatusChange.objects.count(), Message.objects.count())
    posts = [
        (reverse("staff:add_note", kwargs={"submission_id": pk}), {"body": text}),
        (reverse("staff:transition", kwargs={"submission_id": pk}), {"to": "rejected", "reason": text}),
        (reverse("staff:send_message", kwargs={"submission_id": pk}), {"body": text}),
        (
            reverse("staff:inbox_bulk", kwargs={"procedure_id": submission.procedure_id}),
            {"action": "confirm", "to": "rejected", "reason": text, "ids": [pk]},
        ),
    ]
    for url, data in posts:
        response = client.post(url, data, follow=True)
        assert response.status_code in (200, 400), url
        assert "制御文字" in response.content.decode(), url
    assert (Note.objects.count(), StatusChange.objects.count(), Message.objects.count()) == before
    assert Submission.objects.get(pk=pk).status == Status.RECEIVED


def test_a_reopen_whose_reason_is_only_control_characters_is_refused(client, owner, submission, colleague):
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    client.force_login(owner)
    url = reverse("staff:reopen", kwargs={"submission_id": submission.pk})
    for reason in ("\x00\x01 ", "戻す\x00理由"):
        page = client.post(url, {"reason": reason}, follow=True).content.decode()
        assert "制御文字" in page
    submission.refresh_from_db()
    assert submission.status == Status.COMPLETED
    assert not AuditLog.objects.filter(action="submission.reopen").exists()


def test_a_long_reason_is_refused_not_cut(client, colleague, submission):
    client.force_login(colleague)
    url = reverse("staff:transition", kwargs={"submission_id": submission.pk})
    page = client.post(url, {"to": "returned", "reason": "あ" * 4001}, follow=True).content.decode()
    assert "4,000文字以内" in page
    assert Submission.objects.get(pk=submission.pk).status == Status.RECEIVED


def test_a_residents_answer_loses_its_control_characters_and_the_flow_goes_on(client, tottori):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import ALL_TYPES_SCHEMA
    from tests.test_resident_flow import PNG, all_types_post, confirm_url, post_form

    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    data = {**all_types_post(), "doc": SimpleUploadedFile("写真.png", PNG, content_type="image/png")}
    long_key = next(f["key"] for f in ALL_TYPES_SCHEMA["fields"] if f["type"] == "long_text")
    short_key = next(f["key"] for f in ALL_TYPES_SCHEMA["fields"] if f["type"] == "short_text")
    data[long_key] = "一行目\x00\n二行目\u202e逆"
    data[short_key] = "\x07山田\x1b[31m"
    response = post_form(client, procedure, data)
    assert response.status_code == 302, response.content.decode()
    page = client.get(confirm_url(procedure)).content.decode()
    assert "一行目" in page and "\x00" not in page and "\u202e" not in page and "\x1b" not in page


@pytest.fixture
def scoped(tottori, procedure):
    """A processor limited to 市民課, while the sign-up belongs to no 所属 of theirs."""
    user = make_user("scoped", tottori, Role.PROCESSOR)
    membership = Membership.objects.get(user=user)
    membership.departments.set([Department.objects.create(organization=tottori, name="市民課")])
    membership.limited_to_departments = True
    membership.save()
    return user


def test_a_case_is_never_given_to_someone_who_cannot_open_it(client, owner, submission, scoped):
    client.force_login(owner)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert ">scoped<" not in page  # not offered
    response = client.post(
        reverse("staff:assign", kwargs={"submission_id": submission.pk}), {"assignee": "scoped"}, follow=True
    )
    assert "この手続を扱える処理担当者だけです" in response.content.decode()
    assert Submission.objects.get(pk=submission.pk).assignee is None
    with pytest.raises(services.SubmissionError):
        services.assign(submission=submission, assignee=scoped, actor=owner)
    inbox = client.get(
        reverse("staff:inbox", kwargs={"procedure_id": submission.procedure_id})
    ).content.decode()
    assert ">scoped</option>" not in inbox


def test_a_bulk_change_that_moved_nothing_says_so(client, colleague, procedure):
    done = [make_submission(procedure).submission for _ in range(2)]
    for submission in done:
        services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    client.force_login(colleague)
    response = client.post(
        reverse("staff:inbox_bulk", kwargs={"procedure_id": procedure.pk}),
        {"action": "confirm", "to": "in_review", "ids": [s.pk for s in done]},
        follow=True,
    )
    page = response.content.decode()
    assert "変更した申請はありません" in page and "ほかの申請は変更しました" not in page


def test_a_surveys_inbox_offers_only_a_surveys_statuses_in_its_words(client, owner, tottori):
    survey = make_procedure(tottori, title="アンケート", kind="survey")
    make_submission(survey)
    client.force_login(owner)
    page = client.get(reverse("staff:inbox", kwargs={"procedure_id": survey.pk})).content.decode()
    tabs = page[page.index('class="count-list"') : page.index('id="f-assignee"')]  # the tabs and the filter
    assert "未確認 1件" in tabs and "確認済み" in tabs
    for word in ("処理待ち", "返却中", "却下", "取下げ"):
        assert word not in tabs
