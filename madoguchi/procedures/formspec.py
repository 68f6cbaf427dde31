"""The form definition: a JSON document validated by pydantic when a version is saved.

A version is immutable once saved, so everything a submission needs to be shown again later (labels,
options, limits) must be in this document.
"""

import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Literal, NamedTuple

import pydantic_core
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from madoguchi.lib.japanese import CONTROL_CHARACTERS

FieldType = Literal[
    "short_text",
    "long_text",
    "number",
    "email",
    "phone",
    "address",
    "name",
    "furigana",
    "date",
    "single_choice",
    "multiple_choice",
    "dropdown",
    "file",
    "consent",
    "heading",
    "group",
]

FIELD_TYPE_LABELS: dict[str, str] = {
    "short_text": _("短い文章"),
    "long_text": _("長い文章"),
    "number": _("数値"),
    "email": _("メールアドレス"),
    "phone": _("電話番号"),
    "address": _("郵便番号・住所"),
    "name": _("氏名（姓・名）"),
    "furigana": _("ふりがな"),
    "date": _("日付"),
    "single_choice": _("単一選択（ラジオボタン）"),
    "multiple_choice": _("複数選択（チェックボックス）"),
    "dropdown": _("プルダウン"),
    "file": _("添付ファイル"),
    "consent": _("同意チェック"),
    "heading": _("見出し・説明文"),
    "group": _("繰り返しの項目（世帯員など）"),
}
CHOICE_TYPES = {"single_choice", "multiple_choice", "dropdown"}
TEXT_TYPES = {"short_text", "long_text"}
# File types a resident may attach, by the extension shown to them; content is checked by signature too.
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "pdf": ("application/pdf",),
    "jpg": ("image/jpeg",),
    "png": ("image/png",),
    "heic": ("image/heic", "image/heif"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip"),
}
MAX_FILE_MB = 20
# All file fields of one form together: one submit must fit under the request limit (MAX_REQUEST_MB).
MAX_FORM_FILES_MB = 40
# Procedures may not collect the individual number (番号法); catch it in labels whatever the width.
# The card itself (マイナンバーカード) may be named, e.g. as an identity document; its number may not.
# Read after folding (NFKC, katakana as hiragana, no spaces): マイ ナンバー, まいなんばー and ﾏｲﾅﾝﾊﾞｰ are caught,
# and so is the card's own number (マイナンバーカードの番号, 個人番号カードの裏面).
FORBIDDEN_LABEL = re.compile(
    r"(まいなんばー|個人番号)(?!かーど)"
    r"|(まいなんばー|個人番号)かーど(の|に記載の|記載の)?(裏面の|裏の|うらの)?(番号|12桁)"
    r"|mynumber(?!card)|mynumbercard(no|number|back)|individualnumber",
    re.IGNORECASE,
)


_KATAKANA_AS_HIRAGANA = {code: code - 0x60 for code in range(ord("ァ"), ord("ヶ") + 1)}


def asks_for_individual_number(text: str) -> bool:
    if not text:
        return False  # most help texts and English ones: every field's are read on each save
    folded = "".join(unicodedata.normalize("NFKC", text).split()).translate(_KATAKANA_AS_HIRAGANA)
    return bool(FORBIDDEN_LABEL.search(folded))


ConditionOp = Literal[
    "equals", "not_equals", "one_of", "contains", "empty", "not_empty", "gt", "gte", "lt", "lte"
]
CONDITION_OP_LABELS: dict[str, str] = {
    "equals": _("が次と同じ"),
    "not_equals": _("が次と違う"),
    "one_of": _("が次のどれか"),
    "contains": _("に次を含む"),
    "empty": _("が空欄"),
    "not_empty": _("が空欄でない"),
    "gt": _("が次より大きい（後）"),
    "gte": _("が次以上（以後）"),
    "lt": _("が次より小さい（前）"),
    "lte": _("が次以下（以前）"),
}
COMPARISONS = {"gt", "gte", "lt", "lte"}


class Condition(BaseModel):
    """「項目 `field` の答え `op` `value`」. Conditions in a list must all hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(max_length=40)
    op: ConditionOp
    value: str | list[str] | None = None

    @field_validator("value")
    @classmethod
    def _short(cls, value):
        items = value if isinstance(value, list) else [value] if value is not None else []
        if len(items) > 100 or any(len(v) > 200 for v in items):
            raise ValueError("条件の値が長すぎます（200文字・100個まで）")
        return value


class SkipRule(BaseModel):
    """After its page: when every condition holds, go on at page `goto` (a later page)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: list[Condition] = Field(default_factory=list, max_length=10)
    goto: str = Field(max_length=40)


