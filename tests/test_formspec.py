"""Form definitions are validated when saved; versions never change afterwards."""

import pytest

from madoguchi.procedures.formspec import FormSpecError, parse_form_spec
from madoguchi.procedures.services import save_form_version
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_SCHEMA


def test_all_field_types_are_accepted():
    spec = parse_form_spec(ALL_TYPES_SCHEMA)
    assert len(spec.input_fields) == len(ALL_TYPES_SCHEMA["fields"]) - 1


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"key": "x", "type": "short_text", "label": "マイナンバー"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "個人番号（12桁）"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "ﾏｲﾅﾝﾊﾞｰ"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "マイ ナンバー"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "まいなんばー"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "マイナンバーカードの番号（12桁）"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "個人番号カードの裏面の番号"}, "マイナンバー"),
        (
            {"key": "x", "type": "short_text", "label": "カードの番号", "label_en": "Your My Number"},
            "マイナンバー",
        ),
        ({"key": "x", "type": "short_text", "label": "番号", "help_en": "individual number"}, "マイナンバー"),
        ({"key": "x", "type": "short_text", "label": "名前\x00"}, "制御文字"),
        ({"key": "x", "type": "dropdown", "label": "地区"}, "選択肢が必要"),
        ({"key": "x", "type": "dropdown", "label": "地区", "options": ["東", "東"]}, "重複"),
        (
            {"key": "Bad-Key", "type": "short_text", "label": "a"},
            "1番目の項目「a」の項目キー：半角の英小文字で始め",
        ),
        ({"key": "x", "type": "colour", "label": "a"}, "1番目の項目「a」の種類：この値は使えません"),
        ({"key": "x", "type": "file", "label": "a", "allowed_types": ["exe"]}, "使えないファイル形式"),
        (
            {"key": "x", "type": "short_text", "label": "a", "onclick": "alert(1)"},
            "「onclick」：この名前の設定はありません",
        ),
    ],
)
def test_invalid_fields_are_refused_with_a_message(field, message):
    with pytest.raises(FormSpecError) as exc:
        parse_form_spec({"fields": [field]})
    assert message in str(exc.value)


def test_the_card_may_be_named_as_an_identity_document():
    spec = parse_form_spec(
        {
            "fields": [
                {
                    "key": "doc",
                    "type": "single_choice",
                    "label": "本人確認書類",
                    "options": ["マイナンバーカード"],
                }
            ]
        }
    )
    assert spec.fields[0].options == ["マイナンバーカード"]


def test_the_files_of_one_form_must_fit_in_one_request_together():
    def files(*sizes):
        return {
            "fields": [
                {"key": f"f{i}", "type": "file", "label": f"書類{i}", "max_size_mb": size}
                for i, size in enumerate(sizes)
            ]
        }

    parse_form_spec(files(20, 20))
    with pytest.raises(FormSpecError) as exc:
        parse_form_spec(files(20, 20, 1))
    assert "添付ファイルの上限の合計は40MBまでです（現在 41MB）" in str(exc.value)


def test_duplicate_keys_and_wrong_email_field_are_refused():
    with pytest.raises(FormSpecError, match="重複"):
        parse_form_spec({"fields": [{"key": "a", "type": "email", "label": "a"}] * 2})
    with pytest.raises(FormSpecError, match="メールアドレス型"):
        parse_form_spec({"email_field": "a", "fields": [{"key": "a", "type": "short_text", "label": "a"}]})


@pytest.mark.django_db
def test_saving_makes_a_new_version_and_keeps_the_old_one(procedure):
    first = procedure.current_version
    changed = {
        **SIGNUP_SCHEMA,
        "fields": [*SIGNUP_SCHEMA["fields"], {"key": "m", "type": "short_text", "label": "m"}],
    }
    second = save_form_version(procedure=procedure, schema=changed)
    assert second.number == 2 and first.number == 1
    first.refresh_from_db()
    assert first.schema == parse_form_spec(SIGNUP_SCHEMA).model_dump(mode="json")
    assert save_form_version(procedure=procedure, schema=changed).pk == second.pk  # unchanged: no new version
