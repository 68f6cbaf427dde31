"""集計: a clerk of 鳥取市 tallies the answers of the city's survey; a colleague with the viewer role reads it
too; an editor (no answers) is refused; an outsider of 米子市 gets 404."""

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from madoguchi.procedures.services import save_form_version
from madoguchi.submissions import services
from madoguchi.submissions.models import Submission
from madoguchi.submissions.tally import tally_procedure
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure, make_submission

pytestmark = pytest.mark.django_db

SATISFACTION = ["使いやすい", "どちらかといえば使いやすい", "使いにくい"]
SURVEY = {
    "fields": [
        {"key": "satisfaction", "type": "single_choice", "label": "使いやすさ", "options": SATISFACTION},
        {"key": "age", "type": "dropdown", "label": "年代", "options": ["20代", "30代"]},
        {"key": "device", "type": "multiple_choice", "label": "使った機器",
         "options": ["スマートフォン", "パソコン", "タブレット"]},
        {"key": "agree", "type": "consent", "label": "結果の公表に同意します"},
        {"key": "visits", "type": "number", "label": "来庁回数", "unit": "回", "whole_number": True},
        {"key": "visited", "type": "date", "label": "最後に来庁した日"},
        {"key": "comment", "type": "long_text", "label": "ご意見"},
        {"key": "mail", "type": "email", "label": "メールアドレス"},
    ],
}  # fmt: skip


@pytest.fixture
def survey(tottori):
    return make_procedure(tottori, SURVEY, title="窓口アンケート", kind="survey")


def answer(survey, at=None, **answers):
    submission = make_submission(survey, answers).submission
    if at is not None:
        Submission.objects.filter(pk=submission.pk).update(submitted_at=at)
    return submission


def page(client, user, survey, **query):
    client.force_login(user)
    return client.get(reverse("staff:tally", args=[survey.pk]), query)


def test_a_clerk_sees_counts_shares_and_no_answer_per_question(client, colleague, survey):
    answer(survey, satisfaction="使いやすい", age="20代", device=["スマートフォン", "パソコン"], agree=True)
    answer(survey, satisfaction="使いやすい", device=["スマートフォン"])
    answer(survey, satisfaction="使いにくい", age="30代")
    answer(survey, age="30代")

    tally = tally_procedure(survey)
    questions = {q.key: q for q in tally.questions}
    assert tally.respondents == 4
    satisfaction = questions["satisfaction"]
    assert [(o.label, o.count) for o in satisfaction.options] == [
        ("使いやすい", 2),
        ("どちらかといえば使いやすい", 0),
        ("使いにくい", 1),
    ]
    assert (satisfaction.asked, satisfaction.unanswered) == (4, 1)
    assert satisfaction.options[0].share == Decimal("0.5")
    device = questions["device"]  # shares out of respondents: 3 of 4 rows ticked, summing over the answers
    assert [(o.label, o.count) for o in device.options] == [
        ("スマートフォン", 2),
        ("パソコン", 1),
        ("タブレット", 0),
    ]
    assert device.unanswered == 2
    assert [(o.label, o.count) for o in questions["agree"].options] == [("同意する", 1), ("同意しない", 3)]

    response = page(client, colleague, survey)
    html = response.content.decode()
    assert response.status_code == 200
    assert "回答者数 4人" in html
    assert "割合の合計は100%を超えることがあります" in html  # only for the multiple-choice question
    assert html.count("割合の合計は100%を超えることがあります") == 1
    assert '<td class="num">50.0</td>' in html  # 使いやすい: 2 of 4
    assert "無回答" in html
    # Each chart is an image with a name, and the numbers are in a table beside it.
    assert html.count('role="img"') == 4
    assert 'aria-label="「使いやすさ」の回答の件数と割合' in html
    assert re.search(r"<caption[^>]*>「使いやすさ」の回答（件数と割合）</caption>", html)
    assert " style=" not in html.split("<main", 1)[1]  # the strict CSP allows no style attribute


def test_viewing_the_tally_is_audited_and_never_cached(client, colleague, survey):
    answer(survey, satisfaction="使いやすい")
    response = page(client, colleague, survey, **{"from": "2026/4/1"})
    assert "no-store" in response["Cache-Control"]
    log = AuditLog.objects.get(action="submission.tally")
    assert (log.actor, log.organization_id, log.object_id) == (
        colleague,
        survey.organization_id,
        str(survey.pk),
    )
    assert log.detail == {"from": "2026-04-01", "to": ""}


