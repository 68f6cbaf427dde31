"""Finding a case in the inbox: a clerk of 鳥取市 on the phone with a resident, a colleague, an outsider.

The inbox shows each applicant's name and kana as typed; the search box finds a case by name or kana
(kana and width insensitive), phone number, e-mail address or words in the answers; filters (担当者,
自分の担当, 期限切れ) and the order combine and survive paging; the search words never reach a URL.
"""

import importlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.lib import search, tenancy
from madoguchi.lib.timeutil import jst_date
from madoguchi.procedures import services as procedure_services
from madoguchi.submissions import services
from madoguchi.submissions.models import Status, Submission
from tests.conftest import SIGNUP_ANSWERS, make_submission

pytestmark = pytest.mark.django_db

HANAKO = {
    **SIGNUP_ANSWERS,
    "name": {"family": "鳥取", "given": "花子"},
    "furigana": "とっとり　はなこ",
    "phone": "0857-26-7111",
    "email": "Hanako.Tottori@example.jp",
    "session": "午後",
}
YOSHIDA = {
    **SIGNUP_ANSWERS,
    "name": {"family": "𠮷田", "given": "一郎"},
    "furigana": "よしだ　いちろう",
    "phone": "090-1234-5678",
    "email": "ichiro@example.jp",
}


def inbox_url(procedure) -> str:
    return reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})


def receipts(page: str) -> list[str]:
    return re.findall(r">(\d{4}-\d{4}-\d{2})</a>", page)


def searched(client, procedure, words: str, **filters):
    """Type the words into the search box and follow the redirect, as a browser does."""
    response = client.post(inbox_url(procedure), {"q": words, **filters})
    assert response.status_code == 302
    assert words.strip() == "" or words not in response["Location"]  # never the words in the URL
    return client.get(response["Location"]).content.decode()


@pytest.fixture
def cases(procedure):
    return {
        "takahashi": make_submission(procedure).submission,
        "hanako": make_submission(procedure, dict(HANAKO)).submission,
        "yoshida": make_submission(procedure, dict(YOSHIDA)).submission,
    }


# The clerk's view ------------------------------------------------------------------------------------


def test_each_row_shows_the_name_and_kana_exactly_as_typed(client, colleague, cases):
    client.force_login(colleague)
    page = client.get(inbox_url(cases["hanako"].procedure)).content.decode()
    assert "髙橋\u3000﨑子" in page and "たかはし\u3000さきこ" in page
    assert "鳥取\u3000花子" in page and "𠮷田\u3000一郎" in page


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("鳥取花子", "hanako"),
        ("鳥取　花子", "hanako"),
        ("はなこ", "hanako"),
        ("トットリ", "hanako"),
        ("ﾄｯﾄﾘ ﾊﾅｺ", "hanako"),
        ("0857-26-7111", "hanako"),
        ("０８５７２６７１１１", "hanako"),
        ("26-7111", "hanako"),
        ("HANAKO.TOTTORI@EXAMPLE.JP", "hanako"),
        ("午後", "hanako"),
        ("高橋", "takahashi"),  # 髙橋 is found by the common form a clerk types
        ("髙橋﨑子", "takahashi"),
        ("吉田", "yoshida"),
        ("ヨシダ", "yoshida"),
        # One or two characters: the start of a family name, a given name or a kana
        ("花子", "hanako"),
        ("ハナ", "hanako"),
        ("鳥", "hanako"),
        ("いち", "yoshida"),
    ],
)
def test_a_clerk_finds_the_case_whatever_way_the_name_or_number_is_typed(
    client, colleague, cases, words, found
):
    client.force_login(colleague)
    page = searched(client, cases[found].procedure, words)
    assert receipts(page) == [cases[found].display_receipt_number]
    assert f'value="{words}"' in page  # the box still holds what was typed


def test_a_name_no_one_has_finds_nothing_and_says_so(client, colleague, cases):
    client.force_login(colleague)
    page = searched(client, cases["hanako"].procedure, "米子太郎")
    assert receipts(page) == [] and "当てはまる申請はありません" in page