class PageSpec(BaseModel):
    """A page of the form: its fields by key, when it is shown, where to go after it. A page with an
    `exit_message` ends the form there: the resident reads the message and cannot submit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", max_length=40)
    title: str = Field(default="", max_length=200)
    title_en: str = Field(default="", max_length=200)
    fields: list[str] = Field(default_factory=list, max_length=200)
    show_if: list[Condition] = Field(default_factory=list, max_length=10)
    skip_to: list[SkipRule] = Field(default_factory=list, max_length=10)
    exit_message: str = Field(default="", max_length=2000)
    exit_message_en: str = Field(default="", max_length=2000)

    @property
    def is_exit(self) -> bool:
        return bool(self.exit_message)


def _in_page_language(japanese: str, english: str) -> str:
    return english if english and translation.get_language() == "en" else japanese


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", max_length=40)
    type: FieldType
    label: str = Field(min_length=1, max_length=200)
    help: str = Field(default="", max_length=1000)
    required: bool = False
    max_length: int | None = Field(default=None, ge=1, le=10000)
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    whole_number: bool = False  # counts (通数, 人数): no decimals
    unit: str = Field(default="", max_length=10)  # 通, 人, 円: shown after the box, accepted after the number
    min_date: date | None = None
    max_date: date | None = None
    past_only: bool = False  # 生年月日 and the like: today or before
    options: list[str] = Field(default_factory=list, max_length=100)
    min_choices: int | None = Field(default=None, ge=0)
    max_choices: int | None = Field(default=None, ge=1)
    script: Literal["hiragana", "katakana"] = "hiragana"
    max_size_mb: int = Field(default=10, ge=1, le=MAX_FILE_MB)
    allowed_types: list[str] = Field(default_factory=lambda: ["pdf", "jpg", "png"])
    text: str = Field(default="", max_length=5000)
    # English beside the Japanese, for a resident who chose English; empty falls back to Japanese.
    label_en: str = Field(default="", max_length=200)
    help_en: str = Field(default="", max_length=1000)
    text_en: str = Field(default="", max_length=5000)
    options_en: list[str] = Field(default_factory=list, max_length=100)
    # Shown only when every condition holds; otherwise not asked, not checked, not stored.
    show_if: list[Condition] = Field(default_factory=list, max_length=10)
    # A repeating group (世帯員 1..N): its own fields, asked once per item.
    fields: list["FieldSpec"] = Field(default_factory=list, max_length=20)
    min_items: int = Field(default=1, ge=0, le=50)
    max_items: int = Field(default=10, ge=1, le=50)
    item_label: str = Field(default="", max_length=40)
    item_label_en: str = Field(default="", max_length=40)
    # A date as 年・月・日 boxes with an era choice (デジタル庁デザインシステム「日付入力」) or as one box typed
    # freely; "auto": the boxes for a birth date (past_only), one box otherwise. Either way both are read.
    date_input: Literal["auto", "split", "text"] = "auto"
    # A name's reading, asked beside it: "" none (a separate ふりがな field may ask it), "kana" ふりがな in
    # `script`, "latin" 氏名（ローマ字）, "either" ふりがな or Latin letters, as the resident writes their name.
    reading: Literal["", "kana", "latin", "either"] = ""
    # A ふりがな field that reads a whole name in one box (氏名のふりがな): a space between family and given
    # name is required, and it is stored as one full-width space (lib/japanese.normalize_kana).
    full_name: bool = False

    @field_validator("allowed_types")
    @classmethod
    def _known_file_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FILE_TYPES))
        if unknown:
            raise ValueError(f"使えないファイル形式です: {', '.join(unknown)}")
        return value

    @field_validator("options")
    @classmethod
    def _clean_options(cls, value: list[str]) -> list[str]:
        if any(not option.strip() for option in value):
            raise ValueError("空の選択肢があります")
        if len(set(value)) != len(value):
            raise ValueError("選択肢が重複しています")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> "FieldSpec":
        if self.type in CHOICE_TYPES and len(self.options) < 1:
            raise ValueError(f"「{self.label}」には選択肢が必要です")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError(f"「{self.label}」の最小値が最大値より大きくなっています")
        if self.min_date and self.max_date and self.min_date > self.max_date:
            raise ValueError(f"「{self.label}」の開始日が終了日より後になっています")
        if self.type == "group":
            if not self.fields:
                raise ValueError(f"「{self.label}」には、繰り返す項目が必要です")
            inner = [f for f in self.fields if f.type in ("group", "file")]
            if inner:
                raise ValueError(f"「{self.label}」の中には、繰り返しの項目や添付ファイルは入れられません")
            keys = [f.key for f in self.fields]
            if len(set(keys)) != len(keys):
                raise ValueError(f"「{self.label}」の中の項目キーが重複しています")
            if self.min_items > self.max_items:
                raise ValueError(f"「{self.label}」の最少の数が最多の数より大きくなっています")
        elif self.fields:
            raise ValueError(f"「{self.label}」は繰り返しの項目ではないため、中に項目を持てません")
        if self.options_en and len(self.options_en) != len(self.options):
            raise ValueError(f"「{self.label}」の英語の選択肢は、日本語の選択肢と同じ数にしてください")
        texts = (
            self.label,
            self.help,
            self.text,
            *self.options,
            self.label_en,
            self.help_en,
            self.text_en,
            *self.options_en,
        )
        if any(asks_for_individual_number(t) for t in texts):
            raise ValueError("マイナンバー（個人番号）を入力させる項目は作れません")
        return self

    @property
    def type_label(self) -> str:
        return FIELD_TYPE_LABELS[self.type]

    @property
    def is_input(self) -> bool:
        return self.type != "heading"

    # What a resident sees: the English text when the page is in English and one was written, else Japanese.
    @property
    def shown_label(self) -> str:
        return _in_page_language(self.label, self.label_en)

    @property
    def shown_help(self) -> str:
        return _in_page_language(self.help, self.help_en)

    @property
    def shown_text(self) -> str:
        return _in_page_language(self.text, self.text_en)

    @property
    def shown_item_label(self) -> str:
        return _in_page_language(self.item_label or self.label, self.item_label_en)

    @property
    def shown_options(self) -> list[tuple[str, str]]:
        """(value, text) of each option: the value stays the Japanese option, whatever the page shows."""
        if self.options_en and translation.get_language() == "en":
            return list(zip(self.options, self.options_en, strict=False))
        return [(o, o) for o in self.options]

    def shown_option(self, value: str) -> str:
        if self.options_en and translation.get_language() == "en" and value in self.options:
            return self.options_en[self.options.index(value)]
        return value

    @property
    def split_date(self) -> bool:
        """Whether the date is asked as 年・月・日 boxes with an era choice (see `date_input`)."""
        return self.date_input == "split" or (self.date_input == "auto" and self.past_only)

    @property
    def is_birth_date(self) -> bool:
        """A date of birth (a past-only date labelled 生年月日 or 誕生日, or keyed birth…): the browser may fill
        it from the resident's own (autocomplete="bday"). Another past date, such as a 変更日 or a 死亡日, is
        never offered the resident's birthday."""
        if self.type != "date" or not self.past_only:
            return False
        return any(word in self.label for word in ("生年月日", "誕生日")) or "birth" in self.key

    @property
    def max_bytes(self) -> int:
        return self.max_size_mb * 1024 * 1024

    @property
    def accept(self) -> str:
        return ",".join(f".{ext}" for ext in self.allowed_types)


