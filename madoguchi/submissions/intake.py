"""Turn what a resident typed into clean answers, field by field, with a message per field.

The resident's own text (`raw`) is always kept beside the clean values so that a page with errors shows
everything exactly as typed. Only keys named by the form are read: forged field names are ignored.
"""

import re
import unicodedata
from collections.abc import Callable
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
from madoguchi.submissions import upload_checks

DEFAULT_MAX_LENGTH = {"short_text": 200, "long_text": 4000}
NAME_PART_MAX = 50
ADDRESS_MAX = 200


@dataclass
class Intake:
    values: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # For a field made of several boxes (a name, an address): the boxes its message is about (InputError.box,
    # space-separated), so the page marks those and its summary links to the first.
    boxes: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, tuple[UploadedFile, str]] = field(default_factory=dict)  # key → (file, content type)
    flow: rules.Flow | None = None  # the pages and fields these answers lead to

    @property
    def shown_errors(self) -> dict[str, str]:
        """The errors as the pages keep them in the session and show them: each field's message, and beside
        it, under its key + BOX, the boxes it is about."""
        return {**self.errors, **{key + BOX: boxes for key, boxes in self.boxes.items()}}


GROUP_COUNT = "__count"
# The key, after a field's own, under which Intake.shown_errors keeps the boxes of its message. No field
# key holds "#".
BOX = "#box"


def subkeys(spec: FieldSpec) -> list[str]:
    """The HTML input names of one field (composite fields have two)."""
    if spec.type == "name":
        reading = (
            [spec.key] if spec.reading else []
        )  # the reading's boxes, kept as one list (_read_name_reading)
        return [f"{spec.key}__family", f"{spec.key}__given", *reading]
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
    elif spec.type == "date" and spec.split_date:
        _read_split_date(spec, data, raw)
    elif spec.type == "address":
        _read_address(spec, data, raw)
    elif spec.type == "name" and spec.reading:
        for name in subkeys(spec):
            raw[name] = _kept_text(spec, data.get(name, ""))
        _read_name_reading(spec, data, raw)
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
            raw[name] = _kept_text(spec, data.get(name, ""))


def _kept_text(spec: FieldSpec, value: Any) -> str:
    """One box's input as it is kept (lib/japanese.clean_input): no control character; line breaks and tabs
    only in a 複数行 answer, a space in any other box."""
    return ja.clean_input(str(value), multiline=spec.type == "long_text")


