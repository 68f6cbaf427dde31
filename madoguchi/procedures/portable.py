"""A procedure as a portable JSON file: exported by one organization, imported by any other, and the form
of every template in the council's library.

Format version 1:

    {
      "format": "madoguchi.procedure",
      "format_version": 1,
      "procedure": {"title": …, "title_en": …, "kind": "application|notification|survey|signup",
                    "summary": …, "summary_en": …, "purpose": …, "retention_years": 1|3|5|10|0,
                    "capacity": null or int, "send_receipt_email": bool, "category": "" or a code,
                    "life_events": [codes]},
      "form": {"fields": [...], "email_field": key or null}     # procedures/formspec.py
    }

Nothing organization-specific travels: no department, contact, staff addresses, reception window or
organization code. The importer supplies those. Keys are written in a fixed order, so exporting an import
gives the same file.
"""

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from madoguchi.procedures.formspec import (
    FormSpec,
    FormSpecError,
    asks_for_individual_number,
    control_character_paths,
    japanese_message,
    parse_form_spec,
)
from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS, Procedure

FORMAT = "madoguchi.procedure"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 2 * 1024 * 1024  # a 200-field form with English is well under 1 MB

PROCEDURE_LABELS = {
    "title": "手続名",
    "title_en": "手続名（英語）",
    "kind": "種類",
    "summary": "概要",
    "summary_en": "概要（英語）",
    "purpose": "個人情報の利用目的",
    "retention_years": "保存期間",
    "capacity": "定員",
    "send_receipt_email": "受付メール",
    "category": "分類",
    "life_events": "ライフイベント",
}


class ProcedureSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    title_en: str = Field(default="", max_length=200)
    kind: Literal["application", "notification", "survey", "signup"] = "application"
    summary: str = Field(default="", max_length=5000)
    summary_en: str = Field(default="", max_length=5000)
    purpose: str = Field(default="", max_length=5000)
    retention_years: Literal[0, 1, 3, 5, 10] = 5
    capacity: int | None = Field(default=None, ge=1, le=1_000_000)
    send_receipt_email: bool = True
    category: Literal["", *[code for code, _ in CATEGORIES]] = ""  # type: ignore[valid-type]
    life_events: list[Literal[*[code for code, _ in LIFE_EVENTS]]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(LIFE_EVENTS)
    )

    @field_validator("title", "summary", "purpose")
    @classmethod
    def _no_individual_number(cls, value: str) -> str:
        if asks_for_individual_number(value):
            raise ValueError("マイナンバー（個人番号）を集める手続は作れません")
        return value


@dataclass(frozen=True)
class Definition:
    procedure: ProcedureSection
    form: FormSpec


class DefinitionError(ValueError):
    """The file is not a procedure this system can import; `messages` lists every problem, in Japanese."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


def parse_definition(document: Any) -> Definition:
    """Validate a whole portable document. Raises DefinitionError listing everything wrong at once."""
    if not isinstance(document, dict):
        raise DefinitionError(
            ["このファイルは手続の定義ではありません（JSONのオブジェクトではありません）。"]
        )
    if document.get("format") != FORMAT:
        raise DefinitionError(["このファイルは窓口の手続の定義ではありません（format が違います）。"])
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise DefinitionError(
            [f"この形式の版（{version!r}）は読み込めません。読み込めるのは版{FORMAT_VERSION}です。"]
        )
    messages = []
    if control_character_paths(document.get("procedure")):
        messages.append("手続の説明に、使えない文字（制御文字）が含まれています。")
    unknown = sorted(set(document) - {"format", "format_version", "procedure", "form"})
    if unknown:
        messages.append(f"知らない設定があります：{'、'.join(map(str, unknown))}")
    section = None
    try:
        section = ProcedureSection.model_validate(document.get("procedure"))
    except ValidationError as exc:
        for error in exc.errors():
            where = error["loc"][0] if error["loc"] else None
            label = PROCEDURE_LABELS.get(str(where), f"「{where}」") if where is not None else "手続"
            messages.append(f"手続の{label}：{japanese_message(error)}")
    form = None
    try:
        form = parse_form_spec(document.get("form"))
    except FormSpecError as exc:
        messages.extend(f"フォーム：{m}" for m in exc.messages)
    if messages or section is None or form is None:
        raise DefinitionError(messages)
    return Definition(procedure=section, form=form)


def loads(data: bytes) -> Definition:
    """Read an uploaded file (UTF-8 JSON, a BOM allowed). Raises DefinitionError."""
    if len(data) > MAX_FILE_BYTES:
        raise DefinitionError([f"ファイルが大きすぎます（{MAX_FILE_BYTES // 1024 // 1024}MBまで）。"])
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DefinitionError(["ファイルの文字コードがUTF-8ではありません。"]) from None
    except json.JSONDecodeError as exc:
        raise DefinitionError([f"JSONの形式が正しくありません（{exc.lineno}行目）。"]) from None
    except RecursionError:
        raise DefinitionError(["JSONの入れ子が深すぎます。"]) from None
    return parse_definition(document)


def definition_document(procedure: Procedure, schema: dict) -> dict:
    """The portable document of a procedure with the form `schema` (its draft or a version's)."""
    section = ProcedureSection(
        title=procedure.title,
        title_en=procedure.title_en,
        kind=procedure.kind,
        summary=procedure.summary,
        summary_en=procedure.summary_en,
        purpose=procedure.purpose,
        retention_years=procedure.retention_years,
        capacity=procedure.capacity,
        send_receipt_email=procedure.send_receipt_email,
        category=procedure.category,
        life_events=[],
    )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "procedure": section.model_dump(mode="json"),
        "form": FormSpec.model_validate(schema).model_dump(mode="json"),
    }


def normalized(definition: Definition) -> dict:
    """The document as this system writes it (defaults filled in, keys in a fixed order)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "procedure": definition.procedure.model_dump(mode="json"),
        "form": definition.form.model_dump(mode="json"),
    }


def dumps(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