def test_two_characters_from_the_middle_of_a_name_find_nothing_three_do(client, colleague, cases):
    client.force_login(colleague)
    assert receipts(searched(client, cases["hanako"].procedure, "取花")) == []
    assert receipts(searched(client, cases["hanako"].procedure, "取花子")) == [
        cases["hanako"].display_receipt_number
    ]


def test_an_empty_search_shows_everything(client, colleague, cases):
    client.force_login(colleague)
    assert len(receipts(searched(client, cases["hanako"].procedure, "\u3000 "))) == 3


def test_a_search_of_ten_thousand_characters_is_explained_and_kept(client, colleague, cases):
    client.force_login(colleague)
    words = "鳥" * 10_000
    response = client.post(inbox_url(cases["hanako"].procedure), {"q": words})
    page = response.content.decode()
    assert response.status_code == 200 and "検索語は100文字以内で入力してください" in page
    assert "10,000文字" in page and words in page and receipts(page) == []


@pytest.mark.parametrize("words", ["鳥取\x00花子", "鳥取\x1b花子", "\u200b鳥取花子\ufeff", "鳥取\t花子\r\n"])
def test_control_characters_in_a_search_are_dropped_never_a_server_error(client, colleague, cases, words):
    client.force_login(colleague)
    page = searched(client, cases["hanako"].procedure, words)
    assert receipts(page) == [cases["hanako"].display_receipt_number]


def test_a_search_link_from_another_browser_shows_nothing_and_says_why(client, colleague, cases):
    client.force_login(colleague)
    response = client.post(inbox_url(cases["hanako"].procedure), {"q": "はなこ"})
    client.logout()
    client.force_login(colleague)  # a new session: the words were never in the link
    page = client.get(response["Location"]).content.decode()
    assert "この検索はもう使えません" in page and receipts(page) == []


def test_the_receipt_number_box_still_finds_one_case(client, colleague, cases):
    client.force_login(colleague)
    page = client.get(inbox_url(cases["hanako"].procedure), {"receipt": cases["yoshida"].receipt_number})
    assert receipts(page.content.decode()) == [cases["yoshida"].display_receipt_number]


def test_a_receipt_number_typed_into_the_search_box_finds_its_case(client, colleague, cases):
    client.force_login(colleague)
    yoshida = cases["yoshida"]
    for typed in (
        yoshida.display_receipt_number,
        yoshida.receipt_number,
        "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in yoshida.display_receipt_number),
    ):  # with hyphens, without, in full-width digits
        assert receipts(searched(client, yoshida.procedure, typed)) == [yoshida.display_receipt_number], typed


def test_a_corrected_name_is_found_under_the_new_name(client, colleague, cases):
    hanako = cases["hanako"]
    services.transition(submission=hanako, to_status=Status.RETURNED, actor=colleague, reason="氏名の誤り")
    corrected = {**HANAKO, "name": {"family": "鳥取", "given": "華子"}, "furigana": "とっとり　はなこ"}
    assert services.resubmit(submission=hanako, answers=corrected, staged_files={})
    hanako.refresh_from_db()
    assert hanako.applicant_name == "鳥取\u3000華子"
    client.force_login(colleague)
    assert receipts(searched(client, hanako.procedure, "鳥取華子")) == [hanako.display_receipt_number]
    assert receipts(searched(client, hanako.procedure, "鳥取花子")) == []


def test_a_form_without_a_name_field_shows_a_dash_and_is_found_by_its_answers(client, colleague, tottori):
    from tests.conftest import make_procedure

    survey = make_procedure(
        tottori,
        {"fields": [{"key": "opinion", "type": "long_text", "label": "ご意見"}]},
        title="アンケート",
        kind="survey",
    )
    made = make_submission(survey, {"opinion": "駐車場がもっと広いと助かります"}).submission
    assert (made.applicant_name, made.applicant_kana) == ("", "")
    client.force_login(colleague)
    assert receipts(searched(client, survey, "ちゅうしゃじょう")) == []  # words, not their reading
    assert receipts(searched(client, survey, "駐車場")) == [made.display_receipt_number]


# Filters, order and paging ---------------------------------------------------------------------------