def test_withdrawn_applications_are_not_counted(tottori):
    # A survey cannot be withdrawn; an application (tallied the same way) can.
    application = make_procedure(tottori, SURVEY, title="窓口の申請", kind="application")
    answer(application, satisfaction="使いやすい")
    taken_back = answer(application, satisfaction="使いにくい")
    services.withdraw(submission=taken_back, reason="間違えて送りました")
    tally = tally_procedure(application)
    assert tally.respondents == 1
    satisfaction = next(q for q in tally.questions if q.key == "satisfaction")
    assert {o.label: o.count for o in satisfaction.options}["使いにくい"] == 0


def test_an_option_renamed_since_is_counted_as_answered_and_marked(client, colleague, survey):
    answer(survey, satisfaction="使いにくい")
    renamed = {**SURVEY, "fields": [dict(SURVEY["fields"][0], options=["使いやすい", "普通", "使いづらい"]),
                                    *SURVEY["fields"][1:]]}  # fmt: skip
    save_form_version(procedure=survey, schema=renamed)
    survey.refresh_from_db()
    answer(survey, satisfaction="使いづらい")

    satisfaction = next(q for q in tally_procedure(survey).questions if q.key == "satisfaction")
    assert [(o.label, o.count, o.current) for o in satisfaction.options] == [
        ("使いやすい", 0, True),
        ("普通", 0, True),
        ("使いづらい", 1, True),
        ("どちらかといえば使いやすい", 0, False),
        ("使いにくい", 1, False),
    ]
    html = page(client, colleague, survey).content.decode()
    assert '使いにくい <span class="meta">（現在の版にない選択肢）</span>' in html


def test_a_question_not_shown_to_a_respondent_is_not_counted_for_them(tottori):
    schema = {
        "fields": [
            {"key": "visited", "type": "single_choice", "label": "来庁しましたか", "options": ["はい", "いいえ"]},
            {"key": "wait", "type": "single_choice", "label": "待ち時間", "options": ["短い", "長い"],
             "show_if": [{"field": "visited", "op": "equals", "value": "はい"}]},
        ]
    }  # fmt: skip
    survey = make_procedure(tottori, schema, title="来庁者アンケート", kind="survey")
    answer(survey, visited="はい", wait="長い")
    answer(survey, visited="はい")
    answer(survey, visited="いいえ", wait="短い")  # hidden: dropped when submitted, and not 無回答
    wait = next(q for q in tally_procedure(survey).questions if q.key == "wait")
    assert (wait.asked, wait.answered, wait.unanswered) == (2, 1, 1)
    assert [(o.label, o.count) for o in wait.options] == [("短い", 0), ("長い", 1)]


def test_numbers_dates_and_free_text_are_summarised(client, colleague, survey):
    base = datetime(2026, 5, 1, 9, 0, tzinfo=JST)
    answer(survey, at=base, visits="1", visited="2026-04-03", comment="窓口が<b>親切</b>でした")
    answer(survey, at=base + timedelta(hours=1), visits="4", visited="2025-12-24")
    answer(survey, at=base + timedelta(hours=2), visits="2", comment="<script>alert(1)</script>")
    answer(survey, at=base + timedelta(hours=3), mail="taro@example.jp")
    questions = {q.key: q for q in tally_procedure(survey).questions}
    visits = questions["visits"]
    assert (visits.answered, visits.minimum, visits.maximum, visits.median) == (3, 1, 4, 2)
    assert visits.mean == Decimal("2.33")
    assert (str(questions["visited"].earliest), str(questions["visited"].latest)) == (
        "2025-12-24",
        "2026-04-03",
    )
    assert [t for _at, t in questions["comment"].texts] == [
        "<script>alert(1)</script>",
        "窓口が<b>親切</b>でした",
    ]

    html = page(client, colleague, survey).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "2026/05/01 11:00" in html  # the arrival shown in JST, newest first
    assert html.index("alert(1)") < html.index("親切")
    assert "2.33回" in html and "4回" in html
    assert "taro@example.jp" not in html  # an e-mail is personal data: counted, not listed


