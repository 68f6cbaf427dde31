"""The builder's edits of a draft form definition, and what changed between two definitions.

Pure functions: each takes a definition (the JSON document of procedures/formspec.py) and returns a new one,
leaving the argument untouched. Saving the result is procedures/services.py's job.
"""

import copy
import re
from typing import Any

from pydantic import ValidationError

from madoguchi.procedures.formspec import ATTRIBUTE_LABELS, FIELD_TYPE_LABELS, FieldSpec, FormSpec

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
    pages = result.get("pages") or []
    if pages:
        home = next((p for p in pages if after in p.get("fields", [])), None) if after else None
        if home is None:
            home = next((p for p in reversed(pages) if not p.get("exit_message")), pages[-1])
        keys = home.setdefault("fields", [])
        keys.insert(keys.index(after) + 1 if after in keys else len(keys), field["key"])
    return result


def replace_field(schema: dict, key: str, field: dict) -> dict:
    result = copy.deepcopy(schema)
    index, _ = find(result, key)
    result["fields"][index] = {**field, "key": key}
    if result.get("email_field") == key and field.get("type") != "email":
        result["email_field"] = None
    return result


def move_field(schema: dict, key: str, offset: int) -> dict:
    """Move a field one place up (-1) or down (+1); with pages, past a page's edge into the next page."""
    result = copy.deepcopy(schema)
    pages = [p for p in result.get("pages") or [] if not p.get("exit_message")]
    if not pages:
        index, field = find(result, key)
        target = index + offset
        if not 0 <= target < len(result["fields"]):
            raise DraftError("これ以上動かせません。")
        result["fields"].pop(index)
        result["fields"].insert(target, field)
        return result
    find(result, key)
    number = next((i for i, p in enumerate(pages) if key in p.get("fields", [])), None)
    if number is None:
        raise DraftError("この項目はどのページにも入っていません。ページを選び直してください。")
    keys = pages[number]["fields"]
    index = keys.index(key)
    target = index + offset
    if 0 <= target < len(keys):
        keys.insert(target, keys.pop(index))
    elif 0 <= number + offset < len(pages):
        keys.pop(index)
        neighbour = pages[number + offset].setdefault("fields", [])
        neighbour.insert(len(neighbour) if offset < 0 else 0, key)
    else:
        raise DraftError("これ以上動かせません。")
    _order_fields_by_pages(result)
    return result


def _order_fields_by_pages(result: dict) -> None:
    """Keep the field list in the order residents meet the fields (pages, then fields within a page)."""
    order = [k for p in result.get("pages") or [] for k in p.get("fields", [])]
    rank = {k: i for i, k in enumerate(order)}
    result["fields"].sort(key=lambda f: rank.get(f.get("key"), len(rank)))


def duplicate_field(schema: dict, key: str) -> tuple[dict, str]:
    """A copy right after the original, with a new key and 「（コピー）」 after its label."""
    _, field = find(schema, key)
    twin = copy.deepcopy(field)
    twin["key"] = new_key(schema, field.get("type", ""))
    twin["label"] = (str(field.get("label", "")) + "（コピー）")[:200]
    return add_field(schema, twin, after=key), twin["key"]


def delete_field(schema: dict, key: str) -> dict:
    """Remove a field (and its place on its page). Conditions that named it stay, and are shown as
    problems to fix before publishing."""
    result = copy.deepcopy(schema)
    index, _ = find(result, key)
    result["fields"].pop(index)
    for page in result.get("pages") or []:
        if key in page.get("fields", []):
            page["fields"].remove(key)
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


# Pages ------------------------------------------------------------------------------------------------

PAGE_MODES = ("single", "pages", "per_question")


def page_mode(schema: dict) -> str:
    if schema.get("pages"):
        return "pages"
    return "per_question" if schema.get("one_question_per_page") else "single"


def set_page_mode(schema: dict, mode: str) -> dict:
    """One page for every field, pages of the editor's making, or one question per page. Going to pages
    puts every field on a first page; leaving pages forgets them (and their skips)."""
    if mode not in PAGE_MODES:
        raise DraftError("ページの分け方を選んでください。")
    result = copy.deepcopy(schema)
    if mode == "pages":
        if not result.get("pages"):
            result["pages"] = [{"key": "page1", "title": "", "fields": [f["key"] for f in fields_of(result)]}]
        result["one_question_per_page"] = False
    else:
        result["pages"] = []
        result["one_question_per_page"] = mode == "per_question"
    return result


def _new_page_key(schema: dict) -> str:
    taken = {p.get("key") for p in schema.get("pages") or []}
    n = len(taken) + 1
    while f"page{n}" in taken:
        n += 1
    return f"page{n}"


def find_page(schema: dict, key: str) -> tuple[int, dict]:
    for index, page in enumerate(schema.get("pages") or []):
        if page.get("key") == key:
            return index, page
    raise DraftError("このページは見つかりません。ほかの人が削除したか、画面が古くなっています。")


