"""The builder's edits of a draft form definition, and what changed between two definitions.

Pure functions: each takes a definition (the JSON document of procedures/formspec.py) and returns a new one,
leaving the argument untouched. Saving the result is procedures/services.py's job.
"""

import copy
import re
from typing import Any

from pydantic import ValidationError

from madoguchi.procedures.formspec import ATTRIBUTE_LABELS, FIELD_TYPE_LABELS, FormSpec

EMPTY_FORM: dict[str, Any] = {"fields": [], "email_field": None}
# Readable keys for the field types residents see most; others become q1, q2, ...
KEY_BASE = {"name": "name", "furigana": "furigana", "email": "email", "phone": "phone", "address": "address"}
KEY_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class DraftError(ValueError):
    """An edit that cannot be applied (the field is gone, or cannot move further). Japanese message."""


def fields_of(schema: dict | None) -> list[dict]:
    return list((schema or EMPTY_FORM).get("fields") or [])


def find(schema: dict, key: str) -> tuple[int, dict]:
    for index, field in enumerate(fields_of(schema)):
        if field.get("key") == key:
            return index, field
    raise DraftError("この項目は見つかりません。ほかの人が削除したか、画面が古くなっています。")


def new_key(schema: dict, field_type: str) -> str:
    """A key not yet used in the form: name, email… for the common types, q1, q2… otherwise."""
    taken = {f.get("key") for f in fields_of(schema)}
    base = KEY_BASE.get(field_type)
    if base and base not in taken:
        return base
    n = 1
    while f"{base or 'q'}{'_' if base else ''}{n}" in taken:
        n += 1
    return f"{base or 'q'}{'_' if base else ''}{n}"


def add_field(schema: dict, field: dict, *, after: str | None = None) -> dict:
    """Add `field` (its key is made if missing) at the end, or after the field keyed `after`."""
    result = copy.deepcopy(schema or EMPTY_FORM)
    field = dict(field)
    if not field.get("key"):
        field["key"] = new_key(result, field.get("type", ""))
    fields = fields_of(result)
    position = len(fields) if after is None else find(result, after)[0] + 1
    fields.insert(position, field)
    result["fields"] = fields
    if field.get("type") == "email" and not result.get("email_field"):
        result["email_field"] = field["key"]  # the first e-mail field receives the receipt
    return result


def replace_field(schema: dict, key: str, field: dict) -> dict:
    result = copy.deepcopy(schema)
    index, _ = find(result, key)
    result["fields"][index] = {**field, "key": key}
    if result.get("email_field") == key and field.get("type") != "email":
        result["email_field"] = None
    return result


def move_field(schema: dict, key: str, offset: int) -> dict:
    result = copy.deepcopy(schema)
    index, field = find(result, key)
    target = index + offset
    if not 0 <= target < len(result["fields"]):
        raise DraftError("これ以上動かせません。")
    result["fields"].pop(index)
    result["fields"].insert(target, field)
    return result


def duplicate_field(schema: dict, key: str) -> tuple[dict, str]:
    """A copy right after the original, with a new key and 「（コピー）」 after its label."""
    _, field = find(schema, key)
    twin = copy.deepcopy(field)
    twin["key"] = new_key(schema, field.get("type", ""))
    twin["label"] = (str(field.get("label", "")) + "（コピー）")[:200]
    return add_field(schema, twin, after=key), twin["key"]


def delete_field(schema: dict, key: str) -> dict:
    result = copy.deepcopy(schema)
    index, _ = find(result, key)
    result["fields"].pop(index)
    if result.get("email_field") == key:
        emails = [f["key"] for f in result["fields"] if f.get("type") == "email"]
        result["email_field"] = emails[0] if emails else None
    return result


def set_email_field(schema: dict, key: str | None) -> dict:
    result = copy.deepcopy(schema)
    if key:
        _, field = find(result, key)
        if field.get("type") != "email":
            raise DraftError("受付メールの送り先には、メールアドレスの項目を選んでください。")
    result["email_field"] = key or None
    return result


# What changed ---------------------------------------------------------------------------------------


def _label(field: dict) -> str:
    return str(field.get("label") or field.get("key") or "")


def _normalized(schema: dict | None) -> dict | None:
    """The definition with every default written out, so a setting left out and one set to its default
    compare equal (versions saved before a setting existed lack it)."""
    if schema is None:
        return None
    try:
        return FormSpec.model_validate(schema).model_dump(mode="json")
    except ValidationError:
        return schema


def describe_changes(old: dict | None, new: dict | None) -> list[str]:
    """What changed from `old` to `new`, one Japanese line each, for the version history and for an update
    offered to a copy: fields added, removed and relabelled, options added and removed, other settings,
    order, and where the receipt e-mail goes. An empty list means the two forms are the same."""
    old, new = _normalized(old), _normalized(new)
    old_fields = {f.get("key"): f for f in fields_of(old)}
    new_fields = {f.get("key"): f for f in fields_of(new)}
    lines: list[str] = []
    for key, field in new_fields.items():
        if key not in old_fields:
            type_label = FIELD_TYPE_LABELS.get(field.get("type"), "")
            lines.append(f"項目「{_label(field)}」（{type_label}）を追加")
    for key, field in old_fields.items():
        if key not in new_fields:
            lines.append(f"項目「{_label(field)}」を削除")
    for key, before in old_fields.items():
        after = new_fields.get(key)
        if after is None or after == before:
            continue
        name = _label(after)
        if before.get("label") != after.get("label"):
            lines.append(f"項目名を「{_label(before)}」から「{name}」に変更")
        if before.get("type") != after.get("type"):
            lines.append(
                f"項目「{name}」の種類を{FIELD_TYPE_LABELS.get(before.get('type'), '')}から"
                f"{FIELD_TYPE_LABELS.get(after.get('type'), '')}に変更"
            )
        old_options, new_options = before.get("options") or [], after.get("options") or []
        for option in new_options:
            if option not in old_options:
                lines.append(f"項目「{name}」に選択肢「{option}」を追加")
        for option in old_options:
            if option not in new_options:
                lines.append(f"項目「{name}」から選択肢「{option}」を削除")
        if bool(before.get("required")) != bool(after.get("required")):
            lines.append(f"項目「{name}」を{'必須' if after.get('required') else '任意'}に変更")
        handled = {"label", "type", "options", "required", "key"}
        others = sorted(
            k for k in set(before) | set(after) if k not in handled and before.get(k) != after.get(k)
        )
        if others:
            names = "、".join(ATTRIBUTE_LABELS.get(k, k) for k in others)
            lines.append(f"項目「{name}」の設定（{names}）を変更")
    kept_old = [k for k in old_fields if k in new_fields]
    kept_new = [k for k in new_fields if k in old_fields]
    if kept_old != kept_new:
        lines.append("項目の順序を変更")
    if (old or {}).get("email_field") != (new or {}).get("email_field"):
        target = new_fields.get((new or {}).get("email_field"))
        lines.append(
            f"受付メールの送り先を「{_label(target)}」に変更" if target else "受付メールを送らない設定に変更"
        )
    return lines