def _refuse_individual_number(text: str) -> None:
    """A free-text or number answer must not carry a マイナンバー (lib/japanese.contains_individual_number): short
    and long text, numbers, the address after its postal code and a name's parts, in groups too (番号法 第20条
    limits collecting it to the uses the law lists; a form of this service is not one of them)."""
    if ja.contains_individual_number(text):
        raise ja.InputError(str(ja.INDIVIDUAL_NUMBER_MESSAGE))


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
            if exc.box:
                result.boxes[spec.key] = exc.box
            return None
        if _is_empty(value):
            if spec.required:
                result.errors[spec.key] = _required_message(spec)
                if spec.type in ("name", "address"):  # the boxes that make the value, not a name's reading
                    result.boxes[spec.key] = "family given" if spec.type == "name" else "postal address"
            return None
        result.values[spec.key] = value
        return value

    result.flow = rules.walk(form, answer)
    if form.has_rules:
        shown = set(result.flow.shown)
        result.values = {k: v for k, v in result.values.items() if k in shown}
        result.errors = {k: v for k, v in result.errors.items() if k in shown}
        result.boxes = {k: v for k, v in result.boxes.items() if k in shown}
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
        _refuse_individual_number(text)
        return _check_length(text, spec.max_length or DEFAULT_MAX_LENGTH[kind])
    if kind == "number":
        text = ja.trim_invisible(raw[spec.key])
        if spec.unit:
            text = ja.trim_invisible(text.removesuffix(spec.unit))  # 「2通」 means 2
        if not text:
            return None
        _refuse_individual_number(text)
        number = Decimal(ja.normalize_number(text))
        if spec.whole_number and number != number.to_integral_value():
            raise ja.InputError(gettext("小数ではなく、整数で入力してください（例：2）"))
        if spec.min_value is not None and number < spec.min_value:
            raise ja.InputError(gettext("%(min)s以上の数値を入力してください") % {"min": spec.min_value})
        if spec.max_value is not None and number > spec.max_value:
            raise ja.InputError(gettext("%(max)s以下の数値を入力してください") % {"max": spec.max_value})
        return str(number)
    if kind == "email":
        text = ja.trim_invisible(raw[spec.key])
        return ja.normalize_email(text) if text else None
    if kind == "phone":
        text = ja.trim_invisible(raw[spec.key])
        return ja.normalize_phone(text) if text else None
    if kind == "furigana":
        text = ja.trim_invisible(raw[spec.key])
        if not text:
            return None
        kana = ja.normalize_kana(text, spec.script, full_name=spec.full_name)
        return _check_length(kana, spec.max_length or 100)
    if kind == "date":
        return _parse_date_answer(spec, raw)
    if kind == "name":
        family = _in_box("family", ja.normalize_name, raw[f"{spec.key}__family"], max_length=NAME_PART_MAX)
        given = _in_box("given", ja.normalize_name, raw[f"{spec.key}__given"], max_length=NAME_PART_MAX)
        if not family and not given:
            return None
        _refuse_individual_number(f"{family} {given}")
        if not family:
            raise ja.InputError(gettext("姓を入力してください"), box="family")
        if spec.required and not given:
            raise ja.InputError(gettext("名を入力してください"), box="given")
        name = {"family": family, "given": given}
        if spec.reading:
            name.update(_parse_name_reading(spec, raw))
        return name
    if kind == "address":
        return _parse_address(spec, raw)
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
    """Check size, extension, content signature and content (upload_checks); return the content type to
    store. Raises japanese.InputError."""
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
    upload_checks.check_content(ext, upload)
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
            if spec.reading:
                raw[spec.key] = [value.get("reading_family", ""), value.get("reading_given", "")]
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
        elif spec.type == "date" and spec.split_date:
            raw[spec.key] = _date_parts_for_input(value)
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
        shown = f"{value.get('family', '')}\u3000{value.get('given', '')}".strip("\u3000")
        return shown + _reading_shown(value)
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
    if kind == "phone":
        return ja.format_phone(str(value))  # one written form, also for numbers stored before it
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
        reading = [f"{spec.label}（読み・姓）", f"{spec.label}（読み・名）"] if spec.reading else []
        return [f"{spec.label}（姓）", f"{spec.label}（名）", *reading]
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
        reading = (
            [value.get("reading_family") or None, value.get("reading_given") or None] if spec.reading else []
        )
        return [value.get("family") or None, value.get("given") or None, *reading]
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


# Fields whose answer the export shows as its text (display_value's last case).
_TEXT_EXPORT_TYPES = frozenset({"short_text", "long_text", "email", "furigana"})


def export_cells_for(spec: FieldSpec) -> Callable[[Any], list[str | Decimal | date | None]]:
    """A function giving ``export_cells(spec, value)`` for any stored answer ``value`` of the field, with the
    work that depends only on the field (its type, whether it has a reading, the words of the active
    language: call it with the language of the export active) done once instead of for every answer.
    Numbers, dates, phones (libphonenumber's formatting), groups and files, and every field while English is
    active, use ``export_cells`` itself."""
    kind = spec.type
    if kind == "name":
        if spec.reading:

            def name_with_reading(value: Any) -> list:
                value = value or {}
                return [
                    value.get("family") or None,
                    value.get("given") or None,
                    value.get("reading_family") or None,
                    value.get("reading_given") or None,
                ]

            return name_with_reading

        def name(value: Any) -> list:
            value = value or {}
            return [value.get("family") or None, value.get("given") or None]

        return name
    if kind == "address":

        def address(value: Any) -> list:
            value = value or {}
            return [value.get("postal_code") or None, value.get("address") or None]

        return address
    if kind in ("number", "date") or translation.get_language() == "en":
        return lambda value: export_cells(spec, value)
    if kind in _TEXT_EXPORT_TYPES:

        def text(value: Any) -> list:
            if value is None or value == "" or value == []:
                return [None]
            return [(value if type(value) is str else str(value)) or None]

        return text
    if kind in ("single_choice", "dropdown"):  # an option is shown as it is when the page is not in English

        def choice(value: Any) -> list:
            if value is None or value == "" or value == []:
                return [None]
            return [value or None]

        return choice
    if kind == "multiple_choice":
        separator = pgettext("list separator", "、")

        def choices(value: Any) -> list:
            if value is None or value == "" or value == []:
                return [None]
            return [separator.join([option for option in value]) or None]

        return choices
    if kind == "consent":
        agreed, refused = gettext("同意する") or None, gettext("同意しない") or None

        def consent(value: Any) -> list:
            if value is None or value == "" or value == []:
                return [None]
            return [agreed if value else refused]

        return consent
    return lambda value: export_cells(spec, value)


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}MB"
    return f"{max(size // 1024, 1)}KB"


