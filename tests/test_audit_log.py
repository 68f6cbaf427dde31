"""The audit log people can read: each entry a Japanese sentence, filters, keyset pages, repeat views
collapsed, and bad input explained.

Personas (tests/conftest.py): owner = admin of 鳥取市 (reads the log), colleague = processor of 鳥取市
(does things), outsider = admin of 米子市 (gets 404), viewer (gets 403).
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.audit import sentences
from madoguchi.audit.models import AuditLog
from madoguchi.audit.services import VIEW_REPEAT_WINDOW, record
from madoguchi.audit.views import decode_cursor, encode_cursor
from madoguchi.lib.receipt import format_receipt_number
from madoguchi.submissions import services
from tests.conftest import make_submission, run_at_once

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent / "madoguchi"


def audit_url(organization, **params) -> str:
    from urllib.parse import urlencode

    url = reverse("staff:audit", kwargs={"code": organization.code})
    return f"{url}?{urlencode(params)}" if params else url


def page_of(client, organization, **params):
    return client.get(audit_url(organization, **params))


@pytest.fixture
def named_colleague(colleague):
    colleague.last_name, colleague.first_name = "山田", "太郎"
    colleague.save()
    return colleague


# Sentences --------------------------------------------------------------------------------------------


def test_every_action_the_code_records_has_a_sentence():
    """grep of `action="…"` across madoguchi/: a new action needs its line in audit/sentences.ACTIONS."""
    recorded = set()
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts or path.parts[-2] == "audit":
            continue
        text = path.read_text(encoding="utf-8")
        if "record(" not in text:
            continue
        recorded |= set(re.findall(r'action\s*=\s*"([a-z_]+\.[a-z_]+)"', text))
        recorded |= set(re.findall(r'"((?:submission|procedure|staff|department)\.[a-z_]+)"', text))
    assert recorded, "the grep found nothing: the pattern is out of date"
    missing = sorted(recorded - set(sentences.ACTIONS))
    assert not missing, f"actions without a sentence in madoguchi/audit/sentences.py: {missing}"


def test_status_change_reads_as_a_sentence(client, owner, named_colleague, submission, tottori):
    services.transition(submission=submission, to_status="in_review", actor=named_colleague)
    client.force_login(owner)
    page = page_of(client, tottori).content.decode()
    receipt = format_receipt_number(submission.receipt_number)
    assert f"山田 太郎 が 受付番号 {receipt} の状態を「処理待ち」から「処理中」に変更しました" in page
    assert "from=" not in page and "to=received" not in page


def test_shift_jis_csv_export_reads_as_a_sentence(client, owner, colleague, procedure, tottori):
    make_submission(procedure)
    client.force_login(colleague)
    response = client.get(
        reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk}), {"encoding": "cp932"}
    )
    b"".join(response.streaming_content)
    client.force_login(owner)
    page = page_of(client, tottori).content.decode()
    assert (
        f"colleague が {procedure.title} の申請データ" in page and "をCSV（Shift_JIS）で出力しました" in page
    )
    assert "encoding=" not in page and "examples=" not in page and "cp932" not in page


def test_replaced_characters_of_a_shift_jis_export_are_counted():
    detail = {"format": "csv", "encoding": "cp932", "replaced": 3, "examples": ["𠮷", "🙂"]}
    text = sentences.render(
        sentences.Line(action="submission.export", actor="山田 太郎", object="教室", detail=detail)
    )
    assert (
        text
        == "山田 太郎 が 教室 の申請データをCSV（Shift_JIS）で出力しました（Shift_JISにない文字を置き換えた数 3：𠮷、🙂）"
    )


@pytest.mark.parametrize(
    ("action", "detail", "expected"),
    [
        ("staff.role", {"email": "a@example.jp", "from": "viewer", "to": "processor"},
         "管理 が a@example.jp の役割を「閲覧者」から「処理担当者」に変更しました"),
        ("staff.scope", {"email": "a@example.jp", "from": False, "to": True},
         "管理 が a@example.jp の担当範囲を「すべての手続」から「所属の手続だけ」に変更しました"),
        ("staff.departments", {"email": "a@example.jp", "from": "", "to": "市民課、税務課"},
         "管理 が a@example.jp の所属を「なし」から「市民課、税務課」に変更しました"),
        ("procedure.publish", {"version": 3}, "管理 が 手続「教室」の第3版を公開しました"),
        ("procedure.settings", {"changed": {"title": {"from": "旧", "to": "新"}}},
         "管理 が 手続「教室」の設定を変更しました（"),
        ("submission.export", {"format": "xlsx"}, "管理 が 教室 の申請データをExcel（.xlsx）で出力しました"),
        ("submission.export", {"format": "pdf", "document": "receipt"}, "管理 が 受付番号 教室 の控えをPDFで出力しました"),
        ("department.update", {"before": {"name": "市民課", "phone": "1"}, "after": {"name": "市民課", "phone": "2"}},
         "管理 が 所属「市民課」を変更しました（電話番号：1 → 2）"),
    ],
)  # fmt: skip
def test_sentences_of_details(action, detail, expected):
    line = sentences.Line(action=action, actor="管理", object="教室", detail=detail)
    assert expected in sentences.render(line)


@given(
    action=st.sampled_from([*sorted(sentences.ACTIONS), "unknown.thing", ""]),
    detail=st.dictionaries(
        st.text(max_size=10),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=300),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=6,
        ),
        max_size=5,
    ),
)
def test_any_detail_of_any_action_renders_a_sentence_without_keys(action, detail):
    """Details of any shape (renamed keys, lists, nesting) never break the page nor show key=value."""
    text = sentences.render(sentences.Line(action=action, actor="山田 太郎", object="教室", detail=detail))
    assert text.startswith("山田 太郎 が")
    assert not re.search(r"\w=\S", text.replace("→", ""))


def test_unknown_action_reads_as_a_sentence_with_values_only():
    line = sentences.Line(
        action="survey.close",
        actor="山田 太郎",
        object="アンケート",
        detail={"closed_by": "期限", "count": 1200},
    )
    text = sentences.render(line)
    assert text.startswith("山田 太郎 が アンケート について「")
    assert "期限" in text and "1,200" in text
    assert "closed_by" not in text and "=" not in text


def test_deleted_object_is_named_in_words(client, owner, tottori):
    from madoguchi.organizations.models import Department

    department = Department.objects.create(organization=tottori, name="臨時課")
    record(
        organization=tottori,
        actor=owner,
        action="department.delete",
        obj=department,
        detail={"name": "臨時課"},
    )
    department.delete()
    client.force_login(owner)
    page = page_of(client, tottori).content.decode()
    assert "owner が 所属「臨時課」を削除しました" in page


# Repeat views collapse -------------------------------------------------------------------------------


def _view(client, submission):
    return client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk}))


def test_same_person_viewing_again_within_30_minutes_is_one_entry(client, colleague, submission):
    client.force_login(colleague)
    for _ in range(3):
        assert _view(client, submission).status_code == 200
    entry = AuditLog.objects.get(action="submission.view")
    assert entry.repeat_count == 3 and entry.last_seen_at >= entry.created_at


def test_the_collapsed_entry_says_how_often(client, owner, colleague, submission, tottori):
    client.force_login(colleague)
    _view(client, submission)
    _view(client, submission)
    client.force_login(owner)
    page = page_of(client, tottori).content.decode()
    assert "30分以内に続けて2回" in page


def test_a_view_after_the_window_is_a_new_entry(client, colleague, submission):
    client.force_login(colleague)
    _view(client, submission)
    AuditLog.objects.filter(action="submission.view").update(
        created_at=timezone.now() - VIEW_REPEAT_WINDOW - timedelta(minutes=1),
        last_seen_at=timezone.now() - VIEW_REPEAT_WINDOW - timedelta(minutes=1),
    )
    _view(client, submission)
    assert AuditLog.objects.filter(action="submission.view").count() == 2


def test_the_window_runs_from_the_last_view(colleague, submission, tottori):
    first = record(organization=tottori, actor=colleague, action="submission.view", obj=submission)
    AuditLog.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(minutes=50), last_seen_at=timezone.now() - timedelta(minutes=10)
    )
    again = record(organization=tottori, actor=colleague, action="submission.view", obj=submission)
    assert again.pk == first.pk and again.repeat_count == 2


def test_views_of_different_people_or_cases_are_separate(colleague, viewer, submission, procedure, tottori):
    other = make_submission(procedure).submission
    record(organization=tottori, actor=colleague, action="submission.view", obj=submission)
    record(organization=tottori, actor=viewer, action="submission.view", obj=submission)
    record(organization=tottori, actor=colleague, action="submission.view", obj=other)
    assert AuditLog.objects.filter(action="submission.view").count() == 3


def test_changes_never_collapse_and_a_change_between_views_starts_a_new_entry(client, colleague, submission):
    client.force_login(colleague)
    _view(client, submission)
    services.add_note(submission=submission, author=colleague, body="確認中")
    services.add_note(submission=submission, author=colleague, body="確認済み")
    _view(client, submission)
    actions = list(
        AuditLog.objects.filter(action__startswith="submission.")
        .order_by("id")
        .values_list("action", "repeat_count")
    )
    assert actions == [
        ("submission.view", 1),
        ("submission.note", 1),
        ("submission.note", 1),
        ("submission.view", 1),
    ]


def test_a_residents_and_the_systems_actions_never_collapse(submission, tottori):
    record(organization=tottori, actor="申請者", action="submission.view", obj=submission)
    record(organization=tottori, actor=None, action="submission.view", obj=submission)
    assert AuditLog.objects.filter(action="submission.view").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_tabs_opening_the_case_at_once_make_one_entry(colleague, submission, tottori):
    from django.db import connections

    def view():
        try:
            record(organization=tottori, actor=colleague, action="submission.view", obj=submission)
        finally:
            connections.close_all()

    for _ in range(3):
        run_at_once(view, view, view)
    entries = list(AuditLog.objects.filter(action="submission.view"))
    assert len(entries) == 1 and entries[0].repeat_count == 9


# Filters ---------------------------------------------------------------------------------------------


def _entry_at(tottori, actor, obj, moment, action="submission.note"):
    entry = record(organization=tottori, actor=actor, action=action, obj=obj)
    AuditLog.objects.filter(pk=entry.pk).update(created_at=moment)
    return entry


def test_date_range_is_in_japan_time(client, owner, colleague, submission, tottori):
    # 2026-04-01 00:30 JST is 2026-03-31 15:30 UTC: it belongs to 4/1 on screen.
    _entry_at(tottori, colleague, submission, datetime(2026, 3, 31, 15, 30, tzinfo=UTC))
    _entry_at(tottori, colleague, submission, datetime(2026, 3, 31, 14, 30, tzinfo=UTC))  # 3/31 23:30 JST
    client.force_login(owner)
    page = page_of(client, tottori, **{"from": "2026/4/1", "to": "令和8年4月1日"}).content.decode()
    assert "2026/04/01 00:30:00" in page and "2026/03/31 23:30:00" not in page


def test_filters_by_person_receipt_and_action(client, owner, colleague, viewer, procedure, tottori):
    mine = make_submission(procedure).submission
    other = make_submission(procedure).submission
    services.add_note(submission=mine, author=colleague, body="a")
    services.add_note(submission=other, author=viewer, body="b")
    services.transition(submission=mine, to_status="in_review", actor=viewer)
    client.force_login(owner)
    mine_receipt = format_receipt_number(mine.receipt_number)
    other_receipt = format_receipt_number(other.receipt_number)

    page = page_of(client, tottori, actor=str(colleague.pk)).content.decode()
    assert f"colleague が 受付番号 {mine_receipt} に内部メモを追加しました" in page
    assert "viewer が" not in page

    wide = mine_receipt.translate(
        str.maketrans("0123456789-", "０１２３４５６７８９－")
    )  # as typed on a phone
    page = page_of(client, tottori, receipt=wide).content.decode()
    assert mine_receipt in page and other_receipt not in page

    page = page_of(client, tottori, action="submission.transition").content.decode()
    assert (
        "の状態を「処理待ち」から「処理中」に変更しました" in page
        and "内部メモ" not in page.split("<tbody>")[1]
    )

    page = page_of(client, tottori, actor="resident").content.decode()
    assert "条件に合う記録はありません" in page


def test_the_action_filter_offers_japanese_names(client, owner, tottori):
    client.force_login(owner)
    page = page_of(client, tottori).content.decode()
    assert '<option value="submission.view">申請内容の閲覧</option>' in page
    assert '<option value="staff.scope">職員の担当範囲の変更</option>' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"receipt": "1" * 10_000}, "「受付番号」は100文字以内で入力してください（現在10,000文字です）"),
        (
            {"from": "2026/4/1\x1b"},
            "「期間（から）」に使えない文字",
        ),  # (a NUL leaves every query: security.py)
        ({"to": "2026\u202e/4/1"}, "「期間（まで）」に使えない文字"),
        ({"from": "きのう"}, "期間（から）："),
        ({"from": "2026/2/30"}, "期間（から）："),
        ({"from": "2026/5/1", "to": "2026/4/1"}, "期間の終わりが始まりより前になっています"),
        ({"receipt": "4821-0395-77"}, "受付番号は10桁の数字です"),
        ({"actor": "999999"}, "操作した人は一覧から選び直してください"),
        ({"action": "rm -rf"}, "操作は一覧から選び直してください"),
    ],
)
def test_bad_filters_are_explained_and_kept(client, owner, tottori, params, message):
    client.force_login(owner)
    response = page_of(client, tottori, **params)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert "エラー：" in page  # in the title, for screen readers
    for name, value in params.items():
        if name in ("from", "to", "receipt") and "\x00" not in value and len(value) < 1000:
            assert f'value="{value}"' in page  # what was typed is still there to correct


def test_an_unreadable_page_cursor_starts_from_the_newest(client, owner, colleague, submission, tottori):
    services.add_note(submission=submission, author=colleague, body="a")
    client.force_login(owner)
    response = page_of(client, tottori, before="99999999999999999999999.1")
    assert response.status_code == 200
    page = response.content.decode()
    assert "最新の記録から表示しています" in page and "内部メモを追加しました" in page


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(["from", "to", "actor", "receipt", "action", "before"]),
        st.text(max_size=300),
        max_size=6,
    )
)
def test_any_query_is_a_page_never_a_500(client, owner, tottori, params):
    client.force_login(owner)
    clean = {k: v.replace("\x00", "") for k, v in params.items()}  # a URL cannot carry NUL on the wire
    response = page_of(client, tottori, **clean)
    assert response.status_code in (200, 400)


# Pages -----------------------------------------------------------------------------------------------


def test_keyset_pages_walk_every_entry_once(client, owner, colleague, submission, tottori):
    moment = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
    for i in range(230):
        # Ten at the very same moment each: the id breaks the tie.
        _entry_at(tottori, colleague, submission, moment + timedelta(seconds=i // 10))
    client.force_login(owner)
    seen, url = [], audit_url(tottori)
    for _ in range(5):
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        seen += re.findall(r"内部メモを追加しました", page)
        more = re.search(r'<a href="\?([^"]+)">さらに古い記録', page)
        if not more:
            break
        url = audit_url(tottori) + "?" + more[1].replace("&amp;", "&")
    assert len(seen) == 230


def test_pages_keep_the_filters(client, owner, colleague, viewer, submission, tottori):
    for _ in range(105):
        record(organization=tottori, actor=colleague, action="submission.note", obj=submission)
    record(organization=tottori, actor=viewer, action="submission.note", obj=submission)
    client.force_login(owner)
    page = page_of(client, tottori, actor=str(colleague.pk)).content.decode()
    link = re.search(r'<a href="\?([^"]+)">さらに古い記録', page)[1].replace("&amp;", "&")
    assert f"actor={colleague.pk}" in link
    second = client.get(audit_url(tottori) + "?" + link).content.decode()
    assert second.count("内部メモを追加しました") == 5 and "viewer が" not in second


def test_cursor_round_trip(colleague, submission, tottori):
    entry = record(organization=tottori, actor=colleague, action="submission.note", obj=submission)
    assert decode_cursor(encode_cursor(entry)) == (entry.created_at, entry.pk)
    assert decode_cursor("1.2.3") is None and decode_cursor("") is None and decode_cursor("１.2") is None


def test_a_page_costs_a_few_queries(
    client, owner, colleague, procedure, tottori, django_assert_max_num_queries
):
    for _ in range(20):
        submission = make_submission(procedure).submission
        services.add_note(submission=submission, author=colleague, body="a")
    client.force_login(owner)
    # on PostgreSQL one more: the statement that sets the request's tenant scope (lib/tenancy.py)
    with django_assert_max_num_queries(13 if connection.vendor == "postgresql" else 12):
        assert page_of(client, tottori).status_code == 200


# Who may read it -------------------------------------------------------------------------------------


def test_outsider_gets_404_and_a_processor_403(client, outsider, colleague, tottori):
    client.force_login(outsider)
    assert page_of(client, tottori).status_code == 404
    client.force_login(colleague)
    assert page_of(client, tottori).status_code == 403


def test_another_organizations_entries_never_show(client, owner, outsider, yonago, tottori):
    from tests.conftest import make_procedure

    theirs = make_procedure(yonago, title="米子市の講座")
    record(organization=yonago, actor=outsider, action="procedure.create", obj=theirs, detail={"title": "x"})
    client.force_login(owner)
    assert "米子市の講座" not in page_of(client, tottori).content.decode()


@pytest.mark.database("postgresql")
def test_postgresql_reads_a_page_through_an_index(owner, tottori):
    """With the planner told to avoid sorting, the newest page of one organization and one action is an
    index scan of AuditLog.Meta's indexes (at millions of rows it is the only sane plan)."""
    from madoguchi.audit.views import Filters, filtered_entries

    for action in ("", "submission.view"):
        queryset = filtered_entries(tottori, Filters(typed={}, action=action))[:101]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            sql, params = queryset.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "audit_org_" in plan, plan
        assert "Sort" not in plan.split("Limit")[1] if "Limit" in plan else True


