"""重複申請: one submission per verified e-mail address or per value of a chosen field (Procedure.duplicate_rule).

A submission of such a procedure carries Submission.duplicate_key: the SHA-256 (hex) of the procedure's id,
the rule and the normalized value. The database's unique constraint on (procedure, duplicate_key), blank
keys aside, decides between two concurrent submissions; the services here only read and compute.

A case that stops counting (取下げ, 却下 and the kinds' words for them) has its key cleared by the status
service, so the resident may apply again; taking the decision back sets it again (services.reopen).
"""

import hashlib
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from madoguchi.lib import japanese as ja
from madoguchi.lib.receipt import format_receipt_number

# The field types a procedure may name as its duplicate key: one value each, typed by the resident.
KEY_FIELD_TYPES = frozenset(
    {"short_text", "number", "email", "phone", "name", "furigana", "date", "address", "dropdown"}
)
# Spaces, invisible and format characters, and dashes and hyphens, which never make two values differ.
_IGNORED = re.compile(
    r"[\s\u00ad\u115f\u1160\u180e\u200b-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3164\ufeff\uffa0]"
)
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}
# Hyphens and dashes (lib/japanese.DASHES) but the prolonged sound mark ー, which is part of a word.
_DASH_TABLE = {ord(c): None for c in ja.DASHES - frozenset("\u30fc\uff70\u2500\u2501")} | {ord("-"): None}
_CJK_COMPAT_SPLIT = re.compile(r"([\uf900-\ufaff\U0002f800-\U0002fa1f])")

DUPLICATE_MESSAGE = gettext_lazy(
    "この内容では、すでに申請を受け付けています（受付番号 %(receipt)s）。"
    "同じ内容で二重に申請することはできません。内容を変えたいときは、担当課にご連絡ください。"
)


def _fold_text(text: str) -> str:
    """NFKC (the ideographs of the CJK compatibility block kept as typed: 﨑 is not 崎), case-folded,
    dashes as one, without spaces or invisible characters."""
    parts = _CJK_COMPAT_SPLIT.split(ja.remove_control_characters(str(text)))
    text = "".join(part if i % 2 else unicodedata.normalize("NFKC", part) for i, part in enumerate(parts))
    return _IGNORED.sub("", text.casefold()).translate(_DASH_TABLE)


def normalized_value(field_type: str, value: Any) -> str:
    """The value of an answer of `field_type` as the duplicate check compares it; "" for no value.

    Equivalent inputs give the same text: an e-mail address in any case or width; a phone number with or
    without hyphens or spaces, in full-width digits; a number with or without trailing zeros or commas;
    a date as stored (ISO) or typed in any accepted form; a name, a reading or a text in either width,
    with or without spaces; a reading in hiragana or katakana. Anything else is kept as it is.
    """
    if value is None or value == "" or value == {} or value == []:
        return ""
    if field_type == "email":
        return unicodedata.normalize("NFKC", str(value)).strip().lower()
    if field_type == "phone":
        return re.sub(r"[^0-9+]", "", unicodedata.normalize("NFKC", str(value)))
    if field_type == "number":
        text = unicodedata.normalize("NFKC", str(value)).replace(",", "").strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            return _fold_text(text)
        if not number.is_finite():
            return _fold_text(text)
        return format(number.normalize(), "f") if number else "0"
    if field_type == "date":
        try:
            return ja.parse_date(unicodedata.normalize("NFKC", str(value))).isoformat()
        except (ja.InputError, ValueError):
            return _fold_text(value)
    if field_type == "name" and isinstance(value, dict):
        return _fold_text(f"{value.get('family', '')}{value.get('given', '')}")
    if field_type == "furigana":
        return _fold_text(value).translate(_KATAKANA_TO_HIRAGANA)
    if field_type == "address" and isinstance(value, dict):
        postal = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", str(value.get("postal_code", ""))))
        return f"{postal}|{_fold_text(value.get('address', ''))}"
    if isinstance(value, dict | list):
        return ""  # not a type that can be a key (the builder refuses it)
    return _fold_text(value)


def key_for(*, procedure_id: int, rule: str, value: str) -> str:
    """Submission.duplicate_key of a normalized value: sha256 hex of the procedure id, the rule and the
    value; "" when the value is empty (such a submission is never a duplicate)."""
    if not value:
        return ""
    return hashlib.sha256(f"{procedure_id}\x1f{rule}\x1f{value}".encode()).hexdigest()


def duplicate_key(procedure, spec, answers: dict, applicant_email: str) -> str:
    """The duplicate key of a submission with these answers, by the procedure's rule; "" without a rule or
    a value. `spec`: the form version's FormSpec; `applicant_email`: the address receipts go to (the
    verified one where the procedure asks for verification)."""
    rule = procedure.duplicate_rule
    if rule == "email":
        return key_for(procedure_id=procedure.pk, rule=rule, value=normalized_value("email", applicant_email))
    if rule == "field":
        field = spec.field(procedure.duplicate_field)
        if field is None:
            return ""
        value = normalized_value(field.type, answers.get(field.key))
        return key_for(procedure_id=procedure.pk, rule=rule, value=value)
    return ""


def message_for(receipt_number: str) -> str:
    """The resident's message naming the earlier 受付番号 (as read out: 4821-0395-76)."""
    return str(DUPLICATE_MESSAGE) % {"receipt": format_receipt_number(receipt_number)}


def settings_error(*, rule: str, field_key: str, spec, requires_verification: bool) -> tuple[str, str] | None:
    """Why the builder may not save this duplicate rule, as (form field, Japanese message); None if it may.

    "field" needs a field of the current form of a type in KEY_FIELD_TYPES, outside a repeating group;
    "email" needs e-mail verification or an e-mail field the receipt goes to (FormSpec.email_field).
    """
    if rule == "field":
        field = spec.field(field_key) if spec is not None and field_key else None
        if field is None:
            return "duplicate_field", gettext(
                "重複を判定する項目には、このフォームの項目キーを入力してください。"
            )
        if field.type not in KEY_FIELD_TYPES:
            return "duplicate_field", gettext(
                "「%(label)s」の種類では重複を判定できません。文章（短い）・数値・メールアドレス・電話番号・"
                "氏名・ふりがな・日付・住所・プルダウンの項目を選んでください。"
            ) % {"label": field.label}
    if rule == "email" and not requires_verification and (spec is None or not spec.email_field):
        return "duplicate_rule", gettext(
            "メールアドレスごとに1件とするには、「メールアドレスの確認をしてから入力する」をオンにするか、"
            "フォームに受付メールの送り先となるメールアドレスの項目を置いてください。"
        )
    return None
