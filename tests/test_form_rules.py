"""Pages, conditions, skips, exit pages and repeating groups: refused when unsound, followed by the server
on every step and on submit. A field that is not shown is never required, never checked, never stored."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.procedures import rules
from madoguchi.procedures.formspec import FormSpec, FormSpecError, parse_form_spec
from madoguchi.submissions import intake
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Submission
from tests.conftest import hidden_fields, make_procedure

HOUSEHOLD = {
    "email_field": "email",
    "pages": [
        {"key": "who", "title": "申請する人", "fields": ["name", "email", "status"]},
        {"key": "members", "title": "世帯の人", "fields": ["members"],
         "show_if": [{"field": "status", "op": "equals", "value": "世帯で申請"}]},
        {"key": "income", "title": "収入", "fields": ["income", "income_note", "proof"],
         "skip_to": [{"when": [{"field": "income", "op": "gt", "value": "5000000"}], "goto": "over"}]},
        {"key": "agree", "title": "同意", "fields": ["agree"]},
        {"key": "over", "title": "対象外", "fields": [],
         "exit_message": "所得が基準を超えるため、この給付の対象になりません。"},
    ],
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "status", "type": "single_choice", "label": "申請の単位", "required": True,
         "options": ["本人のみ", "世帯で申請"], "options_en": ["Myself only", "My household"]},
        {"key": "members", "type": "group", "label": "世帯員", "item_label": "世帯員", "required": True,
         "min_items": 1, "max_items": 3, "fields": [
             {"key": "name", "type": "name", "label": "氏名", "required": True},
             {"key": "relation", "type": "dropdown", "label": "続柄", "required": True,
              "options": ["配偶者", "子", "父母", "その他"]},
             {"key": "birth", "type": "date", "label": "生年月日", "past_only": True},
         ]},
        {"key": "income", "type": "number", "label": "前年の所得", "required": True, "unit": "円"},
        {"key": "income_note", "type": "long_text", "label": "所得が0円の理由", "required": True,
         "show_if": [{"field": "income", "op": "lte", "value": "0"}]},
        {"key": "proof", "type": "short_text", "label": "証明書の番号",
         "show_if": [{"field": "status", "op": "equals", "value": "世帯で申請"}]},
        {"key": "agree", "type": "consent", "label": "内容に誤りはありません", "required": True},
    ],
}  # fmt: skip


def form_url(procedure, page=None):
    url = reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})
    return f"{url}?page={page}" if page else url


def confirm_url(procedure):
    return reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


def post_page(client, procedure, page, data, **extra):
    return client.post(
        form_url(procedure), {"version": procedure.current_version_id, "page": page, **data, **extra}
    )


WHO = {"name__family": "髙橋", "name__given": "﨑子", "email": "sakiko@example.jp"}


# Checked when saved ------------------------------------------------------------------------------------


def with_field(*extra, pages=None):
    fields = [
        {"key": "kind", "type": "single_choice", "label": "区分", "options": ["個人", "法人"]},
        {"key": "count", "type": "number", "label": "人数"},
        *extra,
    ]
    document = {"fields": fields}
    if pages is not None:
        document["pages"] = pages
    return document


@pytest.mark.parametrize(
    ("document", "message", "index"),
    [
        (with_field({"key": "x", "type": "short_text", "label": "法人名",
                     "show_if": [{"field": "gone", "op": "equals", "value": "法人"}]}),
         "ない項目（削除された項目）を指しています", 2),
        (with_field({"key": "x", "type": "short_text", "label": "法人名",
                     "show_if": [{"field": "x", "op": "not_empty"}]}),
         "後ろにある項目「法人名」は使えません", 2),
        (with_field({"key": "x", "type": "short_text", "label": "法人名",
                     "show_if": [{"field": "kind", "op": "equals", "value": "団体"}]}),
         "選択肢にありません", 2),
        (with_field({"key": "x", "type": "short_text", "label": "法人名",
                     "show_if": [{"field": "kind", "op": "gt", "value": "1"}]}),
         "数値か日付の項目にだけ使えます", 2),
        (with_field({"key": "x", "type": "short_text", "label": "法人名",
                     "show_if": [{"field": "count", "op": "gt", "value": "たくさん"}]}),
         "数値にしてください", 2),
        (with_field({"key": "x", "type": "short_text", "label": "法人名",
                     "show_if": [{"field": "count", "op": "equals"}]}),
         "値を入れてください", 2),
    ],
)  # fmt: skip
def test_a_broken_condition_is_refused_at_the_field_it_is_on(document, message, index):
    with pytest.raises(FormSpecError) as exc:
        parse_form_spec(document)
    problem = next(p for p in exc.value.problems if message in p.message)
    assert problem.field_index == index and problem.attribute == "show_if"


def test_a_condition_on_a_later_field_is_refused_so_rules_can_never_go_round_in_a_circle():
    document = {
        "fields": [
            {"key": "a", "type": "short_text", "label": "A", "show_if": [{"field": "b", "op": "not_empty"}]},
            {"key": "b", "type": "short_text", "label": "B", "show_if": [{"field": "a", "op": "not_empty"}]},
        ]
    }
    with pytest.raises(FormSpecError) as exc:
        parse_form_spec(document)
    assert any("後ろにある項目「B」は使えません" in m and "めぐって" in m for m in exc.value.messages)


PAGES = [
    {"key": "p1", "fields": ["kind", "count"]},
    {"key": "p2", "fields": []},
    {"key": "end", "fields": [], "exit_message": "対象外です"},
]


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ([{**PAGES[0], "skip_to": [{"when": [], "goto": "p1"}]}, *PAGES[1:]], "このページより後のページにしてください"),
        ([{**PAGES[0], "skip_to": [{"when": [], "goto": "nowhere"}]}, *PAGES[1:]], "ページ「nowhere」がありません"),
        ([{**PAGES[0], "skip_to": [{"when": [], "goto": "end"}]}, *PAGES[1:]], "申請を最後まで送れません"),
        ([{"key": "p1", "fields": ["kind"]}, {"key": "end", "fields": [], "exit_message": "x"}], "どのページにも入っていません"),
        ([{"key": "p1", "fields": ["kind", "count"]}, {"key": "p2", "fields": ["count"]}], "2つのページに入っています"),
        ([{"key": "p1", "fields": ["kind"]}, {"key": "end", "fields": ["count"], "exit_message": "x"}], "質問を入れられません"),
        ([{"key": "p1", "fields": ["kind", "count"]}, {"key": "p1", "fields": []}], "ページキー「p1」が重複しています"),
    ],
)  # fmt: skip
def test_unsound_pages_are_refused_with_a_message(pages, message):
    with pytest.raises(FormSpecError) as exc:
        parse_form_spec(with_field(pages=pages))
    assert any(message in m for m in exc.value.messages), exc.value.messages


def test_a_conditional_skip_to_an_exit_page_leaves_a_way_to_finish():
    pages = [
        {
            **PAGES[0],
            "skip_to": [{"when": [{"field": "kind", "op": "equals", "value": "法人"}], "goto": "end"}],
        },
        *PAGES[1:],
    ]
    spec = parse_form_spec(with_field(pages=pages))
    assert rules.evaluate(spec, {"kind": "法人"}).exit.key == "end"
    flow = rules.evaluate(spec, {"kind": "個人"})
    assert flow.exit is None and [p.key for p in flow.pages] == ["p1", "p2"]


# Followed by the server --------------------------------------------------------------------------------


def test_the_path_follows_the_answers():
    spec = parse_form_spec(HOUSEHOLD)
    alone = rules.evaluate(spec, {"status": "本人のみ", "income": "100"})
    assert [p.key for p in alone.pages] == ["who", "income", "agree"]
    assert "proof" not in alone.shown and "income_note" not in alone.shown
    household = rules.evaluate(spec, {"status": "世帯で申請", "income": "0"})
    assert [p.key for p in household.pages] == ["who", "members", "income", "agree"]
    assert {"proof", "income_note", "members"} <= set(household.shown)
    rich = rules.evaluate(spec, {"status": "本人のみ", "income": "6000000"})
    assert rich.exit.key == "over" and "agree" not in rich.shown


def test_a_hidden_required_field_is_not_required_and_a_forged_answer_to_it_is_dropped():
    spec = parse_form_spec(HOUSEHOLD)
    data = MultiValueDict(
        {"status": ["本人のみ"], "income": ["300"], "income_note": ["送りつけた文"], "proof": ["X-1"]}
    )
    result = intake.parse(spec, data, None)
    assert "income_note" not in result.values and "proof" not in result.values
    assert "income_note" not in result.errors and "members" not in result.errors
    assert "agree" in result.errors  # shown and required


ANSWERS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.one_of(
        st.sampled_from(["", "1", "5", "はい", "いいえ", "x"]), st.lists(st.sampled_from(["はい", "いいえ"]))
    ),
)
OPS = st.sampled_from(["equals", "not_equals", "one_of", "contains", "empty", "not_empty", "gt", "lte"])


@st.composite
def rule_sets(draw):
    """Random forms of four fields, each (but the first) maybe shown only under conditions on earlier ones."""
    types = ["single_choice", "number", "short_text", "multiple_choice"]
    fields = []
    for i, key in enumerate(["a", "b", "c", "d"]):
        kind = draw(st.sampled_from(types))
        field = {"key": key, "type": kind, "label": f"問{i + 1}", "required": draw(st.booleans())}
        if kind in ("single_choice", "multiple_choice"):
            field["options"] = ["はい", "いいえ"]
        if i and draw(st.booleans()):
            target = fields[draw(st.integers(0, i - 1))]
            op = draw(OPS)
            if target["type"] != "number" and op in ("gt", "lte"):
                op = "not_empty"
            value = None
            if op in ("gt", "lte"):
                value = draw(st.sampled_from(["1", "3"]))
            elif op == "one_of":
                value = ["はい"]
            elif op not in ("empty", "not_empty"):
                value = "はい" if "options" in target or op == "contains" else "5"
                if target["type"] == "number" and op == "contains":
                    op = "not_empty"
                    value = None
            field["show_if"] = [{"field": target["key"], "op": op, "value": value}]
        fields.append(field)
    return {"fields": fields}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=rule_sets(), sent=ANSWERS)
def test_a_hidden_field_is_never_required_checked_or_stored(document, sent):
    spec = parse_form_spec(document)
    data = MultiValueDict({k: (v if isinstance(v, list) else [v]) for k, v in sent.items()})
    result = intake.parse(spec, data, None)
    flow = rules.evaluate(spec, result.values)
    shown = set(flow.shown)
    assert set(result.values) <= shown
    assert set(result.errors) <= shown
    assert result.values == flow.values  # the server's walk and a second look agree
    for key in shown:
        field = spec.field(key)
        if field.required and key not in result.values:
            assert key in result.errors
    assert rules.shown_answers(spec, result.values) == result.values


# The resident's path -----------------------------------------------------------------------------------


@pytest.fixture
def household(tottori):
    return make_procedure(tottori, HOUSEHOLD, title="臨時特別給付金の申請", kind="application")


@pytest.mark.django_db
def test_a_resident_goes_page_by_page_changes_an_answer_from_the_confirmation_page_and_submits(household):
    resident = Client()
    page = resident.get(form_url(household)).content.decode()
    assert "1 / 3 ページ" in page and "申請する人" in page and "世帯員" not in page
    assert "次へ進む" in page and "前のページに戻る" not in page

    response = post_page(resident, household, "who", {**WHO, "status": "世帯で申請"})
    assert response["Location"] == form_url(household, "members")
    page = resident.get(response["Location"]).content.decode()
    assert "2 / 4 ページ" in page and "世帯員 1" in page and 'name="members__0__name__family"' in page

    # Another member without JavaScript: what was typed stays.
    response = post_page(
        resident, household, "members",
        {"members__count": "1", "members__0__name__family": "髙橋", "members__0__name__given": "一郎",
         "members__0__relation": "配偶者", "group_add": "members"},
    )  # fmt: skip
    page = resident.get(response["Location"].split("#")[0]).content.decode()
    assert 'value="一郎"' in page and "世帯員 2" in page and 'name="members__count" value="2"' in page
    response = post_page(
        resident, household, "members",
        {"members__count": "2", "members__0__name__family": "髙橋", "members__0__name__given": "一郎",
         "members__0__relation": "配偶者", "members__1__name__family": "髙橋", "members__1__name__given": "花",
         "members__1__relation": ""},
    )  # fmt: skip
    page = resident.get(response["Location"]).content.decode()
    assert "世帯員 2 の「続柄」を入力してください" in page
    response = post_page(
        resident, household, "members",
        {"members__count": "2", "members__0__name__family": "髙橋", "members__0__name__given": "一郎",
         "members__0__relation": "配偶者", "members__1__name__family": "髙橋", "members__1__name__given": "花",
         "members__1__relation": "子", "members__1__birth": "令和2年5月1日"},
    )  # fmt: skip
    assert response["Location"] == form_url(household, "income")

    # Back a page keeps what was typed on this one.
    post_page(resident, household, "income", {"income": "０", "go_back": "1"})
    page = resident.get(form_url(household)).content.decode()
    assert "世帯の人" in page and 'value="花"' in page
    response = post_page(resident, household, "income", {"income": "0", "income_note": "", "proof": "A-1"})
    assert "「所得が0円の理由」を入力してください" in resident.get(response["Location"]).content.decode()
    response = post_page(
        resident, household, "income", {"income": "0", "income_note": "無職のため", "proof": "A-1"}
    )
    response = post_page(resident, household, "agree", {"agree": "1"})
    assert response["Location"] == confirm_url(household)

    page = resident.get(confirm_url(household)).content.decode()
    for title in ("申請する人", "世帯の人", "収入", "同意"):
        assert f">{title}</h3>" in page
    assert "世帯員 1　氏名：髙橋　一郎、続柄：配偶者" in page
    assert page.count("変更する") == 4
    change = re.search(r'href="([^"]*page=who&amp;return=confirm)"', page).group(1).replace("&amp;", "&")
    page = resident.get(change).content.decode()
    assert "確認画面に戻る" in page and 'name="return_to" value="confirm"' in page
    # Now alone: the household page and the certificate number drop out.
    response = post_page(resident, household, "who", {**WHO, "status": "本人のみ", "return_to": "confirm"})
    assert response["Location"] == confirm_url(household)
    page = resident.get(confirm_url(household)).content.decode()
    assert "世帯の人" not in page and "証明書の番号" not in page and "A-1" not in page

    resident.post(confirm_url(household), hidden_fields(page))
    submission = Submission.objects.get(procedure=household)
    answers = read_answers(submission)
    assert set(answers) == {"name", "email", "status", "income", "income_note", "agree"}
    assert "members" not in answers and "proof" not in answers


@pytest.mark.django_db
def test_an_exit_page_ends_the_form_and_nothing_can_be_sent(household):
    resident = Client()
    post_page(resident, household, "who", {**WHO, "status": "本人のみ"})
    response = post_page(resident, household, "income", {"income": "6,000,000"})
    assert response["Location"] == form_url(household, "over")
    page = resident.get(response["Location"]).content.decode()
    assert "対象になりません" in page and "入力内容を確認する" not in page and "次へ進む" not in page
    assert resident.get(confirm_url(household))["Location"].startswith(form_url(household))
    response = post_page(resident, household, "over", {"go_back": "1"})
    assert "前年の所得" in resident.get(response["Location"]).content.decode()
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_a_same_page_condition_is_explained_without_javascript(tottori):
    document = {
        "fields": [
            {"key": "kind", "type": "single_choice", "label": "区分", "required": True, "options": ["個人", "法人"]},
            {"key": "corp", "type": "short_text", "label": "法人名", "required": True,
             "show_if": [{"field": "kind", "op": "equals", "value": "法人"}]},
        ]
    }  # fmt: skip
    procedure = make_procedure(tottori, document, title="事業者登録", kind="application")
    resident = Client()
    page = resident.get(form_url(procedure)).content.decode()
    assert "data-show-if=" in page and "「区分」が次と同じ：法人 の場合にお答えください。" in page
    assert "rules.js" in page
    response = resident.post(
        form_url(procedure), {"version": procedure.current_version_id, "kind": "個人", "corp": "送ったが不要"}
    )
    assert response["Location"] == confirm_url(procedure)
    page = resident.get(confirm_url(procedure)).content.decode()
    assert "法人名" not in page and "送ったが不要" not in page


@pytest.mark.django_db
def test_one_question_per_page(tottori):
    document = {
        "one_question_per_page": True,
        "fields": [
            {"key": "intro", "type": "heading", "label": "はじめに", "text": "3問です"},
            {"key": "q1", "type": "short_text", "label": "問1", "required": True},
            {"key": "q2", "type": "short_text", "label": "問2"},
            {"key": "q3", "type": "short_text", "label": "問3"},
        ],
    }
    procedure = make_procedure(tottori, document, title="3問アンケート", kind="survey")
    resident = Client()
    page = resident.get(form_url(procedure)).content.decode()
    assert "1 / 3 ページ" in page and "はじめに" in page and "問1" in page and "問2" not in page
    assert post_page(resident, procedure, "q1", {"q1": "はい"})["Location"] == form_url(procedure, "q2")
    assert post_page(resident, procedure, "q2", {"q2": ""})["Location"] == form_url(procedure, "q3")
    assert post_page(resident, procedure, "q3", {"q3": "いいえ"})["Location"] == confirm_url(procedure)


@pytest.mark.django_db
def test_a_resident_who_chose_english_sees_the_english_texts_and_japanese_where_none_was_written(household):
    resident = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = resident.get(form_url(household)).content.decode()
    assert "Myself only" in page and "My household" in page
    assert 'value="本人のみ"' in page  # the stored answer stays the Japanese option
    assert "メールアドレス" in page  # no English written: the Japanese label


def test_groups_cannot_hold_files_or_groups():
    document = {
        "fields": [
            {"key": "g", "type": "group", "label": "世帯員",
             "fields": [{"key": "f", "type": "file", "label": "写真"}]},
        ]
    }  # fmt: skip
    with pytest.raises(FormSpecError) as exc:
        parse_form_spec(document)
    assert "繰り返しの項目や添付ファイルは入れられません" in str(exc.value)


def test_a_form_without_rules_takes_the_quick_path():
    spec = FormSpec.model_validate({"fields": [{"key": "a", "type": "short_text", "label": "A"}]})
    assert not spec.has_rules
    assert rules.shown_answers(spec, {"a": "x", "zzz": "y"}) == {"a": "x", "zzz": "y"}


@pytest.mark.django_db
def test_staff_see_the_questions_the_resident_was_asked_and_the_groups_items(household, colleague):
    from tests.conftest import make_submission

    answers = {
        "name": {"family": "髙橋", "given": "﨑子"}, "email": "sakiko@example.jp", "status": "世帯で申請",
        "members": [{"name": {"family": "髙橋", "given": "一郎"}, "relation": "配偶者"}],
        "income": "0", "income_note": "無職のため", "agree": True,
    }  # fmt: skip
    submission = make_submission(household, answers).submission
    staff = Client()
    staff.force_login(colleague)
    page = staff.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert "所得が0円の理由" in page and "無職のため" in page
    assert "世帯員 1　氏名：髙橋　一郎、続柄：配偶者" in page
    assert "証明書の番号" in page  # asked (household), left empty
    alone = make_submission(household, {**answers, "status": "本人のみ", "income": "100"}).submission
    page = staff.get(reverse("staff:submission", kwargs={"submission_id": alone.pk})).content.decode()
    assert "証明書の番号" not in page and "所得が0円の理由" not in page and "世帯員" not in page


@pytest.mark.django_db
def test_the_write_path_itself_drops_answers_the_rules_do_not_ask_for(household):
    from tests.conftest import make_submission

    answers = {
        "name": {"family": "髙橋", "given": "﨑子"}, "email": "sakiko@example.jp", "status": "本人のみ",
        "members": [{"name": {"family": "髙橋", "given": "一郎"}, "relation": "配偶者"}],
        "income": "100", "income_note": "送りつけた文", "proof": "X-1", "agree": True,
    }  # fmt: skip
    submission = make_submission(household, answers, orm_path=True).submission
    assert set(read_answers(submission)) == {"name", "email", "status", "income", "agree"}


@pytest.mark.django_db
def test_the_confirmation_page_lists_a_question_shown_by_an_answer_on_an_earlier_page(household):
    resident = Client()
    post_page(resident, household, "who", {**WHO, "status": "世帯で申請"})
    post_page(resident, household, "members", {"members__count": "1", "members__0__name__family": "髙橋",
                                                "members__0__name__given": "一郎", "members__0__relation": "子"})  # fmt: skip
    post_page(resident, household, "income", {"income": "100", "proof": "A-1"})
    post_page(resident, household, "agree", {"agree": "1"})
    page = resident.get(confirm_url(household)).content.decode()
    assert "証明書の番号" in page and "A-1" in page  # on the 収入 page, shown by the 申請する人 page