def test_a_settings_change_reads_in_words_and_a_time_saved_to_the_minute_is_no_change(
    client, owner, procedure
):
    """Booleans read はい/いいえ and times read in JST to the minute; saving the form again, which drops the
    seconds of 受付終了, records nothing."""
    from madoguchi.lib.timeutil import JST
    from madoguchi.procedures import services as procedure_services

    procedure.closes_at = datetime(2027, 11, 30, 23, 36, 27, 672081, tzinfo=JST)
    procedure.save(update_fields=["closes_at"])
    procedure_services.update_procedure_settings(
        procedure=procedure,
        actor=owner,
        values={
            "requires_email_verification": True,
            "closes_at": datetime(2027, 11, 30, 23, 36, tzinfo=JST),
        },
    )
    entry = AuditLog.objects.filter(action="procedure.settings").latest("id")
    assert set(entry.detail["changed"]) == {"requires_email_verification"}
    assert entry.detail["changed"]["requires_email_verification"] == {"from": False, "to": True}
    procedure_services.update_procedure_settings(
        procedure=procedure, actor=owner, values={"closes_at": datetime(2027, 12, 1, 9, 0, tzinfo=JST)}
    )
    client.force_login(owner)
    page = client.get(reverse("staff:audit", kwargs={"code": procedure.organization.code})).content.decode()
    assert "いいえ → はい" in page and "False" not in page
    assert "2027-11-30 23:36 → 2027-12-01 09:00" in page and "+00:00" not in page