def test_an_application_with_every_kind_of_question_is_tallied_without_listing_personal_data(
    client, colleague, tottori
):
    application = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目の申請", kind="application")
    answer(
        application,
        name={"family": "髙橋", "given": "﨑子"},
        address={"postal_code": "680-8571", "address": "鳥取市尚徳町116"},
        phone="0857-20-3111",
        email="sakiko@example.jp",
        kana="タカハシ",
        gender="甲",
        topics=["介護"],
        area="西部",
        count="3",
        birthday="1960-04-01",
    )
    response = page(client, colleague, application)
    html = response.content.decode()
    assert response.status_code == 200
    for personal in ("髙橋", "尚徳町", "0857-20-3111", "sakiko@example.jp", "タカハシ"):
        assert personal not in html
    assert "個人を特定できる情報のため" in html
    assert html.count('role="img"') == 4  # 区分, 関心, 地区 and 同意します
    assert "1960年4月1日" in html or "昭和35年4月1日" in html


def test_the_page_reads_in_english_too(client, colleague, survey):
    answer(survey, satisfaction="使いやすい", visited="2026-04-03")
    client.force_login(colleague)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("staff:tally", args=[survey.pk]))
    assert response.status_code == 200
    assert '<html lang="en"' in response.content.decode()


def test_free_text_is_capped_with_a_count(colleague, survey):
    for n in range(5):
        answer(survey, comment=f"意見{n}")
    comment = next(q for q in tally_procedure(survey, text_limit=3).questions if q.key == "comment")
    assert (comment.answered, len(comment.texts), comment.more_texts) == (5, 3, 2)


def test_a_date_range_counts_respondents_who_arrived_within_it_in_jst(client, colleague, survey):
    answer(survey, at=datetime(2026, 3, 31, 23, 59, tzinfo=JST), satisfaction="使いにくい")
    answer(survey, at=datetime(2026, 4, 1, 0, 0, tzinfo=JST), satisfaction="使いやすい")
    answer(survey, at=datetime(2026, 4, 30, 23, 59, tzinfo=JST), satisfaction="使いやすい")
    answer(survey, at=datetime(2026, 5, 1, 0, 0, tzinfo=JST), satisfaction="使いにくい")
    html = page(
        client, colleague, survey, **{"from": "令和8年4月1日", "to": "２０２６/４/３０"}
    ).content.decode()
    assert "回答者数 2人" in html
    assert "to=%EF%BC%92" in html  # the CSV link keeps the range as typed
    tally = tally_procedure(survey, date_from=datetime(2026, 4, 1).date())
    assert tally.respondents == 3


def test_respondents_per_arrival_month_are_charted_in_jst(client, colleague, survey):
    answer(survey, at=datetime(2026, 3, 15, 12, 0, tzinfo=JST))
    answer(survey, at=datetime(2026, 5, 1, 0, 30, tzinfo=JST))  # still 30 April in UTC
    tally = tally_procedure(survey)
    assert tally.months() == [(2026, 3, 1), (2026, 4, 0), (2026, 5, 1)]
    html = page(client, colleague, survey).content.decode()
    assert 'aria-label="到達月ごとの回答者数（同じ数値を下の表に示します）"' in html
    assert '<tr><th scope="row">2026年4月</th><td class="num">0</td></tr>' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026/13/40"}, "到達日（から）："),
        ({"from": "2026/5/1", "to": "2026/4/1"}, "「から」の日付が「まで」の日付より後になっています"),
    ],
)
def test_a_date_that_cannot_be_read_is_explained_and_kept(client, colleague, survey, query, message):
    answer(survey, satisfaction="使いやすい")
    response = page(client, colleague, survey, **query)
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert f'value="{query["from"]}"' in html  # what was typed stays in the box
    assert "回答者数" not in html
    csv_response = client.get(reverse("staff:tally_csv", args=[survey.pk]), query)
    assert csv_response.status_code == 400
    assert message in csv_response.content.decode()
    assert not AuditLog.objects.filter(action__in=["submission.tally", "submission.export"]).exists()


