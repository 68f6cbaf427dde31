"""The builder: an editor of 鳥取市 makes a procedure, edits its form field by field with plain form posts,
previews it, publishes it, and changes it again; versions, files, templates and distribution."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.organizations.models import Department
from madoguchi.procedures import portable, services
from madoguchi.procedures.models import FormVersion, Procedure, ProcedureTemplate
from madoguchi.submissions.models import Submission
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_SCHEMA, make_procedure, make_submission

pytestmark = pytest.mark.django_db


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def builder_url(procedure, name="builder", **kwargs):
    return reverse(f"staff:{name}", kwargs={"procedure_id": procedure.pk, **kwargs})


def create(client, code="312011", **values):
    data = {"title": "犬の登録申請", "kind": "application", "retention_years": "5", **values}
    return client.post(reverse("staff:procedure_new", kwargs={"code": code}), data)


def add_field(client, procedure, field_type, **values):
    procedure.refresh_from_db()
    data = {"type": field_type, "label": "項目", "revision": procedure.draft_revision, **values}
    return client.post(builder_url(procedure, "builder_field_new"), data)


def draft(procedure) -> dict:
    procedure.refresh_from_db()
    return services.draft_of(procedure)


@pytest.fixture
def department(tottori):
    return Department.objects.create(organization=tottori, name="生活環境課", phone="0857-20-3172")


@pytest.fixture
def new_procedure(editor, department):
    client = staff_client(editor)
    response = create(client, department=department.pk)
    assert response.status_code == 302
    return Procedure.objects.get(title="犬の登録申請")


def test_an_editor_creates_a_procedure_and_lands_on_its_builder(editor, department):
    client = staff_client(editor)
    home = client.get(reverse("staff:home")).content.decode()
    assert "新しい手続を作る" in home and "ひな形から作る" in home
    response = create(client, department=department.pk, closes_at="2027-03-31T17:15")
    procedure = Procedure.objects.get(title="犬の登録申請")
    assert response["Location"] == builder_url(procedure)
    assert procedure.status == "draft" and procedure.department == department
    assert procedure.closes_at.isoformat() == "2027-03-31T08:15:00+00:00"  # typed in JST, stored in UTC
    page = client.get(builder_url(procedure)).content.decode()
    assert "項目がまだありません" in page
    assert AuditLog.objects.filter(action="procedure.create", object_id=str(procedure.pk)).exists()


def test_a_department_of_another_organization_is_refused_in_japanese_and_nothing_is_made(editor, yonago):
    theirs = Department.objects.create(organization=yonago, name="米子市 市民課", phone="0859-00-0000")
    response = create(staff_client(editor), department=theirs.pk)
    assert response.status_code == 400
    page = response.content.decode()
    assert "正しく選択してください" in page or "同じ団体の所属" in page
    assert 'value="犬の登録申請"' in page  # what was typed is kept
    assert not Procedure.objects.filter(title="犬の登録申請").exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"title": ""}, "入力してください。"),
        ({"title": "マイナンバーの届出"}, "マイナンバー"),
        ({"title": "a\x00b"}, "制御文字"),
        ({"notify_emails": "kakari@example.jp\nnot-an-address"}, "メールアドレスの形ではありません"),
        ({"opens_at": "2027-04-01T09:00", "closes_at": "2027-03-01T09:00"}, "受付開始より後"),
        ({"capacity": "-1"}, "0 以上"),
    ],
)
def test_bad_settings_get_a_message_at_the_spot_and_keep_what_was_typed(editor, values, message):
    response = create(staff_client(editor), summary="飼い犬を登録する手続です", **values)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "飼い犬を登録する手続です" in page
    assert not Procedure.objects.exists()


def test_every_field_type_is_added_edited_moved_duplicated_and_deleted_by_plain_posts(editor, new_procedure):
    client = staff_client(editor)
    extra = {
        "single_choice": {"options": "小型犬\n中型犬\n大型犬", "options_en": "Small\nMedium\nLarge"},
        "multiple_choice": {"options": "狂犬病予防注射済み\n登録済み", "max_choices": "2"},
        "dropdown": {"options": "東部\n中部\n西部"},
        "file": {"allowed_types": ["pdf", "jpg"], "max_size_mb": "5"},
        "furigana": {"script": "katakana", "full_name": "on"},
        "number": {"min_value": "1", "max_value": "10", "whole_number": "on", "unit": "頭"},
        "date": {"past_only": "on"},
        "heading": {"text": "飼い主の方について"},
    }
    types = [
        "name", "furigana", "address", "phone", "email", "date", "short_text", "long_text", "number",
        "single_choice", "multiple_choice", "dropdown", "file", "consent", "heading",
    ]  # fmt: skip
    for field_type in types:
        response = add_field(
            client, new_procedure, field_type, label=f"{field_type}の項目", **extra.get(field_type, {})
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    schema = draft(new_procedure)
    assert [f["type"] for f in schema["fields"]] == types
    assert schema["email_field"] == "email"  # the first e-mail field receives the receipt
    furigana = next(f for f in schema["fields"] if f["type"] == "furigana")
    assert furigana["script"] == "katakana" and furigana["full_name"] is True  # one box, the space required
    choice = next(f for f in schema["fields"] if f["type"] == "single_choice")
    assert choice["options"] == ["小型犬", "中型犬", "大型犬"] and choice["options_en"] == [
        "Small",
        "Medium",
        "Large",
    ]

    key = choice["key"]
    new_procedure.refresh_from_db()
    response = client.post(
        builder_url(new_procedure, "builder_field", key=key),
        {
            "label": "犬の大きさ",
            "required": "on",
            "options": "小型犬\n大型犬",
            "revision": new_procedure.draft_revision,
        },
    )
    assert response.status_code == 302
    edited = next(f for f in draft(new_procedure)["fields"] if f["key"] == key)
    assert (
        edited["label"] == "犬の大きさ"
        and edited["required"] is True
        and edited["options"] == ["小型犬", "大型犬"]
    )

    def act(action, target=key):
        new_procedure.refresh_from_db()
        url = builder_url(new_procedure, "builder_field_action", key=target, action=action)
        return client.post(url, {"revision": new_procedure.draft_revision})

    keys = [f["key"] for f in draft(new_procedure)["fields"]]
    position = keys.index(key)
    act("up")
    assert [f["key"] for f in draft(new_procedure)["fields"]].index(key) == position - 1
    act("down")
    assert [f["key"] for f in draft(new_procedure)["fields"]].index(key) == position
    act("duplicate")
    fields = draft(new_procedure)["fields"]
    twin = fields[position + 1]
    assert (
        twin["label"] == "犬の大きさ（コピー）"
        and twin["key"] != key
        and twin["options"] == ["小型犬", "大型犬"]
    )
    act("delete", twin["key"])
    assert len(draft(new_procedure)["fields"]) == len(types)
    first = draft(new_procedure)["fields"][0]["key"]
    response = act("up", first)
    assert "これ以上動かせません" in client.get(response["Location"]).content.decode()

    response = client.post(builder_url(new_procedure, "builder_publish"))
    assert response.status_code == 302
    new_procedure.refresh_from_db()
    assert new_procedure.status == "published" and new_procedure.current_version.number == 1
    assert new_procedure.draft_schema is None
    form_page = Client().get(
        reverse("public:form", kwargs={"code": "312011", "procedure_id": new_procedure.pk})
    )
    assert form_page.status_code == 200 and "犬の大きさ" in form_page.content.decode()


@pytest.mark.parametrize(
    ("field_type", "values", "field", "message"),
    [
        ("short_text", {"label": ""}, "label", "入力してください。"),
        ("short_text", {"label": "マイナンバー（12桁）"}, "label", "マイナンバー"),
        ("short_text", {"label": "個人番号"}, "label", "マイナンバー"),
        ("short_text", {"label": "備考", "help": "ﾏｲﾅﾝﾊﾞｰを書いてください"}, "help", "マイナンバー"),
        ("dropdown", {"label": "地区", "options": "東部\n東部"}, "options", "選択肢が重複しています"),
        (
            "dropdown",
            {"label": "地区", "options": "東部\n西部", "options_en": "East"},
            "options_en",
            "同じ数",
        ),
        ("number", {"label": "頭数", "min_value": "10", "max_value": "1"}, None, "最小値が最大値より大きく"),
        (
            "date",
            {"label": "日", "min_date": "2027-01-01", "max_date": "2026-01-01"},
            None,
            "開始日が終了日より後",
        ),
        ("short_text", {"label": "x" * 201}, "label", "200 文字以下"),
        ("short_text", {"label": "名前\x00"}, "label", "制御文字"),
        ("short_text", {"label": "名前", "help": "説明\x07"}, "help", "制御文字"),
        (
            "file",
            {"label": "写真", "allowed_types": ["exe"], "max_size_mb": "5"},
            "allowed_types",
            "正しく選択",
        ),
        ("file", {"label": "写真", "allowed_types": ["pdf"], "max_size_mb": "500"}, "max_size_mb", "20 以下"),
    ],
)
def test_a_bad_field_gets_a_japanese_message_at_the_spot_and_nothing_is_saved(
    editor, new_procedure, field_type, values, field, message
):
    before = draft(new_procedure)
    response = add_field(staff_client(editor), new_procedure, field_type, **values)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page, page[:3000]
    if field:
        assert (
            re.search(rf'id="field-{field}"[^>]*>', page)
            and 'class="field field-error" id="field-' + field in page
        )
    assert "Value error" not in page and "Input should" not in page and "Field required" not in page
    assert draft(new_procedure) == before
    if values.get("label") and "\x00" not in values["label"]:
        assert values["label"][:50] in page  # what was typed is kept


def test_a_stale_page_does_not_overwrite_a_colleagues_edit_and_keeps_what_was_typed(editor, new_procedure):
    client = staff_client(editor)
    add_field(client, new_procedure, "short_text", label="犬の名前")
    stale_revision = new_procedure.draft_revision  # the page this editor loaded before the colleague's edit
    add_field(client, new_procedure, "short_text", label="毛色")
    response = client.post(
        builder_url(new_procedure, "builder_field_new"),
        {"type": "short_text", "label": "犬種", "revision": stale_revision},
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "先に変更したため、まだ保存していません" in page and 'value="犬種"' in page
    assert [f["label"] for f in draft(new_procedure)["fields"]] == ["犬の名前", "毛色"]


def test_a_form_with_no_fields_or_a_bad_draft_is_not_published(editor, new_procedure):
    client = staff_client(editor)
    response = client.post(builder_url(new_procedure, "builder_publish"), follow=True)
    assert "項目がひとつもないフォームは公開できません" in response.content.decode()
    # A draft broken behind the builder's back (e.g. a file too large in total) is refused with the field named.
    broken = {
        "fields": [{"key": "a", "type": "dropdown", "label": "地区", "options": []}],
        "email_field": None,
    }
    services.save_draft(procedure=new_procedure, schema=broken, actor=editor, revision=None, change="test")
    response = client.post(builder_url(new_procedure, "builder_publish"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "公開できません" in page and "地区" in page and "選択肢が必要" in page
    new_procedure.refresh_from_db()
    assert new_procedure.current_version is None and new_procedure.status == "draft"


def test_editing_a_published_procedure_edits_a_draft_until_published_and_submissions_keep_their_version(
    editor, tottori
):
    procedure = make_procedure(tottori, SIGNUP_SCHEMA)
    submission = make_submission(procedure).submission
    client = staff_client(editor)
    response = client.post(
        builder_url(procedure, "builder_field", key="session"),
        {
            "label": "希望する日時",
            "required": "on",
            "options": "午前\n午後\n夜間",
            "revision": procedure.draft_revision,
        },
    )
    assert response.status_code == 302
    procedure.refresh_from_db()
    assert procedure.current_version.number == 1  # residents still see version 1
    resident_page = Client().get(
        reverse("public:form", kwargs={"code": "312011", "procedure_id": procedure.pk})
    )
    assert "希望する回" in resident_page.content.decode() and "夜間" not in resident_page.content.decode()
    page = client.get(builder_url(procedure)).content.decode()
    assert "項目名を「希望する回」から「希望する日時」に変更" in page
    assert "項目「希望する日時」に選択肢「夜間」を追加" in page

    client.post(builder_url(procedure, "builder_publish"))
    procedure.refresh_from_db()
    assert procedure.current_version.number == 2 and procedure.draft_schema is None
    submission.refresh_from_db()
    assert submission.form_version.number == 1

    history = client.get(builder_url(procedure, "versions")).content.decode()
    assert "第2版" in history and "第1版" in history and "選択肢「夜間」を追加" in history
    client.post(builder_url(procedure, "version_publish", number=1))
    procedure.refresh_from_db()
    assert procedure.current_version.number == 3
    assert procedure.current_version.schema == FormVersion.objects.get(procedure=procedure, number=1).schema
    assert AuditLog.objects.filter(action="procedure.publish", object_id=str(procedure.pk)).count() == 3


def test_preview_shows_the_draft_as_a_resident_sees_it_and_checks_answers_without_saving(editor, tottori):
    procedure = make_procedure(tottori, SIGNUP_SCHEMA)
    client = staff_client(editor)
    services.save_draft(
        procedure=procedure,
        schema={
            **SIGNUP_SCHEMA,
            "fields": [*SIGNUP_SCHEMA["fields"], {"key": "memo", "type": "short_text", "label": "連絡事項"}],
        },
        actor=editor,
        revision=None,
        change="test",
    )
    page = client.get(builder_url(procedure, "builder_preview"))
    assert page.status_code == 200 and "frame-ancestors 'self'" in page["Content-Security-Policy"]
    text = page.content.decode()
    assert "プレビューです" in text and "連絡事項" in text
    response = client.post(builder_url(procedure, "builder_preview"), {"phone": "12"})
    text = response.content.decode()
    assert "入力内容を確認してください" in text and "氏名" in text
    assert Submission.objects.count() == 0


def test_export_then_import_then_export_gives_the_same_file(editor, tottori, yonago, outsider):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目の手続", purpose="事務にのみ使います")
    first = staff_client(editor).get(builder_url(procedure, "procedure_export"))
    assert first["Content-Disposition"].startswith("attachment;")
    upload = SimpleUploadedFile("def.json", first.content, content_type="application/json")
    response = staff_client(outsider).post(
        reverse("staff:procedure_import", kwargs={"code": "312029"}), {"file": upload}
    )
    assert response.status_code == 302
    copy = Procedure.objects.get(organization=yonago)
    assert copy.status == "draft" and copy.department is None and copy.title == "全項目の手続"
    second = staff_client(outsider).get(builder_url(copy, "procedure_export"))
    assert second.content == first.content


HOSTILE = [
    (
        json.dumps({"format": "madoguchi.procedure", "format_version": 1, "procedure": {"title": "t"},
                    "form": {"fields": [{"key": "n", "type": "short_text", "label": "a\u0000b"}]}}).encode(),
        "使えない文字（制御文字）が含まれています",
    ),
    (
        json.dumps({"format": "madoguchi.procedure", "format_version": 1, "procedure": {"title": "t\u0007"},
                    "form": {"fields": [{"key": "n", "type": "short_text", "label": "名前"}]}}).encode(),
        "使えない文字（制御文字）が含まれています",
    ),
    (b"not json", "JSONの形式が正しくありません"),
    (b"\xff\xfe\x00", "UTF-8ではありません"),
    (b"[]", "手続の定義ではありません"),
    (json.dumps({"format": "other"}).encode(), "窓口の手続の定義ではありません"),
    (json.dumps({"format": "madoguchi.procedure", "format_version": 2}).encode(), "版（2）は読み込めません"),
    (b"[" * 100000 + b"]" * 100000, "JSON"),
    (
        json.dumps({"format": "madoguchi.procedure", "format_version": 1, "procedure": {"title": "t"},
                    "form": {"fields": [{"key": f"q{i}", "type": "short_text", "label": "x"} for i in range(1000)]}}).encode(),
        "項目：200個までにしてください",
    ),
    (
        json.dumps({"format": "madoguchi.procedure", "format_version": 1, "procedure": {"title": "t", "kind": "tax"},
                    "form": {"fields": [{"key": "n", "type": "short_text", "label": "マイナンバー"}]}}).encode(),
        "マイナンバー（個人番号）を入力させる項目は作れません",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), HOSTILE)
def test_a_bad_or_foreign_file_gets_a_list_of_problems_and_nothing_is_imported(editor, data, message):
    upload = SimpleUploadedFile("x.json", data, content_type="application/json")
    response = staff_client(editor).post(
        reverse("staff:procedure_import", kwargs={"code": "312011"}), {"file": upload}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and "何も作られていません" in page
    assert not Procedure.objects.exists()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (None, "手続の定義ファイル（.json）を選んでください。"),
        (
            SimpleUploadedFile("x.json", b"", content_type="application/json"),
            "選んだファイルは空です（0バイト）",
        ),
    ],
)
def test_importing_with_no_file_or_an_empty_one_says_so_at_the_file_box(editor, upload, message):
    response = staff_client(editor).post(
        reverse("staff:procedure_import", kwargs={"code": "312011"}), {"file": upload} if upload else {}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "このフィールドは必須です" not in page
    at_box = re.search(r'<p class="error-text" id="id_file-error">(.*?)</p>', page)
    assert at_box and message in at_box.group(1) and 'href="#id_file"' in page
    assert not Procedure.objects.exists()


def test_every_problem_of_a_file_is_listed_at_once():
    document = {
        "format": "madoguchi.procedure",
        "format_version": 1,
        "procedure": {"title": "", "kind": "tax", "retention_years": 7},
        "form": {"fields": [{"key": "Bad", "type": "colour", "label": "色"}]},
    }
    with pytest.raises(portable.DefinitionError) as exc:
        portable.parse_definition(document)
    text = "\n".join(exc.value.messages)
    assert "手続の手続名：入力してください" in text and "手続の種類" in text and "手続の保存期間" in text
    assert "1番目の項目「色」の項目キー" in text and "1番目の項目「色」の種類" in text
    assert " or " not in text


def test_share_search_and_copy_a_template_across_the_council(editor, tottori, yonago, outsider, council):
    procedure = make_procedure(tottori, SIGNUP_SCHEMA, title="シニア向けスマートフォン教室")
    client = staff_client(editor)
    response = client.post(
        builder_url(procedure, "procedure_share"),
        {"council": council.pk, "category": "event", "life_events": ["learning"]},
    )
    assert response.status_code == 302
    template = ProcedureTemplate.objects.get()
    assert template.organization == tottori and template.category == "event"
    assert "department" not in json.dumps(template.definition)

    theirs = staff_client(outsider)
    for query in ("すまーとふぉん", "ｽﾏｰﾄﾌｫﾝ", "教室"):
        listing = theirs.get(reverse("staff:templates"), {"q": query}).content.decode()
        assert "シニア向けスマートフォン教室" in listing, query
    assert "シニア向け" not in theirs.get(reverse("staff:templates"), {"category": "zei"}).content.decode()
    assert "シニア向け" in theirs.get(reverse("staff:templates"), {"life_event": "learning"}).content.decode()

    response = theirs.post(
        reverse("staff:template_copy", kwargs={"template_id": template.pk}), {"organization": "312029"}
    )
    copy = Procedure.objects.get(organization=yonago)
    assert response["Location"] == builder_url(copy, "builder_settings")
    assert copy.status == "draft" and copy.source_template == template and copy.department is None
    assert services.draft_of(copy)["fields"] == procedure.current_version.schema["fields"]
    template.refresh_from_db()
    assert template.copy_count == 1
    # Copying into an organization the user does not belong to is not possible.
    response = theirs.post(
        reverse("staff:template_copy", kwargs={"template_id": template.pk}), {"organization": "312011"}
    )
    assert response.status_code == 404


def test_templates_stay_inside_their_council(editor, tottori, council, pref):
    from madoguchi.organizations.models import Organization
    from tests.conftest import make_user

    procedure = make_procedure(tottori, SIGNUP_SCHEMA)
    template = services.share_as_template(
        procedure=procedure, council=council, actor=editor, category="event", life_events=[]
    )
    shimane = Organization.objects.create(code="322016", kind="municipality", name="松江市")
    stranger = staff_client(make_user("matsue", shimane, "admin"))
    assert "シニア向け" not in stranger.get(reverse("staff:templates")).content.decode()
    assert stranger.get(reverse("staff:template", kwargs={"template_id": template.pk})).status_code == 404
    assert (
        stranger.post(
            reverse("staff:template_copy", kwargs={"template_id": template.pk}), {"organization": "322016"}
        ).status_code
        == 404
    )


def test_a_processor_cannot_build(colleague, tottori):
    procedure = make_procedure(tottori)
    client = staff_client(colleague)
    assert client.get(builder_url(procedure)).status_code == 403
    assert client.post(builder_url(procedure, "builder_publish")).status_code == 403
    assert client.get(reverse("staff:procedure_new", kwargs={"code": "312011"})).status_code == 403
    assert "新しい手続を作る" not in client.get(reverse("staff:home")).content.decode()


def test_the_prefecture_distributes_a_procedure_and_later_offers_an_update(pref, tottori, yonago):
    from tests.conftest import make_user

    pref_editor = make_user("pref-editor", pref, "editor")
    source = make_procedure(pref, SIGNUP_SCHEMA, title="防災訓練の参加申込み")
    client = staff_client(pref_editor)
    response = client.post(
        builder_url(source, "procedure_distribute"), {"organizations": ["312011", "312029"]}
    )
    assert response.status_code == 302
    copies = {p.organization.code: p for p in Procedure.objects.filter(source_procedure=source)}
    assert set(copies) == {"312011", "312029"} and all(p.status == "draft" for p in copies.values())
    # Distributing again skips those that have a copy.
    client.post(builder_url(source, "procedure_distribute"), {"organizations": ["312011"]})
    assert Procedure.objects.filter(source_procedure=source).count() == 2

    services.save_draft(
        procedure=source,
        schema={
            **SIGNUP_SCHEMA,
            "fields": [
                *SIGNUP_SCHEMA["fields"],
                {"key": "allergy", "type": "short_text", "label": "アレルギー"},
            ],
        },
        actor=pref_editor,
        revision=None,
        change="test",
    )
    services.publish(procedure=source, actor=pref_editor)

    tottori_editor = staff_client(make_user("t-editor", tottori, "editor"))
    mine = copies["312011"]
    page = tottori_editor.get(builder_url(mine)).content.decode()
    assert "新しい版（第2版）" in page
    assert "鳥取県から配布（第1版をもとに作成）" in page  # where the city's draft came from
    assert "鳥取県から配布" in tottori_editor.get(reverse("staff:home")).content.decode()
    review = tottori_editor.get(builder_url(mine, "builder_update")).content.decode()
    assert "項目「アレルギー」（短い文章）を追加" in review
    tottori_editor.post(builder_url(mine, "builder_update"), {"number": "2", "decision": "accept"})
    assert [f["key"] for f in draft(mine)["fields"]][-1] == "allergy"
    assert services.offered_update(mine) is None

    yonago_editor = staff_client(make_user("y-editor", yonago, "editor"))
    theirs = copies["312029"]
    yonago_editor.post(builder_url(theirs, "builder_update"), {"number": "2", "decision": "ignore"})
    assert "allergy" not in [f["key"] for f in draft(theirs)["fields"]]
    assert services.offered_update(theirs) is None


def test_only_the_prefecture_distributes(editor, tottori):
    procedure = make_procedure(tottori)
    assert staff_client(editor).get(builder_url(procedure, "procedure_distribute")).status_code == 404


def test_two_windows_saving_the_settings_do_not_overwrite_each_other_silently(editor, new_procedure):
    client = staff_client(editor)
    url = builder_url(new_procedure, "builder_settings")
    token = re.search(r'name="settings_token" value="([^"]+)"', client.get(url).content.decode()).group(1)
    base = {"title": "犬の登録申請", "kind": "application", "retention_years": "5", "settings_token": token}
    assert client.post(url, {**base, "capacity": "20"}).status_code == 302  # the other window
    response = client.post(url, {**base, "title": "犬の登録と鑑札の交付"})  # this window, loaded before
    assert response.status_code == 409
    page = response.content.decode()
    assert "先に変更したため、まだ保存していません" in page and 'value="犬の登録と鑑札の交付"' in page
    new_procedure.refresh_from_db()
    assert new_procedure.title == "犬の登録申請" and new_procedure.capacity == 20


def test_a_builder_action_reached_after_signing_in_again_leads_back_to_the_builder(editor, new_procedure):
    response = staff_client(editor).get(builder_url(new_procedure, "builder_publish"))
    assert response.status_code == 302 and response["Location"] == builder_url(new_procedure)
    new_procedure.refresh_from_db()
    assert new_procedure.current_version is None  # nothing was done


def test_template_search_finds_by_category_name(editor, council):
    from madoguchi.procedures.library import load_library

    load_library(council=council)
    page = staff_client(editor).get(reverse("staff:templates"), {"q": "防災"}).content.decode()
    assert "罹災証明書" in page and "被災者生活再建支援金" in page


def test_closing_acceptance_asks_for_a_tick_and_reopening_does_not(editor, tottori):
    procedure = make_procedure(tottori, SIGNUP_SCHEMA)
    client = staff_client(editor)
    page = client.get(builder_url(procedure)).content.decode()
    assert re.search(r'<input type="checkbox" id="confirm-close" name="confirm" value="yes" required>', page)
    response = client.post(builder_url(procedure, "builder_status"), {"status": "closed"}, follow=True)
    procedure.refresh_from_db()
    assert procedure.status == Procedure.Status.PUBLISHED
    assert "受付はまだ終了していません" in response.content.decode()
    client.post(builder_url(procedure, "builder_status"), {"status": "closed", "confirm": "yes"})
    procedure.refresh_from_db()
    assert procedure.status == Procedure.Status.CLOSED
    client.post(builder_url(procedure, "builder_status"), {"status": "published"})
    procedure.refresh_from_db()
    assert procedure.status == Procedure.Status.PUBLISHED


def test_an_empty_required_box_in_the_builder_says_so_in_the_products_words(editor, new_procedure):
    client = staff_client(editor)
    page = add_field(client, new_procedure, "single_choice", label="", options="").content.decode()
    assert "このフィールドは必須です" not in page
    assert "項目名（質問文）：入力してください。" in page and "選択肢（1行に1つ）：入力してください。" in page
    page = client.post(
        reverse("staff:procedure_new", kwargs={"code": "312011"}), {"title": ""}
    ).content.decode()
    assert "このフィールドは必須です" not in page and "入力してください。" in page