def test_my_work_and_an_assignees_cases(client, colleague, tottori, cases):
    from tests.conftest import make_user

    other = make_user("other-clerk", tottori, "processor")
    services.assign(submission=cases["hanako"], assignee=colleague, actor=colleague)
    services.assign(submission=cases["yoshida"], assignee=other, actor=colleague)
    procedure = cases["hanako"].procedure
    client.force_login(colleague)
    mine = client.get(inbox_url(procedure), {"assignee": "me"}).content.decode()
    assert receipts(mine) == [cases["hanako"].display_receipt_number]
    theirs = client.get(inbox_url(procedure), {"assignee": other.pk}).content.decode()
    assert receipts(theirs) == [cases["yoshida"].display_receipt_number]
    unassigned = client.get(inbox_url(procedure), {"assignee": "none"}).content.decode()
    assert receipts(unassigned) == [cases["takahashi"].display_receipt_number]


def test_an_assignee_of_another_organization_is_refused_not_listed(client, colleague, outsider, cases):
    # The service refuses such an assignee (tests/test_control_characters.py): written past it, as if forged.
    Submission.objects.filter(pk=cases["hanako"].pk).update(assignee=outsider)
    client.force_login(colleague)
    page = client.get(inbox_url(cases["hanako"].procedure), {"assignee": outsider.pk}).content.decode()
    assert "この団体の処理担当者から選んでください" in page and receipts(page) == []
    assert "outsider" not in page.split("</select>")[1]


def test_overdue_lists_a_passed_correction_deadline_and_a_passed_processing_time(client, colleague, cases):
    procedure = cases["hanako"].procedure
    procedure_services.update_procedure_settings(
        procedure=procedure, actor=colleague, values={"standard_processing_days": 14}
    )
    today = jst_date(timezone.now())
    services.transition(
        submission=cases["takahashi"], to_status=Status.RETURNED, actor=colleague, reason="写しが不鮮明"
    )
    Submission.objects.filter(pk=cases["takahashi"].pk).update(correction_deadline=today - timedelta(days=1))
    # 花子 arrived 15 days ago (past 14 days); 𠮷田 exactly 14 days ago (its last day is today).
    now = timezone.now()
    Submission.objects.filter(pk=cases["hanako"].pk).update(submitted_at=now - timedelta(days=15))
    Submission.objects.filter(pk=cases["yoshida"].pk).update(submitted_at=now - timedelta(days=14))
    client.force_login(colleague)
    page = client.get(inbox_url(procedure), {"overdue": "1"}).content.decode()
    assert sorted(receipts(page)) == sorted(
        [cases["takahashi"].display_receipt_number, cases["hanako"].display_receipt_number]
    )
    assert page.count('class="badge badge-overdue"') == 2
    assert "標準処理期間（14日）" in page


def test_a_returned_case_within_its_deadline_is_not_overdue(client, colleague, cases):
    today = jst_date(timezone.now())
    services.transition(
        submission=cases["takahashi"],
        to_status=Status.RETURNED,
        actor=colleague,
        reason="写しが不鮮明",
        deadline=today,
    )
    client.force_login(colleague)
    page = client.get(inbox_url(cases["takahashi"].procedure), {"overdue": "1"}).content.decode()
    assert receipts(page) == []


def walk(client, url, params) -> list[str]:
    """Every page, following 次の50件 links as they are given."""
    seen, query = [], dict(params)
    while True:
        page = client.get(url, query).content.decode()
        seen += receipts(page)
        link = re.search(r'href="\?([^"]*)" rel="next"', page)
        if not link:
            return seen
        from html import unescape
        from urllib.parse import parse_qsl

        query = dict(parse_qsl(unescape(link.group(1))))