FieldSpec.model_rebuild()


class FormSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[FieldSpec] = Field(min_length=1, max_length=200)
    email_field: str | None = None  # the key of the e-mail field the receipt is sent to
    # Pages in order, each naming its fields; none: every field on one page (or one question per page).
    pages: list[PageSpec] = Field(default_factory=list, max_length=50)
    one_question_per_page: bool = False

    @model_validator(mode="after")
    def _unique_keys(self) -> "FormSpec":
        keys = [f.key for f in self.fields]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"項目キーが重複しています: {', '.join(duplicates)}")
        if self.email_field is not None:
            target = next((f for f in self.fields if f.key == self.email_field), None)
            if target is None or target.type != "email":
                raise ValueError("受付メールの送り先には、メールアドレス型の項目を指定してください")
        total = sum(f.max_size_mb for f in self.fields if f.type == "file")
        if total > MAX_FORM_FILES_MB:
            raise ValueError(
                f"添付ファイルの上限の合計は{MAX_FORM_FILES_MB}MBまでです（現在 {total}MB）。"
                "各項目の上限を小さくしてください"
            )
        return self

    @property
    def input_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.is_input]

    def field(self, key: str) -> FieldSpec | None:
        return self.by_key.get(key)

    @cached_property
    def by_key(self) -> dict[str, FieldSpec]:
        return {f.key: f for f in self.fields}

    @cached_property
    def has_rules(self) -> bool:
        """Any condition or skip at all: forms without one take the quick path everywhere."""
        return any(f.show_if for f in self.fields) or any(
            p.show_if or p.skip_to or p.is_exit for p in self.pages
        )