# Dates as 年・月・日 boxes ---------------------------------------------------------------------------------
# The boxes (デジタル庁デザインシステム「日付入力」): an era <select> (`key__era`), then `key__year`,
# `key__month`, `key__day`. What the resident sent is kept as one list [era, year, month, day] under `key`,
# so that it travels with the field (a group's item moving up, the session, as_post) and as_post reads it back.

WESTERN_ERA = "西暦"
DATE_ERAS = (WESTERN_ERA, "令和", "平成", "昭和", "大正")
DATE_PARTS = ("era", "year", "month", "day")


def _read_split_date(spec: FieldSpec, data, raw: dict) -> None:
    names = [f"{spec.key}__{part}" for part in DATE_PARTS]
    if any(name in data for name in names):
        parts = [str(data.get(name, "")) for name in names]
    else:  # read back from kept input (as_post), or one box sent by an older page: typed freely, in the year
        kept = (
            [str(v) for v in data.getlist(spec.key)]
            if hasattr(data, "getlist")
            else [str(data.get(spec.key))]
        )
        parts = kept if len(kept) == len(DATE_PARTS) else [WESTERN_ERA, "".join(kept), "", ""]
    raw[spec.key] = [ja.remove_control_characters(part) for part in parts]


def date_parts(value: Any) -> dict[str, str]:
    """The boxes of a split date as the page shows them, from kept input (a list, or a text typed freely)."""
    if isinstance(value, list | tuple) and len(value) == len(DATE_PARTS):
        parts = dict(zip(DATE_PARTS, (str(v) for v in value), strict=True))
    else:
        parts = {"era": WESTERN_ERA, "year": str(value or ""), "month": "", "day": ""}
    if parts["era"] not in DATE_ERAS:
        parts["era"] = WESTERN_ERA
    return parts


