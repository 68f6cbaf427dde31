"""The builder's conditions, pages, skips, exit pages and repeating groups, by plain form posts: refused with
a message at the spot when they cannot work, followed by the resident's form once published."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.procedures import rules, services
from madoguchi.procedures.formspec import parse_form_spec
from madoguchi.procedures.models import Procedure
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Submission
from tests.conftest import hidden_fields

pytestmark = pytest.mark.django_db


def url(procedure, name="builder", **kwargs):
    return reverse(f"staff:{name}", kwargs={"procedure_id": procedure.pk, **kwargs})


def draft(procedure) -> dict:
    procedure.refresh_from_db()
    return services.draft_of(procedure)


def post(client, procedure, name, data, **kwargs):
    procedure.refresh_from_db()
    return client.post(url(procedure, name, **kwargs), {"revision": procedure.draft_revision, **data})


@pytest.fixture
def client(editor):
    client = Client()
    client.force_login(editor)
    return client


@pytest.fixture
def procedure(client, tottori):
    client.post(
        reverse("staff:procedure_new", kwargs={"code": "312011"}),
        {"title": "子育て応援給付金", "kind": "application", "retention_years": "5"},
    )
    procedure = Procedure.objects.get(title="子育て応援給付金")
    for data in (
        {"type": "name", "label": "氏名", "required": "on"},
        {"type": "single_choice", "label": "お子さんの人数", "required": "on", "options": "1人\n2人以上"},
        {"type": "number", "label": "世帯の所得", "required": "on", "unit": "円"},
    ):
        assert post(client, procedure, "builder_field_new", data).status_code == 302
    return procedure


def keys(procedure):
    return [f["key"] for f in draft(procedure)["fields"]]


def test_a_field_shown_under_a_condition_is_saved_and_followed_by_the_residents_form(client, procedure):
    children = keys(procedure)[1]
    response = post(
        client, procedure, "builder_field_new",
        {"type": "group", "label": "お子さん", "item_label": "お子さん", "min_items": "1", "max_items": "5",
         "sub_label_0": "氏名", "sub_type_0": "name", "sub_required_0": "on",
         "sub_label_1": "生年月日", "sub_type_1": "date",
         "cond_field_0": children, "cond_op_0": "equals", "cond_value_0": "2人以上"},
    )  # fmt: skip
    assert response.status_code == 302
    group = draft(procedure)["fields"][-1]
    assert group["show_if"] == [{"field": children, "op": "equals", "value": "2人以上"}]
    assert [f["label"] for f in group["fields"]] == ["氏名", "生年月日"] and group["fields"][0]["required"]
    page = client.get(url(procedure, "builder_field", key=group["key"])).content.decode()
    assert 'value="2人以上"' in page and "selected>お子さんの人数</option>" in page.replace(
        '" selected', " selected"
    )

    post(client, procedure, "builder_publish", {})
    resident = Client()
    form = reverse("public:form", kwargs={"code": "312011", "procedure_id": procedure.pk})
    html = resident.get(form).content.decode()
    assert "data-show-if" in html and "お子さん 1" in html
    name, children, income = keys(procedure)[:3]
    response = resident.post(
        form,
        {"version": procedure.current_version_id, f"{name}__family": "髙橋", f"{name}__given": "﨑子",
         children: "1人", income: "3000000", f"{group['key']}__count": "1",
         f"{group['key']}__0__s1__family": "送ったが不要"},
    )  # fmt: skip
    confirm = resident.get(response["Location"]).content.decode()
    resident.post(response["Location"], hidden_fields(confirm))
    assert group["key"] not in read_answers(Submission.objects.get())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"cond_field_0": "nonexistent", "cond_op_0": "equals", "cond_value_0": "x"},
            "正しく選択してください",
        ),
        ({"cond_field_0": "KEY1", "cond_op_0": "equals", "cond_value_0": "3人"}, "選択肢にありません"),
        ({"cond_field_0": "KEY2", "cond_op_0": "gt", "cond_value_0": "たくさん"}, "数値にしてください"),
        ({"cond_field_0": "KEY0", "cond_op_0": "gt", "cond_value_0": "1"}, "数値か日付の項目にだけ使えます"),
        ({"cond_field_0": "KEY1", "cond_op_0": "equals", "cond_value_0": ""}, "値を入れてください"),
    ],
)
def test_a_condition_that_cannot_work_is_refused_at_the_spot_and_nothing_is_saved(
    client, procedure, data, message
):
    existing = keys(procedure)
    data = {
        k: (existing[int(v[3:])] if isinstance(v, str) and v.startswith("KEY") else v)
        for k, v in data.items()
    }
    before = draft(procedure)
    response = post(client, procedure, "builder_field_new", {"type": "short_text", "label": "理由", **data})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'id="field-cond_field_0"' in page and 'value="理由"' in page
    assert draft(procedure) == before


def test_only_earlier_fields_are_offered_for_a_condition(client, procedure):
    first = keys(procedure)[0]
    page = client.get(url(procedure, "builder_field", key=first)).content.decode()
    assert "表示する条件" not in page  # nothing comes before the first field
    last = keys(procedure)[2]
    page = client.get(url(procedure, "builder_field", key=last)).content.decode()
    assert "お子さんの人数</option>" in page and "世帯の所得</option>" not in page


def test_deleting_a_field_a_condition_names_is_shown_as_a_problem_and_blocks_publishing(client, procedure):
    children = keys(procedure)[1]
    post(client, procedure, "builder_field_new",
         {"type": "short_text", "label": "下の子の名前", "cond_field_0": children, "cond_op_0": "equals",
          "cond_value_0": "2人以上"})  # fmt: skip
    post(client, procedure, "builder_field_action", {}, key=children, action="delete")
    page = client.get(url(procedure)).content.decode()
    assert "下の子の名前" in page and "ない項目（削除された項目）を指しています" in page
    response = post(client, procedure, "builder_publish", {})
    assert response.status_code == 400
    procedure.refresh_from_db()
    assert procedure.current_version is None


def test_pages_skips_and_an_exit_page_built_by_plain_posts(client, procedure):
    name, children, income = keys(procedure)
    assert post(client, procedure, "builder_pages", {"action": "mode", "mode": "pages"}).status_code == 302
    assert draft(procedure)["pages"] == [{"key": "page1", "title": "", "fields": [name, children, income]}]
    post(client, procedure, "builder_pages", {"action": "add"})
    post(client, procedure, "builder_pages", {"action": "add_exit"})
    pages = [p["key"] for p in draft(procedure)["pages"]]
    assert pages == ["page1", "page2", "page3"]
    # The income question moves to page 2 from its own form.
    response = post(
        client,
        procedure,
        "builder_field",
        {"label": "世帯の所得", "required": "on", "unit": "円", "page": "page2"},
        key=income,
    )
    assert response.status_code == 302
    assert draft(procedure)["pages"][1]["fields"] == [income]
    post(client, procedure, "builder_page", {"title": "申請する人"}, page_key="page1")
    post(client, procedure, "builder_page", {"title": "所得", "skip_field_0": income, "skip_op_0": "gt",
                                             "skip_value_0": "9000000", "skip_goto_0": "page3"}, page_key="page2")  # fmt: skip
    response = post(
        client, procedure, "builder_page",
        {"title": "対象外", "exit_message": "所得の上限を超えるため、対象になりません。"}, page_key="page3",
    )  # fmt: skip
    assert response.status_code == 302
    schema = draft(procedure)
    assert schema["pages"][1]["skip_to"] == [
        {"when": [{"field": income, "op": "gt", "value": "9000000"}], "goto": "page3"}
    ]
    page = client.get(url(procedure)).content.decode()
    assert "1ページ目：申請する人" in page and "終了ページ：対象外" in page

    # A skip backwards (a forged post: the page only offers later pages) is refused.
    response = post(client, procedure, "builder_page", {"skip_goto_0": "page1"}, page_key="page2")
    assert response.status_code == 400 and "正しく選択してください" in response.content.decode()

    assert post(client, procedure, "builder_publish", {}).status_code == 302
    resident = Client()
    form = reverse("public:form", kwargs={"code": "312011", "procedure_id": procedure.pk})
    html = resident.get(form).content.decode()
    assert "1 / 2 ページ" in html and "申請する人" in html
    version = Procedure.objects.get(pk=procedure.pk).current_version_id
    resident.post(form, {"version": version, "page": "page1", f"{name}__family": "髙橋", f"{name}__given": "﨑子",
                         children: "1人"})  # fmt: skip
    response = resident.post(form, {"version": version, "page": "page2", income: "10000000"})
    assert response["Location"].endswith("?page=page3")
    assert "対象になりません" in resident.get(response["Location"]).content.decode()


def test_an_unconditional_skip_to_the_exit_page_is_refused_as_leaving_no_way_to_finish(client, procedure):
    post(client, procedure, "builder_pages", {"action": "mode", "mode": "pages"})
    post(client, procedure, "builder_pages", {"action": "add_exit"})
    response = post(
        client, procedure, "builder_page", {"title": "はじめ", "skip_goto_0": "page2"}, page_key="page1"
    )
    assert response.status_code == 400
    assert "申請を最後まで送れません" in response.content.decode()
    assert "skip_to" not in draft(procedure)["pages"][0]


def test_moving_and_deleting_pages_keeps_every_field(client, procedure):
    post(client, procedure, "builder_pages", {"action": "mode", "mode": "pages"})
    post(client, procedure, "builder_pages", {"action": "add"})
    income = keys(procedure)[2]
    post(client, procedure, "builder_field_action", {}, key=income, action="down")  # past the page's edge
    schema = draft(procedure)
    assert schema["pages"][1]["fields"] == [income]
    post(client, procedure, "builder_page_action", {}, page_key="page2", action="up")
    assert keys(procedure)[0] == income  # the field list follows the pages
    post(client, procedure, "builder_page_action", {}, page_key="page2", action="delete")
    schema = draft(procedure)
    assert len(schema["pages"]) == 1 and sorted(schema["pages"][0]["fields"]) == sorted(keys(procedure))
    response = post(client, procedure, "builder_page_action", {}, page_key="page1", action="delete")
    assert "最後のページは削除できません" in client.get(response["Location"]).content.decode()
    post(client, procedure, "builder_pages", {"action": "mode", "mode": "per_question"})
    schema = draft(procedure)
    assert schema["pages"] == [] and schema["one_question_per_page"] is True


def test_the_version_history_names_rule_and_page_changes(client, procedure):
    post(client, procedure, "builder_publish", {})
    post(client, procedure, "builder_pages", {"action": "mode", "mode": "pages"})
    post(client, procedure, "builder_pages", {"action": "add"})
    children = keys(procedure)[1]
    post(client, procedure, "builder_field_new",
         {"type": "short_text", "label": "下の子の名前", "cond_field_0": children, "cond_op_0": "equals",
          "cond_value_0": "2人以上", "page": "page2"})  # fmt: skip
    page = client.get(url(procedure)).content.decode()
    assert "ページの分け方を「1ページ」から「ページに分ける」に変更" in page
    assert "ページ「page2」を追加" in page and "項目「下の子の名前」（短い文章）を追加" in page


def test_the_preview_goes_page_by_page_as_a_resident_would_and_stores_nothing(client, procedure):
    name, children, income = keys(procedure)
    post(client, procedure, "builder_pages", {"action": "mode", "mode": "pages"})
    post(client, procedure, "builder_pages", {"action": "add"})
    post(
        client,
        procedure,
        "builder_field",
        {"label": "世帯の所得", "required": "on", "page": "page2"},
        key=income,
    )
    preview = url(procedure, "builder_preview")
    client.get(url(procedure))  # the builder page shows (and so clears) the messages of the edits
    page = client.get(preview).content.decode()
    assert "プレビューです" in page and "1 / 2 ページ" in page and "世帯の所得" not in page
    response = client.post(preview, {"page": "page1", f"{name}__family": "髙橋", f"{name}__given": "﨑子"})
    page = response.content.decode()
    assert response.status_code == 400 and "お子さんの人数" in page and "1 / 2 ページ" in page
    page = client.post(
        preview, {"page": "page1", f"{name}__family": "髙橋", f"{name}__given": "﨑子", children: "1人"}
    ).content.decode()
    assert "2 / 2 ページ" in page and "世帯の所得" in page
    page = client.post(preview, {"page": "page2", income: "100"}).content.decode()
    assert "入力内容に問題はありません" in page
    assert not Submission.objects.exists()


CONDITIONS = st.sampled_from(
    [
        None,
        {"field": "a", "op": "equals", "value": "はい"},
        {"field": "a", "op": "not_equals", "value": "はい"},
        {"field": "a", "op": "empty"},
        {"field": "b", "op": "gt", "value": "3"},
        {"field": "b", "op": "lte", "value": "3"},
        {"field": "b", "op": "not_empty"},
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    conditions=st.lists(CONDITIONS, min_size=3, max_size=3),
    a=st.sampled_from([None, "はい", "いいえ"]),
    b=st.sampled_from([None, "1", "3", "7"]),
)
def test_the_preview_shows_exactly_the_questions_the_server_would_ask(client, tottori, conditions, a, b):
    fields = [
        {"key": "a", "type": "single_choice", "label": "A", "options": ["はい", "いいえ"]},
        {"key": "b", "type": "number", "label": "B"},
    ]
    for key, condition in zip("cde", conditions, strict=True):
        fields.append(
            {
                "key": key,
                "type": "short_text",
                "label": key.upper(),
                **({"show_if": [condition]} if condition else {}),
            }
        )
    schema = {
        "fields": fields,
        "pages": [{"key": "p1", "fields": ["a", "b"]}, {"key": "p2", "fields": ["c", "d", "e"]}],
    }
    procedure = Procedure.objects.create(organization=tottori, title="プレビュー", draft_schema=schema)
    values = {k: v for k, v in (("a", a), ("b", b)) if v is not None}
    session = client.session
    session[f"builder-preview:{procedure.pk}"] = {"revision": 0, "raw": {}, "values": values, "page": "p2"}
    session.save()
    page = client.get(url(procedure, "builder_preview")).content.decode()
    rendered = set(re.findall(r'id="field-([cde])"', page))
    expected = set(rules.evaluate(parse_form_spec(schema), values).shown) & set("cde")
    assert rendered == expected


def test_a_condition_whose_field_moved_below_is_kept_and_explained_not_dropped(client, procedure):
    _name, children, income = keys(procedure)
    post(client, procedure, "builder_field", {"label": "世帯の所得", "required": "on", "cond_field_0": children,
                                              "cond_op_0": "equals", "cond_value_0": "2人以上"}, key=income)  # fmt: skip
    post(
        client, procedure, "builder_field_action", {}, key=income, action="up"
    )  # now above its condition's field
    page = client.get(url(procedure, "builder_field", key=income)).content.decode()
    assert "selected>お子さんの人数</option>" in page.replace('" selected', " selected")
    response = post(client, procedure, "builder_field", {"label": "世帯の所得（円）", "required": "on",
                                                         "cond_field_0": children, "cond_op_0": "equals",
                                                         "cond_value_0": "2人以上"}, key=income)  # fmt: skip
    assert (
        response.status_code == 400
        and "後ろにある項目「お子さんの人数」は使えません" in response.content.decode()
    )
    field = next(f for f in draft(procedure)["fields"] if f["key"] == income)
    assert field["show_if"] and field["label"] == "世帯の所得"  # nothing dropped, nothing half-saved


def test_a_repeating_group_is_offered_among_the_field_types(client, procedure):
    assert 'value="group"' in client.get(url(procedure)).content.decode()