def add_page(schema: dict, *, title: str = "", exit_message: str = "") -> tuple[dict, str]:
    """A new empty page at the end (an exit page when it has a message); returns its key."""
    result = copy.deepcopy(schema)
    pages = result.setdefault("pages", [])
    if not pages:
        result = set_page_mode(result, "pages")
        pages = result["pages"]
    key = _new_page_key(result)
    page = {"key": key, "title": title, "fields": []}
    if exit_message:
        page["exit_message"] = exit_message
    pages.append(page)
    return result, key


def update_page(schema: dict, key: str, values: dict) -> dict:
    """Change a page's title, English title, conditions, skips or exit message (its fields stay)."""
    result = copy.deepcopy(schema)
    _, page = find_page(result, key)
    for name in ("title", "title_en", "show_if", "skip_to", "exit_message", "exit_message_en"):
        if name in values:
            if values[name] in ("", [], None):
                page.pop(name, None)
            else:
                page[name] = values[name]
    return result


def move_page(schema: dict, key: str, offset: int) -> dict:
    result = copy.deepcopy(schema)
    index, _ = find_page(result, key)
    target = index + offset
    if not 0 <= target < len(result["pages"]):
        raise DraftError("これ以上動かせません。")
    result["pages"].insert(target, result["pages"].pop(index))
    _order_fields_by_pages(result)
    return result


def delete_page(schema: dict, key: str) -> dict:
    """Remove a page; its fields join the page before it (or the one after, for the first page)."""
    result = copy.deepcopy(schema)
    index, page = find_page(result, key)
    pages = result["pages"]
    if len(pages) == 1:
        raise DraftError(
            "最後のページは削除できません。ページに分けるのをやめるときは「1ページ」を選んでください。"
        )
    pages.pop(index)
    if page.get("fields"):
        keeper = pages[index - 1] if index > 0 else pages[0]
        keeper.setdefault("fields", [])
        if index > 0:
            keeper["fields"].extend(page["fields"])
        else:
            keeper["fields"][:0] = page["fields"]
    _order_fields_by_pages(result)
    return result


def set_field_page(schema: dict, key: str, page_key: str) -> dict:
    """Move a field to the end of another page."""
    result = copy.deepcopy(schema)
    find(result, key)
    _, target = find_page(result, page_key)
    if target.get("exit_message"):
        raise DraftError("終了ページには質問を入れられません。")
    for page in result["pages"]:
        if key in page.get("fields", []):
            page["fields"].remove(key)
    target.setdefault("fields", []).append(key)
    _order_fields_by_pages(result)
    return result


def page_of(schema: dict, key: str) -> str | None:
    return next((p.get("key") for p in schema.get("pages") or [] if key in p.get("fields", [])), None)


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
        pass
    # A draft not yet complete: fill in the defaults of each field that is valid on its own.
    fields = []
    for field in fields_of(schema):
        try:
            fields.append(FieldSpec.model_validate(field).model_dump(mode="json"))
        except ValidationError:
            fields.append(field)
    return {**schema, "fields": fields}


def _page_name(page: dict) -> str:
    return str(page.get("title") or page.get("key") or "")


def _page_changes(old: dict, new: dict) -> list[str]:
    lines = []
    if page_mode(old) != page_mode(new):
        names = {"single": "1ページ", "pages": "ページに分ける", "per_question": "1ページに1問"}
        lines.append(f"ページの分け方を「{names[page_mode(old)]}」から「{names[page_mode(new)]}」に変更")
    before = {p.get("key"): p for p in old.get("pages") or []}
    after = {p.get("key"): p for p in new.get("pages") or []}
    for key, page in after.items():
        if key not in before:
            kind = "終了ページ" if page.get("exit_message") else "ページ"
            lines.append(f"{kind}「{_page_name(page)}」を追加")
    for key, page in before.items():
        if key not in after:
            lines.append(f"ページ「{_page_name(page)}」を削除")
    for key, page in after.items():
        previous = before.get(key)
        if previous is None:
            continue
        name = _page_name(page)
        if previous.get("title", "") != page.get("title", ""):
            lines.append(f"ページ名を「{_page_name(previous)}」から「{name}」に変更")
        if previous.get("show_if", []) != page.get("show_if", []):
            lines.append(f"ページ「{name}」を表示する条件を変更")
        if previous.get("skip_to", []) != page.get("skip_to", []):
            lines.append(f"ページ「{name}」のあとの移動先を変更")
        if previous.get("exit_message", "") != page.get("exit_message", ""):
            lines.append(f"終了ページ「{name}」の文を変更")
        moved_in = [k for k in page.get("fields", []) if k not in previous.get("fields", [])]
        if moved_in and before:
            lines.append(f"ページ「{name}」に入る項目を変更")
    if [p.get("key") for p in old.get("pages") or [] if p.get("key") in after] != [
        p.get("key") for p in new.get("pages") or [] if p.get("key") in before
    ]:
        lines.append("ページの順序を変更")
    return lines


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
    lines.extend(_page_changes(old or {}, new or {}))
    if (old or {}).get("email_field") != (new or {}).get("email_field"):
        target = new_fields.get((new or {}).get("email_field"))
        lines.append(
            f"受付メールの送り先を「{_label(target)}」に変更" if target else "受付メールを送らない設定に変更"
        )
    return lines
