"""The builder's forms: a procedure's settings, and one field of its form.

A field form turns what staff typed into a field definition and checks it with the form schema itself
(procedures/formspec.py), so the builder and the resident's form can never disagree about what is valid;
every message lands next to the input it is about, in Japanese.
"""

import unicodedata

from django import forms
from django.core.validators import ProhibitNullCharactersValidator, validate_email
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from madoguchi.lib import japanese as ja
from madoguchi.procedures.formspec import (
    CHOICE_TYPES,
    FIELD_TYPE_LABELS,
    FILE_TYPES,
    MAX_FILE_MB,
    FieldSpec,
    asks_for_individual_number,
    japanese_message,
)
from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS, Procedure

FORBIDDEN = _("マイナンバー（個人番号）を集める手続は作れません")


def no_control_characters(value) -> None:
    """Refuse NUL and other control characters (pasted from other systems) with a message staff understand."""
    if isinstance(value, str) and any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise forms.ValidationError(
            _("使えない文字（制御文字）が含まれています。貼り付けた文章を確かめてください。"), code="control"
        )


def _guard_text_inputs(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        if isinstance(field, forms.CharField):
            field.validators = [
                v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
            ] + [no_control_characters]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ProcedureSettingsForm(forms.ModelForm):
    """Title, kind, department (of the same organization only), texts, reception window (JST) and mail."""

    class Meta:
        model = Procedure
        fields = [
            "title", "title_en", "kind", "category", "department", "summary", "summary_en", "purpose",
            "opens_at", "closes_at", "capacity", "retention_years", "send_receipt_email", "notify_emails",
        ]  # fmt: skip
        widgets = {
            "opens_at": DateTimeLocalInput(),
            "closes_at": DateTimeLocalInput(),
            "summary": forms.Textarea(attrs={"rows": 4}),
            "summary_en": forms.Textarea(attrs={"rows": 3}),
            "purpose": forms.Textarea(attrs={"rows": 3}),
            "notify_emails": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "title": _("住民に表示される名前です（例：住民票の写しの郵送請求）。"),
            "title_en": _("英語を選んだ人に表示します。空欄なら日本語を表示します。"),
            "opens_at": _("日本時間。空欄なら公開したときから受け付けます。"),
            "closes_at": _("日本時間。空欄なら期限を設けません。"),
            "capacity": _("イベントや講座の申込みで、定員を超えて受け付けないときに入力します。"),
            "purpose": _("個人情報を何に使うかを、住民に説明する文です。"),
            "notify_emails": _("新しい申請が届いたときに知らせる職員のアドレス。複数なら改行で区切ります。"),
            "retention_years": _("保存期間を過ぎた申請は削除されます。"),
        }
        labels = {"category": _("分類")}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["department"].queryset = organization.departments.order_by("name")
        self.fields["department"].empty_label = _("（選んでください）")
        self.fields["category"].required = False
        _guard_text_inputs(self)
        for name, field in self.fields.items():
            css = "input" if not isinstance(field.widget, forms.CheckboxInput) else ""
            if name == "capacity":
                css += " input-short"
            field.widget.attrs.setdefault("class", css)

    def _no_individual_number(self, name: str) -> str:
        value = self.cleaned_data.get(name) or ""
        if asks_for_individual_number(value):
            raise forms.ValidationError(FORBIDDEN)
        return value

    def clean_title(self):
        return self._no_individual_number("title")

    def clean_summary(self):
        return self._no_individual_number("summary")

    def clean_notify_emails(self):
        lines = [line.strip() for line in (self.cleaned_data.get("notify_emails") or "").splitlines()]
        addresses = []
        for line in filter(None, lines):
            for part in filter(None, (p.strip() for p in line.replace("、", ",").split(","))):
                try:
                    validate_email(part)
                except forms.ValidationError:
                    raise forms.ValidationError(
                        _("「%(address)s」はメールアドレスの形ではありません。"),
                        params={"address": part[:80]},
                    ) from None
                addresses.append(part)
        if len(addresses) > 20:
            raise forms.ValidationError(_("知らせる先は20件までです。"))
        return "\n".join(addresses)

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and opens >= closes:
            self.add_error("closes_at", _("受付終了は受付開始より後にしてください。"))
        department = data.get("department")
        if department is not None and department.organization_id != self.organization.pk:
            self.add_error("department", _("担当所属は、同じ団体の所属から選んでください。"))
        return data

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class FieldForm(forms.Form):
    """One field of the form, of one type; `field_definition()` gives the checked definition."""

    label = forms.CharField(label=_("項目名（質問文）"), max_length=200)
    label_en = forms.CharField(label=_("項目名（英語）"), max_length=200, required=False)
    help = forms.CharField(
        label=_("説明（入力例など）"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    help_en = forms.CharField(
        label=_("説明（英語）"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    required = forms.BooleanField(label=_("必須にする"), required=False)

    TYPE_FIELDS = {
        "short_text": ["max_length"],
        "long_text": ["max_length"],
        "number": ["min_value", "max_value", "whole_number", "unit"],
        "date": ["min_date", "max_date", "past_only"],
        "single_choice": ["options", "options_en"],
        "multiple_choice": ["options", "options_en", "min_choices", "max_choices"],
        "dropdown": ["options", "options_en"],
        "furigana": ["script", "max_length"],
        "file": ["allowed_types", "max_size_mb"],
        "heading": ["text", "text_en"],
    }

    def __init__(self, *args, field_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.field_type = field_type
        extra = {
            "max_length": forms.IntegerField(
                label=_("最大文字数"), min_value=1, max_value=10000, required=False
            ),
            "min_value": forms.DecimalField(label=_("最小値"), required=False),
            "max_value": forms.DecimalField(label=_("最大値"), required=False),
            "whole_number": forms.BooleanField(
                label=_("整数だけを受け付ける（人数・通数など）"), required=False
            ),
            "unit": forms.CharField(label=_("単位（例：通、人、円）"), max_length=10, required=False),
            "min_date": forms.DateField(label=_("いちばん早い日付"), required=False),
            "max_date": forms.DateField(label=_("いちばん遅い日付"), required=False),
            "past_only": forms.BooleanField(label=_("今日以前の日付だけ（生年月日など）"), required=False),
            "options": forms.CharField(
                label=_("選択肢（1行に1つ）"), widget=forms.Textarea(attrs={"rows": 5}), max_length=20000
            ),
            "options_en": forms.CharField(
                label=_("選択肢（英語、1行に1つ、同じ順に）"),
                widget=forms.Textarea(attrs={"rows": 5}),
                max_length=20000,
                required=False,
            ),
            "min_choices": forms.IntegerField(
                label=_("最少の選択数"), min_value=0, max_value=100, required=False
            ),
            "max_choices": forms.IntegerField(
                label=_("最多の選択数"), min_value=1, max_value=100, required=False
            ),
            "script": forms.ChoiceField(
                label=_("ふりがなの文字"), choices=[("hiragana", _("ひらがな")), ("katakana", _("カタカナ"))]
            ),
            "allowed_types": forms.MultipleChoiceField(
                label=_("受け付けるファイル形式"),
                choices=[(t, t.upper()) for t in FILE_TYPES],
                widget=forms.CheckboxSelectMultiple,
            ),
            "max_size_mb": forms.IntegerField(
                label=_("1ファイルの上限（MB）"), min_value=1, max_value=MAX_FILE_MB, initial=10
            ),
            "text": forms.CharField(
                label=_("説明文"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4})
            ),
            "text_en": forms.CharField(
                label=_("説明文（英語）"),
                max_length=5000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            ),
        }
        for name in self.TYPE_FIELDS.get(field_type, []):
            self.fields[name] = extra[name]
        if field_type == "heading":
            self.fields["label"].label = _("見出し")
            del self.fields["required"]
        _guard_text_inputs(self)
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                field.widget.attrs.setdefault("class", "input")

    @property
    def type_label(self) -> str:
        return FIELD_TYPE_LABELS[self.field_type]

    @staticmethod
    def initial_from(definition: dict) -> dict:
        """The form's initial values from a stored field definition."""
        initial = dict(definition)
        for name in ("options", "options_en"):
            if name in initial:
                initial[name] = "\n".join(initial[name])
        return initial

    def field_definition(self, key: str) -> dict | None:
        """The checked definition, or None with errors added next to the inputs they are about."""
        if not self.is_valid():
            return None
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "", [])}
        for name in ("options", "options_en"):
            if name in data:
                data[name] = [line.strip() for line in data[name].splitlines() if line.strip()]
        for name in ("min_value", "max_value"):
            if name in data:
                data[name] = str(data[name])
        for name in ("min_date", "max_date"):
            if name in data:
                data[name] = data[name].isoformat()
        definition = {"key": key, "type": self.field_type, **data}
        if definition.get("required") is False:
            del definition["required"]
        try:
            spec = FieldSpec.model_validate(definition)
        except ValidationError as exc:
            for error in exc.errors():
                attribute = str(error["loc"][0]) if error["loc"] else None
                self.add_error(attribute if attribute in self.fields else None, japanese_message(error))
            return None
        return spec.model_dump(mode="json", exclude_defaults=True) | {"key": key, "type": self.field_type}

    def clean(self):
        data = super().clean()
        for name in ("label", "help", "text", "options"):
            if asks_for_individual_number(str(data.get(name) or "")):
                self.add_error(name, FORBIDDEN)
        if self.field_type in CHOICE_TYPES:
            options = [line for line in (data.get("options") or "").splitlines() if line.strip()]
            options_en = [line for line in (data.get("options_en") or "").splitlines() if line.strip()]
            if options_en and len(options_en) != len(options):
                self.add_error(
                    "options_en",
                    _("英語の選択肢は、日本語の選択肢と同じ数（%(n)s個）にしてください。")
                    % {"n": len(options)},
                )
        return data


class ShareForm(forms.Form):
    category = forms.ChoiceField(label=_("分類"), choices=CATEGORIES)
    life_events = forms.MultipleChoiceField(
        label=_("ライフイベント"), choices=LIFE_EVENTS, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].widget.attrs["class"] = "input"


class ImportForm(forms.Form):
    file = forms.FileField(label=_("手続の定義ファイル（.json）"))


def clean_text(value: str) -> str:
    """A search box's text, folded for the template library's search column."""
    return ja.search_fold(value.strip())[:100]