def test_newest_and_oldest_first_walk_every_matching_case_once_with_filters_kept(
    client, colleague, procedure, monkeypatch
):
    from madoguchi.submissions import staff_views

    monkeypatch.setattr(staff_views, "PAGE_SIZE", 2)
    made = [make_submission(procedure, dict(HANAKO)).submission for _ in range(5)]
    made.append(make_submission(procedure).submission)  # 髙橋: never in a 花子 search
    now = timezone.now().replace(microsecond=0)
    times = [now, now, now - timedelta(hours=1), now + timedelta(seconds=1), now, now]
    for submission, arrived in zip(made, times, strict=True):
        Submission.objects.filter(pk=submission.pk).update(submitted_at=arrived)
    services.assign(submission=made[4], assignee=colleague, actor=colleague)
    hanako = sorted(made[:5], key=lambda s: (times[made.index(s)], s.pk))
    client.force_login(colleague)
    response = client.post(inbox_url(procedure), {"q": "はなこ"})
    key = dict(re.findall(r"(\w+)=([^&]+)", response["Location"]))["s"]
    url = inbox_url(procedure)
    assert walk(client, url, {"s": key}) == [s.display_receipt_number for s in reversed(hanako)]
    assert walk(client, url, {"s": key, "order": "old"}) == [s.display_receipt_number for s in hanako]
    mine = walk(client, url, {"s": key, "order": "old", "assignee": "me"})
    assert mine == [made[4].display_receipt_number]


def test_the_list_is_one_query_whatever_the_number_of_rows(
    client, colleague, procedure, django_assert_num_queries
):
    def count_queries() -> int:
        from django.db import connection as conn
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(conn) as captured:
            assert client.get(inbox_url(procedure), {"assignee": "none", "overdue": "1"}).status_code == 200
        return len(captured)

    client.force_login(colleague)
    make_submission(procedure, dict(HANAKO))
    few = count_queries()
    for _ in range(20):
        make_submission(procedure, dict(HANAKO))
    assert count_queries() == few <= 12


# Who may look ----------------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_the_inbox_and_its_search(client, outsider, cases):
    client.force_login(outsider)
    procedure = cases["hanako"].procedure
    assert client.get(inbox_url(procedure)).status_code == 404
    assert client.post(inbox_url(procedure), {"q": "はなこ"}).status_code == 404


def test_a_viewer_may_search_but_gets_no_checkboxes(client, viewer, cases):
    client.force_login(viewer)
    page = searched(client, cases["hanako"].procedure, "はなこ")
    assert receipts(page) == [cases["hanako"].display_receipt_number]
    assert 'name="ids"' not in page


# The standard processing time in the builder's settings ----------------------------------------------


def test_the_standard_processing_time_is_a_setting_of_the_procedure_and_audited(client, owner, procedure):
    from madoguchi.audit.models import AuditLog

    procedure_services.update_procedure_settings(
        procedure=procedure, actor=owner, values={"standard_processing_days": 30}
    )
    procedure.refresh_from_db()
    assert procedure.standard_processing_days == 30
    log = AuditLog.objects.filter(action="procedure.settings").latest("id")
    assert log.detail["changed"]["standard_processing_days"] == {"from": "", "to": 30}
    client.force_login(owner)
    page = client.get(reverse("staff:builder_settings", kwargs={"procedure_id": procedure.pk})).content
    assert "標準処理期間（日）" in page.decode()


# The migration's backfill and PostgreSQL's index -----------------------------------------------------


def test_the_migration_fills_the_columns_of_existing_submissions(cases):
    Submission.objects.update(applicant_name="", applicant_kana="", search_text="")
    migration = importlib.import_module("madoguchi.submissions.migrations.0008_search")
    migration.fill_search_columns(django_apps, SimpleNamespace(connection=connection))
    hanako = Submission.objects.get(pk=cases["hanako"].pk)
    assert (hanako.applicant_name, hanako.applicant_kana) == ("鳥取\u3000花子", "とっとり\u3000はなこ")
    assert hanako.search_text == cases["hanako"].search_text
    assert "高橋崎子" in Submission.objects.get(pk=cases["takahashi"].pk).search_text