ATTRIBUTE_LABELS: dict[str, str] = {
    "key": "項目キー",
    "type": "種類",
    "label": "項目名",
    "help": "説明",
    "required": "必須",
    "max_length": "最大文字数",
    "min_value": "最小値",
    "max_value": "最大値",
    "whole_number": "整数のみ",
    "unit": "単位",
    "min_date": "いちばん早い日付",
    "max_date": "いちばん遅い日付",
    "past_only": "今日以前のみ",
    "options": "選択肢",
    "min_choices": "最少の選択数",
    "max_choices": "最多の選択数",
    "script": "ふりがなの文字",
    "max_size_mb": "ファイルの上限（MB）",
    "allowed_types": "ファイル形式",
    "text": "説明文",
    "label_en": "項目名（英語）",
    "help_en": "説明（英語）",
    "text_en": "説明文（英語）",
    "options_en": "選択肢（英語）",
    "fields": "項目",
    "email_field": "受付メールの送り先",
    "show_if": "表示する条件",
    "min_items": "最少の数",
    "max_items": "最多の数",
    "item_label": "1件の呼び名",
    "item_label_en": "1件の呼び名（英語）",
    "date_input": "日付の入力欄",
    "reading": "氏名の読み",
    "full_name": "氏名全体のふりがな",
    "pages": "ページ",
    "skip_to": "ページの移動",
    "exit_message": "終了ページの文",
    "title": "ページ名",
    "one_question_per_page": "1ページに1問",
}


def japanese_message(error: dict) -> str:
    """One pydantic error in plain Japanese; the library's English never reaches staff."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    messages = {
        "missing": "入力してください",
        "string_too_short": "入力してください",
        "string_too_long": "{max_length}文字以内にしてください",
        "too_long": "{max_length}個までにしてください",
        "too_short": "{min_length}個以上必要です",
        "literal_error": "この値は使えません（使えるもの：{expected}）",
        "extra_forbidden": "この名前の設定はありません",
        "string_pattern_mismatch": "半角の英小文字で始め、英小文字・数字・_（アンダースコア）だけにしてください",
        "int_parsing": "整数にしてください",
        "int_type": "整数にしてください",
        "int_from_float": "整数にしてください",
        "decimal_parsing": "数値にしてください",
        "decimal_type": "数値にしてください",
        "date_parsing": "日付は 2026-04-01 の形にしてください",
        "date_from_datetime_parsing": "日付は 2026-04-01 の形にしてください",
        "date_type": "日付は 2026-04-01 の形にしてください",
        "bool_parsing": "true か false にしてください",
        "bool_type": "true か false にしてください",
        "string_type": "文字列にしてください",
        "list_type": "一覧（リスト）にしてください",
        "dict_type": "オブジェクト（{…}）にしてください",
        "model_type": "オブジェクト（{…}）にしてください",
        "model_attributes_type": "オブジェクト（{…}）にしてください",
        "greater_than_equal": "{ge}以上にしてください",
        "less_than_equal": "{le}以下にしてください",
        "greater_than": "{gt}より大きくしてください",
        "less_than": "{lt}より小さくしてください",
    }
    if kind == "literal_error" and "expected" in ctx:
        ctx = {**ctx, "expected": str(ctx["expected"]).replace(" or ", ", ").replace(", ", "、")}
    template = messages.get(kind, "値が正しくありません")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return template


class FormProblem(NamedTuple):
    """One thing wrong with a form definition, and where: `field_index` into `fields` (0-based) and the
    `attribute` of that field, or None for the form as a whole."""

    message: str
    field_index: int | None = None
    attribute: str | None = None
    detail: str = ""  # the message without saying where, for showing next to the input itself


def describe_problems(exc: ValidationError, document: object) -> list[FormProblem]:
    """Japanese messages for a pydantic error on a form definition, each naming the item it is about.

    `document` is the definition that was validated (to name a field by its label: 3番目の項目「氏名」).
    """
    fields = document.get("fields") if isinstance(document, dict) else None
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        text = detail = japanese_message(error)
        index = attribute = None
        if loc[:1] == ["fields"] and len(loc) >= 2 and isinstance(loc[1], int):
            index = loc[1]
            rest = [str(p) for p in loc[2:]]
            attribute = rest[0] if rest else None
            where = f"{index + 1}番目の項目"
            if isinstance(fields, list) and index < len(fields) and isinstance(fields[index], dict):
                label = fields[index].get("label")
                if isinstance(label, str) and label.strip():
                    where += f"「{label.strip()[:40]}」"
            if attribute is not None:
                what = ATTRIBUTE_LABELS.get(attribute, f"「{attribute}」")
                if len(rest) > 1 and rest[1].isdigit():
                    what += f"の{int(rest[1]) + 1}番目"
                where += f"の{what}"
            text = f"{where}：{text}"
        elif loc:
            what = ATTRIBUTE_LABELS.get(str(loc[0]), f"「{loc[0]}」")
            text = f"{what}：{text}"
        problems.append(FormProblem(text, index, attribute, detail))
    return problems


class FormSpecError(ValueError):
    """The document is not a valid form; `messages` are Japanese, one per problem, and `problems` say
    which field each is about."""

    def __init__(self, messages: list[str], problems: list[FormProblem] | None = None):
        super().__init__("\n".join(messages))
        self.messages = messages
        self.problems = problems or [FormProblem(m) for m in messages]


# The project's control characters (lib/japanese.CONTROL_CHARACTERS: C0/C1 but tab and line breaks, and the
# bidirectional overrides): one search per text, where asking unicodedata about every character of a
# 100-field form took longer than checking the form itself.
_CONTROL_CHARACTER = CONTROL_CHARACTERS


def control_character_paths(document: object, path: tuple = ()) -> list[tuple]:
    """Where a string holds NUL or another control character (tab and line breaks aside), as paths into
    the document: pasted from other systems, and refused by PostgreSQL's JSON (NUL)."""
    if isinstance(document, str):
        return [path] if _CONTROL_CHARACTER.search(document) else []
    if isinstance(document, dict):
        return [p for key, value in document.items() for p in control_character_paths(value, (*path, key))]
    if isinstance(document, list):
        return [p for i, value in enumerate(document) for p in control_character_paths(value, (*path, i))]
    return []


