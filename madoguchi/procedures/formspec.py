"""The form definition: a JSON document validated by pydantic when a version is saved.

A version is immutable once saved, so everything a submission needs to be shown again later (labels,
options, limits) must be in this document.
"""

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
]

FIELD_TYPE_LABELS: dict[str, str] = {
    "short_text": "短い文章",
    "long_text": "長い文章",
    "number": "数値",
    "email": "メールアドレス",
    "phone": "電話番号",
    "address": "郵便番号・住所",
    "name": "氏名（姓・名）",
    "furigana": "ふりがな",
    "date": "日付",
    "single_choice": "単一選択（ラジオボタン）",
    "multiple_choice": "複数選択（チェックボックス）",
    "dropdown": "プルダウン",
    "file": "添付ファイル",
    "consent": "同意チェック",
    "heading": "見出し・説明文",
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
FORBIDDEN_LABEL = re.compile(r"(マイナンバー|個人番号)(?!カード)|my\s*number(?!\s*card)", re.IGNORECASE)


def asks_for_individual_number(text: str) -> bool:
    return bool(FORBIDDEN_LABEL.search(unicodedata.normalize("NFKC", text)))


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
        if any(asks_for_individual_number(t) for t in (self.label, self.help, self.text, *self.options)):
            raise ValueError("マイナンバー（個人番号）を入力させる項目は作れません")
        return self

    @property
    def type_label(self) -> str:
        return FIELD_TYPE_LABELS[self.type]

    @property
    def is_input(self) -> bool:
        return self.type != "heading"

    @property
    def max_bytes(self) -> int:
        return self.max_size_mb * 1024 * 1024

    @property
    def accept(self) -> str:
        return ",".join(f".{ext}" for ext in self.allowed_types)


class FormSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[FieldSpec] = Field(min_length=1, max_length=200)
    email_field: str | None = None  # the key of the e-mail field the receipt is sent to

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
        return next((f for f in self.fields if f.key == key), None)


class FormSpecError(ValueError):
    """The document is not a valid form; `messages` are Japanese, one per problem."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


def parse_form_spec(document: object) -> FormSpec:
    try:
        return FormSpec.model_validate(document)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            text = error["msg"].removeprefix("Value error, ")
            messages.append(f"{where}: {text}" if where else text)
        raise FormSpecError(messages) from None