@pytest.mark.database("postgresql")
def test_postgresql_searches_the_column_through_its_trigram_index(cases):
    """The search runs in a function owned by the tables' owner (lib/tenancy.py): row-level security
    would keep the planner from the index for a LIKE. Its query, planned as it runs, uses the index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'sub_search_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
        with tenancy.as_table_owner():
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"PREPARE search_body(text) AS {tenancy.SEARCH_BODY}")
            cursor.execute("EXPLAIN EXECUTE search_body(%s)", ["%とっとりはなこ%"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("DEALLOCATE search_body")
        assert "sub_search_trgm" in plan
        # Two characters at a token's start: trigrams with the word's start (pg_trgm pads it).
        cursor.execute("SELECT show_trgm(' 花子')")
        assert len(cursor.fetchone()[0]) == 3


# Normalisation: classes of input (lib/search.py) -----------------------------------------------------

kana = st.text(alphabet=st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6), min_size=1, max_size=12)
any_text = st.text(max_size=60)
# What names and words are written in: kana (full and half width, without the half-width voicing marks,
# which join the letter before them), common kanji, letters and digits of either width.
name_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x3041, max_codepoint=0x3096),
        st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA),
        st.characters(min_codepoint=0xFF66, max_codepoint=0xFF9D),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
        st.sampled_from("髙﨑𠮷邉齋ABCxyz０１２ＡＢＣ　 ・ー"),
    ),
    max_size=12,
)


@given(kana)
def test_katakana_hiragana_and_half_width_kana_fold_alike(word):
    import jaconv

    assert (
        search.fold(word) == search.fold(jaconv.kata2hira(word)) == search.fold(jaconv.z2h(word, kana=True))
    )


@given(any_text)
def test_folding_is_idempotent_and_leaves_no_space_or_control_character(text):
    folded = search.fold(text)
    assert search.fold(folded) == folded
    assert not any(c.isspace() or not c.isprintable() for c in folded)


@given(name_text, name_text, name_text)
def test_any_part_of_a_name_typed_any_way_finds_it(before, part, after):
    field = SimpleNamespace(key="name", type="name", fields=[])
    column = search.search_text([field], {"name": {"family": before + part, "given": after}})
    query = search.fold_query(part)
    # A query of digits is a phone number's: compared with digits only. One or two characters match
    # the start of the family or the given name.
    if len(query) >= search.SHORT_QUERY and not query.isdigit():
        assert search.search_condition(query) in column
    start = search.fold_query(before)
    if 0 < len(start) < search.SHORT_QUERY and not start.isdigit():
        assert search.search_condition(start) in column
    given = search.fold_query(after)
    if 0 < len(given) < search.SHORT_QUERY and not given.isdigit():
        assert search.search_condition(given) in column


@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=4), min_size=1, max_size=4))
def test_a_phone_number_is_found_with_or_without_hyphens_or_full_width_digits(groups):
    number = "0" + "".join(groups)
    field = SimpleNamespace(key="phone", type="phone", fields=[])
    column = search.search_text([field], {"phone": "-".join(["0", *groups])})
    spellings = [
        "-".join(["0", *groups]),
        number,
        number.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ]
    if not number.startswith("00"):  # (no Japanese number does: 0 is the trunk prefix, 00… a call abroad)
        # With Japan's country code, as the form accepts it: +81 for the trunk prefix 0.
        spellings += [
            "+81 " + "-".join(groups),
            "+81(0)" + " ".join(groups),
            "＋８１　" + "".join(groups).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        ]
    for typed in spellings:
        assert search.fold_query(typed) == number and search.search_condition(number) in column


@given(any_text)
def test_a_search_column_is_capped_and_never_holds_a_query_across_two_answers(text):
    fields = [SimpleNamespace(key=k, type="long_text", fields=[]) for k in ("a", "b")]
    column = search.search_text(fields, {"a": text * 50, "b": "x"})
    assert len(column) <= search.MAX_SEARCH_CHARS
    assert " " not in search.fold_query(text)


@pytest.mark.database("postgresql")
def test_the_search_function_finds_only_within_the_tenant_scope_and_takes_wildcards_literally(cases, yonago):
    hanako = cases["hanako"]
    found = lambda text: set(  # noqa: E731
        Submission.objects.filter(tenancy.submissions_containing(text)).values_list("pk", flat=True)
    )
    assert hanako.pk in found("とっとりはなこ")
    with tenancy.scope([hanako.organization_id]):
        assert hanako.pk in found("とっとりはなこ")
    with tenancy.scope([yonago.pk]):
        assert found("とっとりはなこ") == set()
    with tenancy.scope([]):
        assert found("とっとりはなこ") == set()
    assert found("%") == set() and found("_") == set()  # no answer holds them; LIKE's wildcards are not
