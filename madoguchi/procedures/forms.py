"""The builder's forms: a procedure's settings, and one field of its form.

A field form turns what staff typed into a field definition and checks it with the form schema itself
(procedures/formspec.py), so the builder and the resident's form can never disagree about what is valid;
every message lands next to the input it is about, in Japanese.
"""

import re
import unicodedata

from django import forms
from django.core.validators import ProhibitNullCharactersValidator, validate_email
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from madoguchi.accounts import access
from madoguchi.lib import japanese as ja
from madoguchi.lib.formfields import OwnWordsMixin, upload_field
from madoguchi.procedures.builder import KEY_RE
from madoguchi.procedures.formspec import (
    CHOICE_TYPES,
    CONDITION_OP_LABELS,
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


def add_condition_fields(
    form, prefix: str, targets, existing: list, count: int, *, first: str, label: str, value_help: str = ""
) -> list:
    """`count` rows of 「項目・答えが・値」 inputs named `{prefix}_field_{i}`, `_op_`, `_value_`, filled from the
    `existing` conditions; returns the rows of bound fields. `targets`: (key, label) of the fields a
    condition may name; `first`: the text of 'no field'; `label`: the row's label with %(n)s."""
    rows = []
    for i in range(count):
        condition = existing[i] if i < len(existing) else {}
        value = condition.get("value")
        names = (f"{prefix}_field_{i}", f"{prefix}_op_{i}", f"{prefix}_value_{i}")
        form.fields[names[0]] = forms.ChoiceField(
            label=label % {"n": i + 1}, choices=[("", first), *targets], required=False,
            initial=condition.get("field", ""),
        )  # fmt: skip
        form.fields[names[1]] = forms.ChoiceField(
            label=_("条件%(n)s：答えが") % {"n": i + 1}, choices=list(CONDITION_OP_LABELS.items()),
            required=False, initial=condition.get("op", "equals"),
        )  # fmt: skip
        form.fields[names[2]] = forms.CharField(
            label=_("条件%(n)s：値") % {"n": i + 1}, max_length=2000, required=False,
            initial="、".join(value) if isinstance(value, list) else (value or ""),
            help_text=value_help if i == 0 else "",
        )  # fmt: skip
        rows.append(tuple(form[n] for n in names))
    return rows


def read_condition(cleaned_data: dict, prefix: str, i: int) -> dict | None:
    """The condition of row `i` (see add_condition_fields), or None where no field was chosen.
    「次のどれか」 takes several values, separated by 、 , or new lines."""
    target = cleaned_data.get(f"{prefix}_field_{i}")
    if not target:
        return None
    op = cleaned_data.get(f"{prefix}_op_{i}") or "equals"
    text = (cleaned_data.get(f"{prefix}_value_{i}") or "").strip()
    condition = {"field": target, "op": op}
    if op == "one_of":
        condition["value"] = [v.strip() for v in re.split(r"[、,，\n]", text) if v.strip()]
    elif op not in ("empty", "not_empty"):
        condition["value"] = text
    return condition


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


class ProcedureSettingsForm(OwnWordsMixin, forms.ModelForm):
    """Title, kind, department (of the same organization only), texts, reception window (JST) and mail."""

    class Meta:
        model = Procedure
        fields = [
            "title", "title_en", "kind", "category", "department", "summary", "summary_en", "purpose",
            "opens_at", "closes_at", "capacity", "retention_years", "send_receipt_email", "notify_emails",
            "standard_processing_days", "title_reading", "life_events", "draft_days",
            "requires_email_verification", "duplicate_rule", "duplicate_field",
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
            "standard_processing_days": _(
                "到達から処分までの標準的な日数（暦日）。過ぎた処理待ち・処理中の申請は受信一覧の「期限切れ」に出ます。"
            ),
        }
        labels = {"category": _("分類")}

    settings_token = forms.CharField(required=False, widget=forms.HiddenInput)
    life_events = forms.MultipleChoiceField(
        label=_("ライフイベント"),
        choices=LIFE_EVENTS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("住民が「ライフイベントから探す」で見つけられるようにします。"),
    )
    title_reading = forms.CharField(
        label=_("手続名のよみ（ひらがな）"),
        max_length=200,
        required=False,
        help_text=_(
            "住民が読みで検索したときに見つかるようにします（例：じゅうみんひょう）。空欄なら手続名から読みを作ります。"
        ),
    )
    draft_days = forms.IntegerField(
        label=_("一時保存の保存期間（日）"),
        min_value=1,
        max_value=90,
        initial=14,
        required=False,
        help_text=_("住民が一時保存した入力内容を残す日数です。過ぎると削除されます。"),
    )
    requires_email_verification = forms.BooleanField(
        label=_("入力の前にメールアドレスを確認する"),
        required=False,
        help_text=_("住民に確認用のリンクをメールで送り、そのリンクから入力を始めてもらいます。"),
    )
    duplicate_field = forms.CharField(
        label=_("重複を判定する項目の記号"),
        max_length=40,
        required=False,
        help_text=_("「選んだ項目の値ごとに1件」のときに、フォームの項目の記号を入力します。"),
    )

    def __init__(self, *args, organization, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        if self.instance.pk:
            self.fields["settings_token"].initial = settings_token(self.instance)
        if user is not None and access.is_limited_to_departments(user, organization):
            # A member limited to their 所属 gives a procedure one of theirs, or it would leave their reach.
            self.fields["department"].queryset = access.departments_for_user(user, organization)
            self.fields["department"].required = True
        else:
            self.fields["department"].queryset = organization.departments.order_by("name")
        self.fields["department"].empty_label = _("（選んでください）")
        if not self.fields["department"].queryset.exists():
            self.fields["department"].help_text = _(
                "所属がまだありません。団体の管理者が「所属の管理」で追加すると、ここで選べます。"
            )
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

    def clean_draft_days(self):
        # Blank keeps what the procedure has (14 days for a new one).
        return self.cleaned_data.get("draft_days") or self.instance.draft_days or 14

    def clean_title(self):
        return self._no_individual_number("title")

    def clean_summary(self):
        return self._no_individual_number("summary")

    def clean_title_reading(self):
        """Hiragana (ー and spaces allowed); katakana and half-width kana are turned into hiragana first."""
        import jaconv

        text = unicodedata.normalize("NFKC", self.cleaned_data.get("title_reading") or "")
        text = " ".join(jaconv.kata2hira(text).split())
        wrong = [c for c in text if not ("\u3041" <= c <= "\u3096" or c in "ゝゞー ")]
        if wrong:
            raise forms.ValidationError(
                _("よみは、ひらがなで入力してください（ひらがなでない文字：%(chars)s）。"),
                params={"chars": "".join(dict.fromkeys(wrong))[:20]},
            )
        return text

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
        self._check_duplicate_rule(data)
        return data

    def _check_duplicate_rule(self, data) -> None:
        """重複の防止 needs a key the form has (submissions/duplicates.settings_error), told at the spot."""
        from madoguchi.procedures.formspec import FormSpec
        from madoguchi.submissions.duplicates import settings_error

        rule = data.get("duplicate_rule") or ""
        spec = None
        if self.instance.pk and self.instance.draft_schema:
            try:
                spec = FormSpec.model_validate(self.instance.draft_schema)
            except ValueError:
                spec = None
        if spec is None and self.instance.pk and self.instance.current_version_id:
            spec = self.instance.current_version.spec
        problem = settings_error(
            rule=rule,
            field_key=(data.get("duplicate_field") or "").strip(),
            spec=spec,
            requires_verification=bool(data.get("requires_email_verification")),
        )
        if problem is not None:
            self.add_error(*problem)

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def changed_elsewhere(self, current) -> bool:
        """Whether someone saved these settings since this page was loaded (then nothing is saved)."""
        sent = self.cleaned_data.get("settings_token")
        return bool(sent) and sent != settings_token(current)


def settings_token(procedure) -> str:
    """A fingerprint of a procedure's settings as stored, carried by the settings page."""
    import hashlib

    values = [
        str(getattr(procedure, name + "_id", None) or getattr(procedure, name))
        for name in ProcedureSettingsForm.Meta.fields
    ]
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]


class FieldForm(OwnWordsMixin, forms.Form):
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
        "date": ["min_date", "max_date", "past_only", "date_input"],
        "name": ["reading", "script"],
        "single_choice": ["options", "options_en"],
        "multiple_choice": ["options", "options_en", "min_choices", "max_choices"],
        "dropdown": ["options", "options_en"],
        "furigana": ["script", "full_name", "max_length"],
        "file": ["allowed_types", "max_size_mb"],
        "heading": ["text", "text_en"],
        "group": ["item_label", "item_label_en", "min_items", "max_items"],
    }
    CONDITION_ROWS = 3
    SUB_ROWS = 8
    SUB_TYPES = [
        "name", "furigana", "date", "short_text", "long_text", "number", "phone", "email", "address",
        "single_choice", "multiple_choice", "dropdown", "consent",
    ]  # fmt: skip

    def __init__(self, *args, field_type: str, schema: dict | None = None, key: str | None = None, **kwargs):
        """`schema`: the draft the field belongs to (for the fields a condition may name and the pages);
        `key`: the field being edited, or None for a new one (placed at the end)."""
        initial = kwargs.pop("initial", None) or {}
        super().__init__(*args, initial=initial, **kwargs)
        self.field_type = field_type
        self.schema = schema or {"fields": []}
        self.key = key
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
            "full_name": forms.BooleanField(
                label=_("氏名全体のふりがなを1つの欄で聞く（姓と名の間の空白を求めます）"), required=False
            ),
            "date_input": forms.ChoiceField(
                label=_("日付の入力欄"),
                choices=[
                    ("auto", _("自動（生年月日など今日以前の日付は年・月・日の欄、それ以外は1つの欄）")),
                    ("split", _("年・月・日の欄（元号を選べます）")),
                    ("text", _("1つの欄（自由に入力）")),
                ],
                initial="auto",
                required=False,
            ),
            "reading": forms.ChoiceField(
                label=_("氏名の読み"),
                choices=[
                    ("", _("聞かない（別の「ふりがな」の項目で聞く場合など）")),
                    ("kana", _("ふりがな")),
                    ("latin", _("ローマ字（Name (Latin letters)）")),
                    ("either", _("ふりがな または ローマ字（外国籍の方など）")),
                ],
                required=False,
            ),
            "allowed_types": forms.MultipleChoiceField(
                label=_("受け付けるファイル形式"),
                initial=["pdf", "jpg", "png"],
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
        extra.update(
            {
                "item_label": forms.CharField(
                    label=_("1件の呼び名（例：世帯員、参加者）"), max_length=40, required=False
                ),
                "item_label_en": forms.CharField(
                    label=_("1件の呼び名（英語）"), max_length=40, required=False
                ),
                "min_items": forms.IntegerField(label=_("最少の件数"), min_value=0, max_value=50, initial=1),
                "max_items": forms.IntegerField(label=_("最多の件数"), min_value=1, max_value=50, initial=10),
            }
        )
        for name in self.TYPE_FIELDS.get(field_type, []):
            self.fields[name] = extra[name]
        if field_type == "name":  # the reading's script: hiragana unless chosen (older forms send none)
            self.fields["script"].required = False
        self._add_condition_rows(initial)
        self._add_page_choice(initial)
        if field_type == "group":
            self._add_sub_rows(initial)
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

    # Conditions ("show this question only when…") ----------------------------------------------------

    def condition_targets(self) -> list[dict]:
        """The fields a condition of this one may name: those before it that hold a simple answer."""
        order = [k for p in self.schema.get("pages") or [] for k in p.get("fields", [])] or [
            f.get("key") for f in self.schema.get("fields", [])
        ]
        by_key = {f.get("key"): f for f in self.schema.get("fields", [])}
        before = order[: order.index(self.key)] if self.key in order else order
        # A field its stored conditions name stays on offer even after it moved below this one: the condition
        # is shown as it is, and saving says what is wrong with it instead of dropping it silently.
        named = [c.get("field") for c in (by_key.get(self.key) or {}).get("show_if") or []]
        keys = before + [k for k in named if k not in before]
        return [
            by_key[k]
            for k in keys
            if k in by_key and by_key[k].get("type") not in ("heading", "file", "group")
        ]

    def _add_condition_rows(self, initial: dict) -> None:
        targets = [(f["key"], f.get("label", f["key"])) for f in self.condition_targets()]
        self._condition_rows = add_condition_fields(
            self, "cond", targets, initial.get("show_if") or [], self.CONDITION_ROWS,
            first=_("（選ばない）"), label=_("条件%(n)s：項目"),
            value_help=_("「次のどれか」は、値を「、」で区切ります。"),
        )  # fmt: skip

    def condition_rows(self) -> list[tuple]:
        return self._condition_rows

    def _conditions(self) -> list[dict]:
        found = (read_condition(self.cleaned_data, "cond", i) for i in range(self.CONDITION_ROWS))
        return [c for c in found if c]

    # The page the field is on ---------------------------------------------------------------------------

    def _add_page_choice(self, initial: dict) -> None:
        pages = [p for p in self.schema.get("pages") or [] if not p.get("exit_message")]
        if not pages:
            return
        current = next((p["key"] for p in pages if self.key in p.get("fields", [])), pages[-1]["key"])
        self.fields["page"] = forms.ChoiceField(
            label=_("この項目を置くページ"),
            choices=[
                (p["key"], p.get("title") or _("%(n)sページ目") % {"n": i + 1}) for i, p in enumerate(pages)
            ],
            initial=initial.get("page", current),
        )

    # A repeating group's own fields -------------------------------------------------------------------

    def _add_sub_rows(self, initial: dict) -> None:
        existing = initial.get("fields") or []
        types = [(t, FIELD_TYPE_LABELS[t]) for t in self.SUB_TYPES]
        for i in range(self.SUB_ROWS):
            sub = existing[i] if i < len(existing) else {}
            self.fields[f"sub_key_{i}"] = forms.CharField(
                required=False, widget=forms.HiddenInput, initial=sub.get("key", "")
            )
            self.fields[f"sub_label_{i}"] = forms.CharField(
                label=_("%(n)s番目の項目名") % {"n": i + 1},
                max_length=200,
                required=False,
                initial=sub.get("label", ""),
            )
            self.fields[f"sub_type_{i}"] = forms.ChoiceField(
                label=_("%(n)s番目の種類") % {"n": i + 1},
                choices=types,
                required=False,
                initial=sub.get("type", "short_text"),
            )
            self.fields[f"sub_required_{i}"] = forms.BooleanField(
                label=_("%(n)s番目を必須にする") % {"n": i + 1},
                required=False,
                initial=sub.get("required", False),
            )
            self.fields[f"sub_options_{i}"] = forms.CharField(
                label=_("%(n)s番目の選択肢（選ぶ種類のとき、「、」で区切る）") % {"n": i + 1},
                max_length=2000,
                required=False,
                initial="、".join(sub.get("options", [])),
            )

    def sub_rows(self) -> list[tuple]:
        if self.field_type != "group":
            return []
        return [
            (
                self[f"sub_key_{i}"],
                self[f"sub_label_{i}"],
                self[f"sub_type_{i}"],
                self[f"sub_required_{i}"],
                self[f"sub_options_{i}"],
            )
            for i in range(self.SUB_ROWS)
        ]

    def _sub_fields(self) -> list[dict]:
        subs, taken = [], set()
        for i in range(self.SUB_ROWS):
            label = (self.cleaned_data.get(f"sub_label_{i}") or "").strip()
            if not label:
                continue
            kind = self.cleaned_data.get(f"sub_type_{i}") or "short_text"
            key = self.cleaned_data.get(f"sub_key_{i}") or ""
            if not KEY_RE.fullmatch(key) or key in taken:
                key = next(f"s{n}" for n in range(1, 100) if f"s{n}" not in taken)
            taken.add(key)
            sub = {"key": key, "type": kind, "label": label}
            if self.cleaned_data.get(f"sub_required_{i}"):
                sub["required"] = True
            if kind in CHOICE_TYPES:
                options = self.cleaned_data.get(f"sub_options_{i}") or ""
                sub["options"] = [o.strip() for o in re.split(r"[、,，\n]", options) if o.strip()]
            subs.append(sub)
        return subs

    def basic_fields(self) -> list:
        prefixes = ("cond_", "sub_")
        return [bf for bf in self if not bf.name.startswith(prefixes) and bf.name != "page"]

    @staticmethod
    def initial_from(definition: dict) -> dict:
        """The form's initial values from a stored field definition (conditions and a group's fields are
        spread over their rows by the form itself)."""
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
        data = {k: v for k, v in data.items() if not k.startswith(("cond_", "sub_")) and k != "page"}
        definition = {"key": key, "type": self.field_type, **data}
        if definition.get("required") is False:
            del definition["required"]
        conditions = self._conditions()
        if conditions:
            definition["show_if"] = conditions
        if self.field_type == "group":
            definition["fields"] = self._sub_fields()
        try:
            spec = FieldSpec.model_validate(definition)
        except ValidationError as exc:
            for error in exc.errors():
                attribute = str(error["loc"][0]) if error["loc"] else None
                self.add_error(attribute if attribute in self.fields else None, japanese_message(error))
            return None
        return spec.model_dump(mode="json", exclude_defaults=True) | {"key": key, "type": self.field_type}

    def chosen_page(self) -> str | None:
        return self.cleaned_data.get("page") if "page" in self.fields else None

    def place_rule_problems(self, problems) -> bool:
        """Put the form's rule problems about this field next to its conditions; True if there were any."""
        found = False
        for problem in problems:
            if problem.attribute == "show_if":
                self.add_error("cond_field_0", problem.detail or problem.message)
                found = True
        return found

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


class ShareForm(OwnWordsMixin, forms.Form):
    category = forms.ChoiceField(label=_("分類"), choices=CATEGORIES)
    life_events = forms.MultipleChoiceField(
        label=_("ライフイベント"), choices=LIFE_EVENTS, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].widget.attrs["class"] = "input"


class ImportForm(forms.Form):
    file = upload_field(
        _("手続の定義ファイル（.json）"), choose=_("手続の定義ファイル（.json）を選んでください。")
    )


def clean_text(value: str) -> str:
    """A search box's text, folded for the template library's search column."""
    return ja.search_fold(value.strip())[:100]


class PageForm(OwnWordsMixin, forms.Form):
    """A page's title, when it is shown, where to go after it, and (for an exit page) its message."""

    title = forms.CharField(label=_("ページ名"), max_length=200, required=False)
    title_en = forms.CharField(label=_("ページ名（英語）"), max_length=200, required=False)
    CONDITION_ROWS = 2
    SKIP_ROWS = 3

    def __init__(self, *args, schema: dict, key: str, **kwargs):
        initial = kwargs.pop("initial", None) or {}
        super().__init__(*args, initial=initial, **kwargs)
        self.schema, self.key = schema, key
        pages = schema.get("pages") or []
        index = next(i for i, p in enumerate(pages) if p.get("key") == key)
        page = pages[index]
        self.is_exit = bool(page.get("exit_message"))
        by_key = {f.get("key"): f for f in schema.get("fields", [])}

        def simple(keys):
            return [
                (k, by_key[k].get("label", k))
                for k in keys
                if k in by_key and by_key[k].get("type") not in ("heading", "file", "group")
            ]

        earlier = simple([k for p in pages[:index] for k in p.get("fields", [])])
        upto_here = earlier + simple(page.get("fields", []))
        later_pages = [
            (p["key"], p.get("title") or _("%(n)sページ目") % {"n": i + 1})
            for i, p in enumerate(pages)
            if i > index
        ]
        if self.is_exit:
            self.fields["exit_message"] = forms.CharField(
                label=_("終了ページに表示する文"),
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 4}),
                help_text=_("申請できない理由と、代わりの連絡先などを書きます。"),
            )
            self.fields["exit_message_en"] = forms.CharField(
                label=_("終了ページの文（英語）"),
                max_length=2000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        self.condition_rows = self._rows("cond", earlier, page.get("show_if") or [], self.CONDITION_ROWS)
        self.skip_rows = []
        if not self.is_exit and later_pages:
            skips = page.get("skip_to") or []
            whens = [(s.get("when") or [{}])[0] for s in skips]
            rows = self._rows("skip", upto_here, whens, self.SKIP_ROWS, allow_always=True)
            for i, row in enumerate(rows):
                name = f"skip_goto_{i}"
                self.fields[name] = forms.ChoiceField(
                    label=_("移動%(n)s：移動先のページ") % {"n": i + 1},
                    choices=[("", _("（選ばない）")), *later_pages],
                    required=False,
                    initial=skips[i].get("goto", "") if i < len(skips) else "",
                )
                self.skip_rows.append((*row, self[name]))
        _guard_text_inputs(self)
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "input")

    def _rows(self, prefix: str, targets, existing: list, count: int, allow_always: bool = False) -> list:
        if not targets and not allow_always:
            return []
        first = _("（いつでも）") if allow_always else _("（選ばない）")
        label = _("移動%(n)s：条件の項目") if prefix == "skip" else _("条件%(n)s：項目")
        return add_condition_fields(
            self, prefix, targets, existing, count, first=first, label=label,
            value_help=_("「次のどれか」は、値を「、」で区切ります。"),
        )  # fmt: skip

    def _condition(self, prefix: str, i: int) -> dict | None:
        return read_condition(self.cleaned_data, prefix, i)

    def values(self) -> dict:
        values = {
            "title": self.cleaned_data.get("title", ""),
            "title_en": self.cleaned_data.get("title_en", ""),
        }
        values["show_if"] = [c for i in range(len(self.condition_rows)) if (c := self._condition("cond", i))]
        skips = []
        for i in range(len(self.skip_rows)):
            goto = self.cleaned_data.get(f"skip_goto_{i}")
            if goto:
                condition = self._condition("skip", i)
                skips.append({"when": [condition] if condition else [], "goto": goto})
        values["skip_to"] = skips
        if self.is_exit:
            values["exit_message"] = self.cleaned_data.get("exit_message", "")
            values["exit_message_en"] = self.cleaned_data.get("exit_message_en", "")
        return values

    def basic_fields(self) -> list:
        return [self[n] for n in ("title", "title_en", "exit_message", "exit_message_en") if n in self.fields]
