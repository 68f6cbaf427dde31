"""Turn what a resident typed into clean answers, field by field, with a message per field.

The resident's own text (`raw`) is always kept beside the clean values so that a page with errors shows
everything exactly as typed. Only keys named by the form are read: forged field names are ignored.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import filetype
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone, translation
from django.utils.datastructures import MultiValueDict
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, ngettext, pgettext

from madoguchi.lib import japanese as ja
from madoguchi.lib.timeutil import jst_date
from madoguchi.procedures import rules
from madoguchi.procedures.formspec import FILE_TYPES, FieldSpec, FormSpec

DEFAULT_MAX_LENGTH = {"short_text": 200, "long_text": 4000}
NAME_PART_MAX = 50
ADDRESS_MAX = 200


@dataclass
class Intake:
    values: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, tuple[UploadedFile, str]] = field(default_factory=dict)  # key → (file, content type)
    flow: rules.Flow | None = None  # the pages and fields these answers lead to


GROUP_COUNT = "__count"


def subkeys(spec: FieldSpec) -> list[str]:
    """The HTML input names of one field (composite fields have two)."""
    if spec.type == "name":
        return [f"{spec.key}__family", f"{spec.key}__given"]
    if spec.type == "address":
        return [f"{spec.key}__postal", f"{spec.key}__address"]
    return [spec.key]


def item_spec(group: FieldSpec, index: int, sub: FieldSpec) -> FieldSpec:
    """A field of a repeating group's item `index` (0-based), named for its inputs: 世帯員 2's 氏名 is
    `members__1__name`."""
    return sub.model_copy(update={"key": f"{group.key}__{index}__{sub.key}"})


def group_count(spec: FieldSpec, raw: dict) -> int:
    """How many items of a repeating group the page shows (at least its minimum, at least one)."""
    try:
        count = int(str(raw.get(spec.key + GROUP_COUNT, "")).strip() or 0)
    except ValueError:
        count = 0
    return min(max(count, spec.min_items, 1), spec.max_items)


def _read_one(spec: FieldSpec, data, raw: dict) -> None:
    # Control characters a resident pasted by mistake are dropped as the input is read, before anything keeps
    # it (the session, the 確認画面, the database): ja.CONTROL_CHARACTERS.
    if spec.type == "multiple_choice":
        raw[spec.key] = [ja.remove_control_characters(str(v)) for v in data.getlist(spec.key)][
            : len(spec.options)
        ]
    elif spec.type == "file":
        raw[f"{spec.key}__remove"] = data.get(f"{spec.key}__remove", "") == "1"
    elif spec.type == "group":
        raw[spec.key + GROUP_COUNT] = str(data.get(spec.key + GROUP_COUNT, ""))[:3]
        for index in range(group_count(spec, raw)):
            for sub in spec.fields:
                if sub.is_input:
                    _read_one(item_spec(spec, index, sub), data, raw)
    else:
        for name in subkeys(spec):
            raw[name] = ja.remove_control_characters(str(data.get(name, "")))


def as_post(raw: dict[str, Any]) -> MultiValueDict:
    """Kept raw input (read_raw's result) read back as a form post: to read every page again at the end."""
    data = MultiValueDict()
    for name, value in raw.items():
        if isinstance(value, list):
            data.setlist(name, [str(v) for v in value])
        elif isinstance(value, bool):
            data[name] = "1" if value else ""
        else:
            data[name] = str(value)
    return data


def read_raw(form: FormSpec, data, keys: set[str] | None = None) -> dict[str, Any]:
    """What the resident sent for each field of the form (or of `keys` only), as sent."""
    raw: dict[str, Any] = {}
    for spec in form.input_fields:
        if keys is None or spec.key in keys:
            _read_one(spec, data, raw)
    return raw


def parse(
    form: FormSpec,
    data,
    files,
    *,
    staged: dict[str, dict] | None = None,
    page_keys: set[str] | None = None,
    known: dict[str, Any] | None = None,
) -> Intake:
    """Validate what was sent, following the form's rules: a field that is not shown is not read, not
    checked and not kept. `staged` maps file field keys to files attached on an earlier try.

    With `page_keys`, only those fields (one page) are read; the answers of other fields come from
    `known` (earlier pages), for the conditions that depend on them.
    """
    result = Intake(raw=read_raw(form, data, page_keys))
    staged = staged or {}
    known = known or {}

    def answer(spec: FieldSpec):
        if page_keys is not None and spec.key not in page_keys:
            return known.get(spec.key)
        try:
            value = _parse_field(spec, result.raw, files, staged, result)
        except ja.InputError as exc:
            result.errors[spec.key] = str(exc)
            return None
        if _is_empty(value):
            if spec.required:
                result.errors[spec.key] = _required_message(spec)
            return None
        result.values[spec.key] = value
        return value

    result.flow = rules.walk(form, answer)
    if form.has_rules:
        shown = set(result.flow.shown)
        result.values = {k: v for k, v in result.values.items() if k in shown}
        result.errors = {k: v for k, v in result.errors.items() if k in shown}
    return result


def _required_message(spec: FieldSpec) -> str:
    if spec.type == "consent":
        return gettext("「%(label)s」に同意いただく必要があります") % {"label": spec.shown_label}
    if spec.type in ("single_choice", "multiple_choice", "dropdown"):
        return gettext("「%(label)s」を選択してください") % {"label": spec.shown_label}
    if spec.type == "file":
        return gettext("「%(label)s」のファイルを添付してください") % {"label": spec.shown_label}
    return gettext("「%(label)s」を入力してください") % {"label": spec.shown_label}


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def _check_length(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ja.InputError(
            gettext("%(limit)s文字以内で入力してください（現在 %(length)s文字）")
            % {"limit": number_format(limit), "length": number_format(len(text))}
        )
    return text


def _parse_field(spec: FieldSpec, raw: dict, files, staged: dict, result: Intake) -> Any:
    kind = spec.type
    if kind in ("short_text", "long_text"):
        text = ja.normalize_text(raw[spec.key], multiline=kind == "long_text")
        return _check_length(text, spec.max_length or DEFAULT_MAX_LENGTH[kind])
    if kind == "number":
        text = raw[spec.key].strip()
        if spec.unit:
            text = text.removesuffix(spec.unit).strip()  # 「2通」 means 2
        if not text:
            return None
        number = Decimal(ja.normalize_number(text))
        if spec.whole_number and number != number.to_integral_value():
            raise ja.InputError(gettext("小数ではなく、整数で入力してください（例：2）"))
        if spec.min_value is not None and number < spec.min_value:
            raise ja.InputError(gettext("%(min)s以上の数値を入力してください") % {"min": spec.min_value})
        if spec.max_value is not None and number > spec.max_value:
            raise ja.InputError(gettext("%(max)s以下の数値を入力してください") % {"max": spec.max_value})
        return str(number)
    if kind == "email":
        text = raw[spec.key].strip()
        return ja.normalize_email(text) if text else None
    if kind == "phone":
        text = raw[spec.key].strip()
        return ja.normalize_phone(text) if text else None
    if kind == "furigana":
        text = raw[spec.key].strip(" \u3000")
        if not text:
            return None
        return _check_length(ja.normalize_kana(text, spec.script), spec.max_length or 100)
    if kind == "date":
        text = raw[spec.key].strip()
        if not text:
            return None
        day = ja.parse_date(text)
        _check_date_range(spec, day)
        return day.isoformat()
    if kind == "name":
        family = ja.normalize_name(raw[f"{spec.key}__family"], max_length=NAME_PART_MAX)
        given = ja.normalize_name(raw[f"{spec.key}__given"], max_length=NAME_PART_MAX)
        if not family and not given:
            return None
        if not family:
            raise ja.InputError(gettext("姓を入力してください"))
        if spec.required and not given:
            raise ja.InputError(gettext("名を入力してください"))
        return {"family": family, "given": given}
    if kind == "address":
        postal_text = raw[f"{spec.key}__postal"].strip()
        address = _check_length(ja.normalize_text(raw[f"{spec.key}__address"]), ADDRESS_MAX)
        if not postal_text and not address:
            return None
        if not postal_text:
            raise ja.InputError(gettext("郵便番号を入力してください（例：680-8570）"))
        postal = ja.normalize_postal_code(postal_text)
        if not address:
            raise ja.InputError(gettext("住所を入力してください"))
        return {"postal_code": postal, "address": address}
    if kind in ("single_choice", "dropdown"):
        choice = raw[spec.key]
        if not choice:
            return None
        if choice not in spec.options:
            raise ja.InputError(gettext("選択肢の中から選んでください"))
        return choice
    if kind == "multiple_choice":
        chosen = [option for option in spec.options if option in raw[spec.key]]
        if len(chosen) != len(set(raw[spec.key])):
            raise ja.InputError(gettext("選択肢の中から選んでください"))
        if chosen and spec.min_choices and len(chosen) < spec.min_choices:
            raise ja.InputError(
                ngettext("%(min)sつ以上選んでください", "%(min)sつ以上選んでください", spec.min_choices)
                % {"min": spec.min_choices}
            )
        if spec.max_choices and len(chosen) > spec.max_choices:
            raise ja.InputError(
                ngettext("%(max)sつまで選べます", "%(max)sつまで選べます", spec.max_choices)
                % {"max": spec.max_choices}
            )
        return chosen
    if kind == "consent":
        return raw[spec.key] in ("1", "on", "yes")
    if kind == "group":
        return _parse_group(spec, raw, result)
    if kind == "file":
        upload = files.get(spec.key) if files else None
        if upload is not None and upload.size:
            result.uploads[spec.key] = (upload, check_upload(spec, upload))
            return {"pending": True, "name": upload.name, "size": upload.size}
        if staged.get(spec.key) and not raw.get(f"{spec.key}__remove"):
            return staged[spec.key]
        return None
    raise ja.InputError(gettext("この項目は受け付けられません"))


def item_name(spec: FieldSpec, index: int) -> str:
    """「世帯員 2」: the group's item label (or its label) and the item's number, in the page language."""
    return f"{spec.shown_item_label} {index + 1}"


def _parse_group(spec: FieldSpec, raw: dict, result: Intake) -> list[dict] | None:
    """The items of a repeating group: each a dict of its fields' clean answers; empty items dropped."""
    items = []
    for index in range(group_count(spec, raw)):
        item = {}
        for sub in spec.fields:
            if not sub.is_input:
                continue
            named = item_spec(spec, index, sub)
            try:
                value = _parse_field(named, raw, None, {}, result)
            except ja.InputError as exc:
                raise ja.InputError(
                    gettext("%(item)s の「%(label)s」：%(message)s")
                    % {"item": item_name(spec, index), "label": sub.shown_label, "message": exc}
                ) from None
            if not _is_empty(value):
                item[sub.key] = value
        if not item:
            continue
        for sub in spec.fields:
            if sub.is_input and sub.required and sub.key not in item:
                raise ja.InputError(
                    gettext("%(item)s の「%(label)s」を入力してください")
                    % {"item": item_name(spec, index), "label": sub.shown_label}
                )
        items.append(item)
    if items and len(items) < spec.min_items:
        raise ja.InputError(
            ngettext("%(min)s件以上入力してください", "%(min)s件以上入力してください", spec.min_items)
            % {"min": spec.min_items}
        )
    return items or None


def _check_date_range(spec: FieldSpec, day: date) -> None:
    if spec.min_date and day < spec.min_date:
        raise ja.InputError(
            gettext("%(date)s以降の日付を入力してください") % {"date": ja.format_date_both(spec.min_date)}
        )
    if spec.max_date and day > spec.max_date:
        raise ja.InputError(
            gettext("%(date)s以前の日付を入力してください") % {"date": ja.format_date_both(spec.max_date)}
        )
    if spec.past_only and day > jst_date(timezone.now()):
        raise ja.InputError(gettext("今日より後の日付は入力できません（生年月日などは過去の日付です）"))


def check_upload(spec: FieldSpec, upload: UploadedFile) -> str:
    """Check size, extension and content signature; return the content type to store."""
    limit = spec.max_size_mb * 1024 * 1024
    if upload.size > limit:
        raise ja.InputError(
            gettext("ファイルが大きすぎます。%(size)sMB以下のファイルを選んでください")
            % {"size": spec.max_size_mb}
        )
    name = upload.name or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    ext = {"jpeg": "jpg", "heif": "heic"}.get(ext, ext)
    allowed = pgettext("between file types", "・").join(t.upper() for t in spec.allowed_types)
    if ext not in spec.allowed_types:
        raise ja.InputError(
            gettext("このファイル形式は添付できません。%(types)s のファイルを選んでください")
            % {"types": allowed}
        )
    head = upload.read(8192)
    upload.seek(0)
    guessed = filetype.guess(head)
    if guessed is None or guessed.mime not in FILE_TYPES[ext]:
        raise ja.InputError(
            gettext("ファイルの中身が %(type)s 形式ではありません。%(types)s のファイルを選んでください")
            % {"type": ext.upper(), "types": allowed}
        )
    return guessed.mime


def raw_from_values(form: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The inputs of a form filled with stored answers, for a resident who corrects them (補正)."""
    raw: dict[str, Any] = {}
    for spec in form.input_fields:
        value = values.get(spec.key)
        if spec.type == "name":
            value = value or {}
            raw[f"{spec.key}__family"] = value.get("family", "")
            raw[f"{spec.key}__given"] = value.get("given", "")
        elif spec.type == "address":
            value = value or {}
            raw[f"{spec.key}__postal"] = value.get("postal_code", "")
            raw[f"{spec.key}__address"] = value.get("address", "")
        elif spec.type == "multiple_choice":
            raw[spec.key] = list(value or [])
        elif spec.type == "consent":
            raw[spec.key] = "1" if value else ""
        elif spec.type == "file":
            raw[f"{spec.key}__remove"] = False
        elif spec.type == "date" and value:
            raw[spec.key] = _date_for_input(value)
        elif spec.type == "group":
            items = value or []
            raw[spec.key + GROUP_COUNT] = str(len(items))
            for index, item in enumerate(items):
                for sub in spec.fields:
                    if sub.is_input:
                        named = item_spec(spec, index, sub)
                        raw.update(
                            raw_from_values(
                                FormSpec.model_construct(fields=[named]), {named.key: item.get(sub.key)}
                            )
                        )
        else:
            raw[spec.key] = "" if value is None else str(value)
    return raw


def _date_for_input(value: str) -> str:
    """A stored date as an elderly resident would type it: 昭和15年3月3日 (the parser reads it back)."""
    try:
        day = date.fromisoformat(value)
        return value if translation.get_language() == "en" else ja.format_wareki(day)
    except ValueError:
        return value


def display_value(spec: FieldSpec, value: Any) -> str:
    """How an answer reads on the 確認画面, the staff page, the e-mail and the export."""
    if value is None or value == "" or value == []:
        return ""
    kind = spec.type
    if kind == "name":
        return f"{value.get('family', '')}\u3000{value.get('given', '')}".strip("\u3000")
    if kind == "address":
        return f"〒{value.get('postal_code', '')} {value.get('address', '')}"
    if kind == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return str(value)
        if translation.get_language() == "en":
            return date_format(day, "j F Y")
        return ja.format_date_both(day)
    if kind == "number":
        return f"{value}{spec.unit}"
    if kind == "multiple_choice":
        return pgettext("list separator", "、").join(spec.shown_option(v) for v in value)
    if kind in ("single_choice", "dropdown"):
        return spec.shown_option(value)
    if kind == "group":
        lines = []
        for index, item in enumerate(value):
            parts = [
                gettext("%(label)s：%(value)s")
                % {"label": sub.shown_label, "value": display_value(sub, item.get(sub.key))}
                for sub in spec.fields
                if sub.is_input and item.get(sub.key) not in (None, "", [])
            ]
            lines.append(f"{item_name(spec, index)}　" + pgettext("list separator", "、").join(parts))
        return "\n".join(lines)
    if kind == "consent":
        return gettext("同意する") if value else gettext("同意しない")
    if kind == "file":
        return gettext("%(name)s（%(size)s）") % {
            "name": value.get("name", ""),
            "size": _human_size(int(value.get("size", 0))),
        }
    return str(value)


def export_columns(spec: FieldSpec) -> list[str]:
    """The export's column headings of one field (a name and an address have two), in Japanese."""
    if spec.type == "name":
        return [f"{spec.label}（姓）", f"{spec.label}（名）"]
    if spec.type == "address":
        return [f"{spec.label}（郵便番号）", f"{spec.label}（住所）"]
    return [spec.label]


def export_cells(spec: FieldSpec, value: Any) -> list[str | Decimal | date | None]:
    """The export's cells of one stored answer, one per ``export_columns`` heading.

    A number is a ``Decimal`` (without its unit) and a date a ``date``, so that they stay a number and a
    date in the spreadsheet; anything else is the text shown to staff (``display_value``); no answer is
    None. A stored value that cannot be read as its type (data older than its field's type) is its text.
    """
    if spec.type == "name":
        value = value or {}
        return [value.get("family") or None, value.get("given") or None]
    if spec.type == "address":
        value = value or {}
        return [value.get("postal_code") or None, value.get("address") or None]
    if value is None or value == "":
        return [None]
    if spec.type == "number":
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            return [str(value)]
        return [number if number.is_finite() else str(value)]
    if spec.type == "date":
        try:
            return [date.fromisoformat(str(value))]
        except ValueError:
            return [str(value)]
    return [display_value(spec, value) or None]


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}MB"
    return f"{max(size // 1024, 1)}KB"