def _control_character_problems(document: object) -> list[FormProblem]:
    problems = []
    fields = document.get("fields") if isinstance(document, dict) else None
    for path in control_character_paths(document)[:20]:
        text = "使えない文字（制御文字）が含まれています"
        index = attribute = None
        where = ""
        if path[:1] == ("fields",) and len(path) > 1 and isinstance(path[1], int):
            index = path[1]
            attribute = str(path[2]) if len(path) > 2 else None
            where = f"{index + 1}番目の項目"
            if isinstance(fields, list) and isinstance(fields[index], dict):
                label = fields[index].get("label")
                if isinstance(label, str) and label.strip() and not control_character_paths(label):
                    where += f"「{label.strip()[:40]}」"
            if attribute:
                where += f"の{ATTRIBUTE_LABELS.get(attribute, attribute)}"
        elif path:
            where = ATTRIBUTE_LABELS.get(str(path[0]), str(path[0]))
        problems.append(FormProblem(f"{where}：{text}" if where else text, index, attribute, text))
    return problems


# Stored versions never change, so each is read into its FormSpec once per process (pydantic takes 1-3 ms
# for a long form, on every request that shows it). Keyed by the version's id and a digest of its stored
# JSON, not the id alone: a test database reuses ids for other forms. The 200 read last are kept.
_VERSIONS: OrderedDict[tuple[int, bytes], FormSpec] = OrderedDict()
_VERSIONS_KEPT = 200
_VERSIONS_LOCK = threading.Lock()


def version_spec(version_id: int | None, schema: object) -> FormSpec:
    """The stored version's form (FormVersion.spec), read once per process."""
    if version_id is None:
        return FormSpec.model_validate(schema)
    # pydantic's own serializer takes half of json.dumps's time. The same form with its keys in another
    # order (never from the database, which returns them in one order) is only read once more.
    key = (version_id, hashlib.blake2b(pydantic_core.to_json(schema), digest_size=16).digest())
    with _VERSIONS_LOCK:
        spec = _VERSIONS.get(key)
        if spec is not None:
            _VERSIONS.move_to_end(key)
            return spec
    spec = FormSpec.model_validate(schema)
    with _VERSIONS_LOCK:
        _VERSIONS[key] = spec
        if len(_VERSIONS) > _VERSIONS_KEPT:
            _VERSIONS.popitem(last=False)
    return spec


def parse_form_spec(document: object) -> FormSpec:
    """Validate a form definition, its pages and rules included. Raises FormSpecError (Japanese, one
    message per problem, each naming the field it is about)."""
    from madoguchi.procedures.rules import check_rules

    problems = _control_character_problems(document)
    if problems:
        raise FormSpecError([p.message for p in problems], problems)
    try:
        spec = FormSpec.model_validate(document)
    except ValidationError as exc:
        problems = describe_problems(exc, document)
        raise FormSpecError([p.message for p in problems], problems) from None
    problems = check_rules(spec)
    if problems:
        raise FormSpecError([p.message for p in problems], problems)
    return spec