def _date_parts_for_input(value: Any) -> list[str]:
    """A stored date in the boxes: in its era (昭和55年 is how a birth year is remembered), 西暦 in English."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return [WESTERN_ERA, "", "", ""]
    if translation.get_language() != "en":
        for era in ja.ERAS:
            if era.name in DATE_ERAS and era.start <= day:
                return [era.name, str(day.year - era.start.year + 1), str(day.month), str(day.day)]
    return [WESTERN_ERA, str(day.year), str(day.month), str(day.day)]


def _part_number(text: str, message: str) -> int:
    digits = unicodedata.normalize("NFKC", text).strip()
    if not digits.isascii() or not digits.isdigit():
        raise ja.InputError(message)
    return int(digits)


def _parse_date_answer(spec: FieldSpec, raw: dict) -> str | None:
    """The date a resident gave, as an ISO string: typed in one box, or in the 年・月・日 boxes.

    Both go through lib/japanese.parse_date, so an era date (令和8年4月1日, 平成31年4月30日) is read the same
    way whichever way it was given. A message names the box to fix (年, 月 or 日). Raises InputError.
    """
    value = raw.get(spec.key, "")
    if isinstance(value, list):
        day = _parse_split_date(date_parts(value))
    else:
        text = ja.trim_invisible(str(value))
        day = ja.parse_date(text) if text else None
    if day is None:
        return None
    _check_date_range(spec, day)
    return day.isoformat()


def _parse_split_date(parts: dict[str, str]) -> date | None:
    era = parts["era"]
    year, month, day = (
        ja.trim_invisible(unicodedata.normalize("NFKC", parts[p])) for p in ("year", "month", "day")
    )
    if not (year or month or day):
        return None
    if year and not month and not day and not year.isdigit():
        return ja.parse_date(year)  # a whole date typed into the year box (2026/4/1, 令和8年4月1日)
    if not year:
        raise ja.InputError(gettext("年を入力してください"))
    if not month:
        raise ja.InputError(gettext("月を入力してください"))
    if not day:
        raise ja.InputError(gettext("日を入力してください"))
    if era != WESTERN_ERA and year == "元":
        year_number = 1
    else:
        year_number = _part_number(
            year.removesuffix("年"), gettext("年は数字で入力してください（例：1980、令和なら8）")
        )
    month_number = _part_number(month.removesuffix("月"), gettext("月は1から12までの数字で入力してください"))
    day_number = _part_number(day.removesuffix("日"), gettext("日は1から31までの数字で入力してください"))
    if not 1 <= month_number <= 12:
        raise ja.InputError(gettext("月は1から12までの数字で入力してください"))
    if not 1 <= day_number <= 31:
        raise ja.InputError(gettext("日は1から31までの数字で入力してください"))
    if era == WESTERN_ERA:
        if year_number < 1000:
            raise ja.InputError(
                gettext("西暦の年は4桁で入力してください（例：1980）。元号の年なら、元号を選んでください")
            )
        text = f"{year_number}年{month_number}月{day_number}日"
    else:
        if year_number < 1:
            raise ja.InputError(gettext("年は1以上の数字で入力してください（1年は元年です）"))
        text = f"{era}{year_number}年{month_number}月{day_number}日"
    try:
        return ja.parse_date(text)
    except ja.InputError as exc:
        if "存在しない日付" in str(exc) or "does not exist" in str(exc):
            raise ja.InputError(
                gettext("%(year)s年%(month)s月には%(day)s日はありません。日を確かめてください")
                % {
                    "year": year_number if era == WESTERN_ERA else f"{era}{year_number}",
                    "month": month_number,
                    "day": day_number,
                }
            ) from None
        raise


# Addresses -------------------------------------------------------------------------------------------------
# 「住所を検索」 (`postal_lookup`=key) and 「この町域を入れる」 (`postal_pick`=key, the 町域 in `key__town`) are
# plain submit buttons: they work without JavaScript. Pressing one fills the address box on the server and shows
# the page again (an InputError is what makes the form stay on the page: the address still needs its 番地).
# The button is an action, not an answer: it is never kept, so reading the kept input again does not repeat it.

_ADDRESS_ACTION = "__postal_action"


def _read_address(spec: FieldSpec, data, raw: dict) -> None:
    for name in subkeys(spec):
        raw[name] = ja.remove_control_characters(str(data.get(name, "")))
    if data.get("postal_lookup", "") == spec.key:
        raw[spec.key + _ADDRESS_ACTION] = "lookup"
    elif data.get("postal_pick", "") == spec.key:
        raw[spec.key + _ADDRESS_ACTION] = "pick:" + ja.remove_control_characters(
            str(data.get(f"{spec.key}__town", ""))
        )


def _parse_address(spec: FieldSpec, raw: dict) -> dict | None:
    from madoguchi.lib import postal

    action = raw.pop(spec.key + _ADDRESS_ACTION, "")
    postal_text = ja.trim_invisible(raw[f"{spec.key}__postal"])
    if action:
        if not postal_text:
            raise ja.InputError(
                gettext("郵便番号を入力してから「住所を検索」を押してください（例：680-8570）"), box="postal"
            )
        try:
            towns = postal.candidates(postal_text)
        except KeyError:
            raise ja.InputError(
                gettext(
                    "この郵便番号は見つかりませんでした。番号を確かめるか、住所をそのまま入力してください"
                ),
                box="postal",
            ) from None
        typed = raw[f"{spec.key}__address"].strip()
        rest = _after_candidate(typed, towns)
        if action.startswith("pick:"):
            chosen = next((t for t in towns if t.address == action[5:]), None)
            if chosen is None:
                raise ja.InputError(gettext("一覧の中から町域を選んでください"))
        elif len(towns) == 1:
            chosen = towns[0]
        else:
            raise ja.InputError(
                gettext("この郵便番号には町域が%(count)s件あります。一覧からお住まいの町域を選んでください")
                % {"count": len(towns)}
            )
        raw[f"{spec.key}__address"] = chosen.address + (rest if rest is not None else typed)
        raise ja.InputError(
            gettext("住所に「%(address)s」を入れました。続けて番地・建物名などを入力してください")
            % {"address": chosen.address}
        )
    address = _in_box("address", _check_length, ja.normalize_text(raw[f"{spec.key}__address"]), ADDRESS_MAX)
    _in_box("address", _refuse_individual_number, address)
    if not postal_text and not address:
        return None
    if not postal_text:
        raise ja.InputError(gettext("郵便番号を入力してください（例：680-8570）"), box="postal")
    postal_code = _in_box("postal", ja.normalize_postal_code, postal_text)
    if not address:
        raise ja.InputError(gettext("住所を入力してください"), box="address")
    return {"postal_code": postal_code, "address": address}


def _in_box(box: str, check, *args, **kwargs):
    """check(*args, **kwargs), its InputError said to be about `box` of the field (InputError.box)."""
    try:
        return check(*args, **kwargs)
    except ja.InputError as exc:
        raise ja.InputError(str(exc), box=box) from None


def _after_candidate(typed: str, towns) -> str | None:
    """What follows the address of one of `towns` (or of their 市区町村) in `typed`; None if it starts with
    neither (then the chosen address goes before what was typed, which is all kept)."""
    if not typed:
        return ""
    prefixes = sorted(
        {t.address for t in towns} | {t.prefecture + t.city for t in towns}, key=len, reverse=True
    )
    return next((typed[len(p) :] for p in prefixes if typed.startswith(p)), None)


def address_choices(postal_text: str, address: str) -> list:
    """The 町域 to choose from under an address field: the candidates of a postal code that names several,
    while the address does not start with one of them (empty otherwise, and for a code not found)."""
    from madoguchi.lib import postal

    try:
        towns = postal.candidates(postal_text or "")
    except (ja.InputError, KeyError):
        return []
    if len(towns) < 2 or any(address.strip().startswith(t.address) and t.town for t in towns):
        return []
    return towns


# A name's reading (ふりがな or Latin letters) ---------------------------------------------------------------
# Sent as `key__reading_family` and `key__reading_given`, kept as the list [family, given] under `key`.

LATIN_NAME = re.compile(
    r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]+(?:[ \-'.\u2019][A-Za-z\u00c0-\u024f\u1e00-\u1eff]*)*\.?"
)


def _read_name_reading(spec: FieldSpec, data, raw: dict) -> None:
    names = [f"{spec.key}__reading_family", f"{spec.key}__reading_given"]
    if any(name in data for name in names):
        parts = [str(data.get(name, "")) for name in names]
    else:
        kept = [str(v) for v in data.getlist(spec.key)] if hasattr(data, "getlist") else []
        parts = kept if len(kept) == 2 else ["", ""]
    raw[spec.key] = [ja.remove_control_characters(part) for part in parts]


def reading_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return "", ""


def is_latin_name(text: str) -> bool:
    """Latin letters (accented ones too: é, ñ, ő, ş), spaces, hyphens, apostrophes and periods only."""
    return bool(LATIN_NAME.fullmatch(unicodedata.normalize("NFC", text)))


def _parse_name_reading(spec: FieldSpec, raw: dict) -> dict:
    """The reading beside a name: {"reading_family", "reading_given", "reading_script"} ("kana" or "latin")."""
    family, given = (" ".join(part.split()) for part in reading_parts(raw.get(spec.key)))
    if not family and not given:
        if spec.required:
            raise ja.InputError(
                gettext("氏名（ローマ字）を入力してください")
                if spec.reading == "latin"
                else gettext("氏名のふりがなを入力してください"),
                box="reading_family reading_given",
            )
        return {}
    both = f"{family} {given}".strip()
    latin = spec.reading == "latin" or (spec.reading == "either" and is_latin_name(both.replace(" ", "")))
    if latin:
        for box, part in (("reading_family", family), ("reading_given", given)):
            if part and not is_latin_name(part):
                raise ja.InputError(
                    gettext(
                        "氏名（ローマ字）は、ローマ字（A〜Z、アクセント付きの文字も可）、空白、ハイフン、"
                        "アポストロフィ、ピリオドで入力してください"
                    ),
                    box=box,
                )
        for box, part in (("reading_family", family), ("reading_given", given)):
            _in_box(box, _check_length, part, NAME_PART_MAX)
        return {
            "reading_family": unicodedata.normalize("NFC", family),
            "reading_given": unicodedata.normalize("NFC", given),
            "reading_script": "latin",
        }
    kana = [
        _in_box(box, ja.normalize_kana, part, spec.script) if part else ""
        for box, part in (("reading_family", family), ("reading_given", given))
    ]
    for box, part in zip(("reading_family", "reading_given"), kana, strict=True):
        _in_box(box, _check_length, part, NAME_PART_MAX)
    return {"reading_family": kana[0], "reading_given": kana[1], "reading_script": "kana"}


def _reading_shown(value: dict) -> str:
    reading = " ".join(p for p in (value.get("reading_family", ""), value.get("reading_given", "")) if p)
    if not reading:
        return ""
    if value.get("reading_script") == "kana":
        reading = "\u3000".join(
            p for p in (value.get("reading_family", ""), value.get("reading_given", "")) if p
        )
    return gettext("（%(reading)s）") % {"reading": reading}