def test_the_csv_holds_each_option_count_and_share_and_is_audited_as_an_export(client, colleague, survey):
    answer(survey, satisfaction="使いやすい", device=["パソコン"])
    answer(survey, device=["パソコン", "タブレット"])
    client.force_login(colleague)
    response = client.get(reverse("staff:tally_csv", args=[survey.pk]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "%E9%9B%86%E8%A8%88" in response["Content-Disposition"]  # 集計 in the file name
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["質問", "選択肢", "件数", "割合（%）"]
    assert rows[1] == ["回答者数", "", "2", ""]
    assert ["使いやすさ", "使いやすい", "1", "50.0"] in rows
    assert ["使いやすさ", "無回答", "1", "50.0"] in rows
    assert ["使った機器", "パソコン", "2", "100.0"] in rows
    assert ["結果の公表に同意します", "同意しない", "2", "100.0"] in rows
    log = AuditLog.objects.get(action="submission.export")
    assert log.detail == {"format": "csv", "encoding": "utf-8", "report": "tally", "from": "", "to": ""}


def test_the_csv_is_japanese_whatever_the_page_language(client, colleague, survey):
    answer(survey, satisfaction="使いやすい")
    client.force_login(colleague)
    client.cookies["django_language"] = "en"
    body = b"".join(client.get(reverse("staff:tally_csv", args=[survey.pk])).streaming_content)
    assert "無回答" in body.decode("utf-8-sig")


def test_staff_pages_of_the_procedure_link_to_the_tally(client, colleague, survey):
    submission = answer(survey, satisfaction="使いやすい")
    client.force_login(colleague)
    tally_url = reverse("staff:tally", args=[survey.pk])
    for url in (reverse("staff:inbox", args=[survey.pk]), reverse("staff:submission", args=[submission.pk])):
        assert f'href="{tally_url}"' in client.get(url).content.decode()
    html = client.get(tally_url).content.decode()
    assert f'href="{reverse("staff:inbox", args=[survey.pk])}"' in html  # back to the inbox


def test_a_viewer_reads_the_tally_and_an_editor_may_not(client, viewer, editor, survey):
    answer(survey, satisfaction="使いやすい")
    assert page(client, viewer, survey).status_code == 200
    assert page(client, editor, survey).status_code == 403
    client.force_login(editor)
    assert client.get(reverse("staff:tally_csv", args=[survey.pk])).status_code == 403


def test_an_outsider_gets_404_and_leaves_no_audit_entry(client, outsider, survey):
    answer(survey, satisfaction="使いやすい")
    assert page(client, outsider, survey).status_code == 404
    client.force_login(outsider)
    assert client.get(reverse("staff:tally_csv", args=[survey.pk])).status_code == 404
    assert not AuditLog.objects.filter(action__in=["submission.tally", "submission.export"]).exists()


def test_signed_out_visitors_are_sent_to_the_login(client, survey):
    response = client.get(reverse("staff:tally", args=[survey.pk]))
    assert response.status_code == 302
    assert "/staff/login/" in response["Location"]


def test_the_page_reads_the_answers_in_a_fixed_number_of_queries(
    client, colleague, survey, django_assert_max_num_queries
):
    for n in range(30):
        answer(survey, satisfaction=SATISFACTION[n % 3], comment=f"意見{n}")
    client.force_login(colleague)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("staff:tally", args=[survey.pk])).status_code == 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    choices=st.lists(
        st.tuples(st.sampled_from([None, *SATISFACTION]), st.lists(st.sampled_from(SURVEY["fields"][2]["options"]),
                                                                   unique=True)),
        max_size=12,
    )
)  # fmt: skip
def test_single_answer_counts_and_no_answer_add_up_to_the_respondents(survey, choices):
    Submission.objects.filter(procedure=survey).delete()
    for satisfaction, device in choices:
        answer(survey, satisfaction=satisfaction, device=device)
    questions = {q.key: q for q in tally_procedure(survey).questions}
    satisfaction = questions["satisfaction"]
    assert sum(o.count for o in satisfaction.options) + satisfaction.unanswered == len(choices)
    if choices:
        total = sum(o.share for o in satisfaction.options) + satisfaction.unanswered_share
        assert abs(total - 1) < Decimal("1e-20")
    device = questions["device"]
    assert sum(o.count for o in device.options) == sum(len(d) for _s, d in choices)
    assert device.unanswered == sum(1 for _s, d in choices if not d)
