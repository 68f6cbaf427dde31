"""Indicator pages (指標と進捗評価) for an organization's staff and a council's secretariat: the list with each
indicator's rating, an indicator's page (charts with data tables, targets and actuals by hand), defining an
indicator, and the ◎○△ thresholds. Counts only: nothing here reads a resident's answer.

Who: an organization's indicators are seen by all its staff and changed by its admins and editors (the
thresholds by its admins); a council's are seen and changed by its secretariat (accounts.CouncilRole).
Anyone else gets 404.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_AP
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache

from madoguchi.accounts import access
from madoguchi.lib import charts
from madoguchi.lib import japanese as ja
from madoguchi.lib.formfields import OwnWordsMixin
from madoguchi.procedures.models import Procedure
from madoguchi.stats import counts
from madoguchi.stats import indicators as services
from madoguchi.stats.indicators import IndicatorError, Thresholds
from madoguchi.stats.models import Indicator

_TEXT_ERRORS = {
    "null_characters_not_allowed": gettext_lazy(
        "見えない文字（制御文字）が入っています。取り除いてから入力してください"
    ),
    "max_length": gettext_lazy("%(limit_value)d文字以内で入力してください（いまは%(show_value)d文字です）"),
    "required": gettext_lazy("入力してください"),
}


def _text(label, max_length: int, *, required: bool = True, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        help_text=help_text,
        error_messages=_TEXT_ERRORS,
        widget=forms.TextInput(attrs={"class": "input"}),
    )


def _number(label, *, required: bool = False, help_text: str = "") -> forms.CharField:
    """A number box: length and characters are checked by services.parse_value, with its own messages."""
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        strip=False,
        error_messages={
            **_TEXT_ERRORS,
            "null_characters_not_allowed": _TEXT_ERRORS["null_characters_not_allowed"],
        },
        widget=forms.TextInput(attrs={"class": "input input-medium", "inputmode": "decimal"}),
    )


class IndicatorForm(OwnWordsMixin, forms.Form):
    """Defining (or changing) an indicator. `council` set: the council's sources; else the organization's."""

    name = _text(gettext_lazy("指標名"), 200)
    kind = forms.ChoiceField(label=gettext_lazy("種別"), choices=Indicator.Kind.choices)
    unit = _text(gettext_lazy("単位"), 20, help_text=gettext_lazy("例：件、分、%"))
    direction = forms.ChoiceField(
        label=gettext_lazy("向き"), choices=Indicator.Direction.choices, widget=forms.RadioSelect
    )
    baseline_value = _number(gettext_lazy("基準値"))
    baseline_when = _text(
        gettext_lazy("基準値の時点"), 40, required=False, help_text=gettext_lazy("例：H22年、令和元年度")
    )
    long_term_target = _number(gettext_lazy("長期目標値"))
    long_term_when = _text(
        gettext_lazy("長期目標の時点"), 40, required=False, help_text=gettext_lazy("例：R5年度、R3年度末")
    )
    actual_source = forms.ChoiceField(label=gettext_lazy("実績値の出し方"), widget=forms.RadioSelect)
    procedures = forms.ModelMultipleChoiceField(
        label=gettext_lazy("数える手続（「選んだ手続の申請件数」のとき）"),
        queryset=Procedure.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    source = _text(
        gettext_lazy("出典"), 200, required=False, help_text=gettext_lazy("例：工程表 総務部情報政策課")
    )
    note = _text(gettext_lazy("備考"), 500, required=False)

    def __init__(self, *args, organization, council=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.council = council
        sources = (
            [Indicator.Source.MANUAL, Indicator.Source.COUNCIL]
            if council is not None
            else [Indicator.Source.MANUAL, Indicator.Source.ORGANIZATION, Indicator.Source.PROCEDURES]
        )
        self.fields["actual_source"].choices = [(s.value, s.label) for s in sources]
        self.fields["kind"].widget.attrs["class"] = "input"
        if council is not None:
            del self.fields["procedures"]
        else:
            self.fields["procedures"].queryset = Procedure.objects.filter(organization=organization).order_by(
                "title"
            )

    def _value(self, name: str, what: str) -> Decimal | None:
        text = self.cleaned_data.get(name, "")
        if not text.strip():
            return None
        try:
            value = services.parse_value(text, what=what)
        except IndicatorError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if value < 0:
            raise forms.ValidationError(gettext("0以上で入力してください"))
        return value

    def clean_baseline_value(self):
        return self._value("baseline_value", gettext("基準値"))

    def clean_long_term_target(self):
        return self._value("long_term_target", gettext("長期目標値"))

    def clean(self):
        data = super().clean()
        if (
            data.get("actual_source") == Indicator.Source.PROCEDURES
            and "procedures" in self.fields
            and not data.get("procedures")
        ):
            self.add_error("procedures", gettext("数える手続を1つ以上選んでください"))
        return data


class YearValueForm(OwnWordsMixin, forms.Form):
    """A target or an actual of one 年度: the 年度 may be typed as 2020, 2020年度, 令和2年度 or R2."""

    fiscal_year = _text(gettext_lazy("年度"), 20, help_text=gettext_lazy("例：2026、令和8年度、R8"))
    value = _number(gettext_lazy("値"), required=True)

    def __init__(self, *args, what: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.what = what
        self.fields["value"].label = what
        self.fields["fiscal_year"].widget.attrs["class"] = "input input-short"

    def clean_fiscal_year(self) -> int:
        try:
            return ja.parse_fiscal_year(self.cleaned_data["fiscal_year"])
        except ja.InputError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_value(self) -> Decimal:
        try:
            return services.parse_value(self.cleaned_data["value"], what=self.what)
        except IndicatorError as exc:
            raise forms.ValidationError(str(exc)) from exc


class ThresholdsForm(OwnWordsMixin, forms.Form):
    excellent = _number(gettext_lazy("◎ 予定以上（達成率 %以上）"), required=True)
    on_track = _number(gettext_lazy("○ 予定通り（達成率 %以上）"), required=True)
    slightly_behind = _number(gettext_lazy("△ やや遅れ（達成率 %以上）"), required=True)

    def _percent(self, name: str) -> Decimal:
        try:
            value = services.parse_value(self.cleaned_data[name], what=str(self.fields[name].label))
        except IndicatorError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if value != value.quantize(Decimal("0.1")):
            raise forms.ValidationError(gettext("小数は1桁までにしてください"))
        return value

    def clean_excellent(self):
        return self._percent("excellent")

    def clean_on_track(self):
        return self._percent("on_track")

    def clean_slightly_behind(self):
        return self._percent("slightly_behind")

    def clean(self):
        data = super().clean()
        if all(k in data for k in ("excellent", "on_track", "slightly_behind")):
            try:
                Thresholds(data["excellent"], data["on_track"], data["slightly_behind"]).check()
            except IndicatorError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


# ----------------------------------------------------------------------------------------------
# Display helpers
# ----------------------------------------------------------------------------------------------


def _num(value, unit: str = "") -> str:
    if value is None:
        return "-"
    return charts.format_number(value) + (unit if unit != "%" else "%")


def _row_display(row: services.YearRow | None, unit: str) -> dict | None:
    if row is None:
        return None
    return {
        "fiscal_year": row.fiscal_year,
        "label": row.label,
        "target": _num(row.target),
        "actual": _num(row.actual),
        "counted": row.counted,
        "in_progress": row.in_progress,
        "entered_by": row.entered_by,
        "entered_at": row.entered_at,
        "ratio": row.rating.ratio_text,
        "mark": row.rating.mark,
        "rating": row.rating.label,
        "level": row.rating.level,
    }


def _threshold_initial(thresholds: Thresholds) -> dict:
    return {
        "excellent": charts.format_number(thresholds.excellent),
        "on_track": charts.format_number(thresholds.on_track),
        "slightly_behind": charts.format_number(thresholds.slightly_behind),
    }


# ----------------------------------------------------------------------------------------------
# The lists
# ----------------------------------------------------------------------------------------------


def _list_page(request: HttpRequest, *, organization, council, may_change: bool, may_set_thresholds: bool):
    thresholds = services.thresholds_for(organization=organization, council=council)
    form = ThresholdsForm(initial=_threshold_initial(thresholds))
    status = 200
    if request.method == "POST":
        if not may_set_thresholds:
            raise PermissionDenied
        form = ThresholdsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            services.set_thresholds(
                organization=organization,
                council=council,
                thresholds=Thresholds(data["excellent"], data["on_track"], data["slightly_behind"]),
                actor=request.user,
            )
            messages.success(request, gettext("進捗評価の基準を保存しました。"))
            return redirect(request.path)
        status = 400
    year, year_error, typed_year = None, "", request.GET.get("fy", "")[:20]
    if typed_year.strip():
        try:
            year = ja.parse_fiscal_year(typed_year)
        except ja.InputError as exc:
            year_error = str(exc)
    rows = services.summary_rows(
        services.indicators_of(organization=organization, council=council), thresholds, year
    )
    items = [{"indicator": r["indicator"], "row": _row_display(r["row"], r["indicator"].unit)} for r in rows]
    owner_name = council.name if council is not None else organization.name
    return render(
        request,
        "staff/indicators.html",
        {
            "organization": organization,
            "council": council,
            "owner_name": owner_name,
            "items": items,
            "thresholds": thresholds,
            "thresholds_form": form,
            "may_change": may_change,
            "may_set_thresholds": may_set_thresholds,
            "year": year,
            "year_label": ja.format_fiscal_year(year) if year else "",
            "year_error": year_error,
            "typed_year": typed_year,
            "new_url": (
                reverse("staff:council_indicator_new", kwargs={"council_id": council.pk})
                if council is not None
                else reverse("staff:organization_indicator_new", kwargs={"code": organization.code})
            ),
        },
        status=status,
    )


@never_cache
@login_required
def organization_indicators(request: HttpRequest, code: str) -> HttpResponse:
    """An organization's indicators, each with its latest 年度 (or the 年度 asked for) and rating."""
    organization = access.access_organization_for_user(request.user, code)
    role = access.roles_for_user(request.user)[organization.pk]
    return _list_page(
        request,
        organization=organization,
        council=None,
        may_change=role in access.BUILD,
        may_set_thresholds=role in access.ADMIN,
    )


@never_cache
@login_required
def council_indicators(request: HttpRequest, council_id: int) -> HttpResponse:
    """A council's indicators, for its secretariat."""
    council = access.access_council_for_user(request.user, council_id)
    return _list_page(
        request, organization=council.secretariat, council=council, may_change=True, may_set_thresholds=True
    )


# ----------------------------------------------------------------------------------------------
# Defining an indicator
# ----------------------------------------------------------------------------------------------


def _definition_page(request: HttpRequest, *, organization, council, indicator: Indicator | None):
    initial = {"direction": Indicator.Direction.HIGHER, "actual_source": Indicator.Source.MANUAL}
    if indicator is not None:
        initial = {name: getattr(indicator, name) for name in services.DEFINITION_FIELDS}
        for name in ("baseline_value", "long_term_target"):
            if initial[name] is not None:
                initial[name] = charts.format_number(initial[name])
        initial["procedures"] = list(indicator.procedures.values_list("pk", flat=True))
    form = IndicatorForm(initial=initial, organization=organization, council=council)
    status = 200
    if request.method == "POST":
        form = IndicatorForm(request.POST, organization=organization, council=council)
        if form.is_valid():
            data = dict(form.cleaned_data)
            procedures = data.pop("procedures", None) or []
            try:
                if indicator is None:
                    indicator = services.create_indicator(
                        organization=organization,
                        council=council,
                        procedures=procedures,
                        actor=request.user,
                        **data,
                    )
                    messages.success(
                        request, gettext("指標を追加しました。年度ごとの目標値を入力してください。")
                    )
                else:
                    services.update_indicator(
                        indicator=indicator, procedures=procedures, actor=request.user, **data
                    )
                    messages.success(request, gettext("指標を保存しました。"))
                return redirect("staff:indicator", indicator_id=indicator.pk)
            except IndicatorError as exc:
                form.add_error(None, str(exc))
        status = 400
    return render(
        request,
        "staff/indicator_form.html",
        {
            "form": form,
            "indicator": indicator,
            "organization": organization,
            "council": council,
            "owner_name": council.name if council is not None else organization.name,
            "list_url": _list_url(organization=organization, council=council),
        },
        status=status,
    )


def _list_url(*, organization, council) -> str:
    if council is not None:
        return reverse("staff:council_indicators", kwargs={"council_id": council.pk})
    return reverse("staff:organization_indicators", kwargs={"code": organization.code})


@never_cache
@login_required
def organization_indicator_new(request: HttpRequest, code: str) -> HttpResponse:
    """Define a new indicator of the organization (its admins and editors)."""
    organization = access.access_organization_for_user(request.user, code, access.BUILD)
    return _definition_page(request, organization=organization, council=None, indicator=None)


@never_cache
@login_required
def council_indicator_new(request: HttpRequest, council_id: int) -> HttpResponse:
    """Define a new indicator of the council (its secretariat)."""
    council = access.access_council_for_user(request.user, council_id)
    return _definition_page(request, organization=council.secretariat, council=council, indicator=None)


@never_cache
@login_required
def indicator_edit(request: HttpRequest, indicator_id: int) -> HttpResponse:
    """Change an indicator's definition."""
    indicator = services.access_indicator_for_user(request.user, indicator_id, change=True)
    return _definition_page(
        request, organization=indicator.organization, council=indicator.council, indicator=indicator
    )


# ----------------------------------------------------------------------------------------------
# An indicator's page
# ----------------------------------------------------------------------------------------------


@never_cache
@login_required
def indicator_page(request: HttpRequest, indicator_id: int) -> HttpResponse:
    """One indicator: its definition, each 年度's target, actual and rating (a line chart and a table), the
    months of a 年度 for a counted indicator (bars and a table), and the forms for a target or an actual."""
    indicator = services.access_indicator_for_user(request.user, indicator_id)
    may_change = services.can_change(request.user, indicator)
    what_target, what_actual = gettext("目標値"), gettext("実績値")
    target_form = YearValueForm(what=what_target, prefix="target")
    actual_form = YearValueForm(what=what_actual, prefix="actual")
    status = 200
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "actual" and indicator.actual_source != Indicator.Source.MANUAL:
            messages.error(
                request, gettext("この指標の実績値は申請件数から自動で数えます。手入力はできません。")
            )
            return redirect("staff:indicator", indicator_id=indicator.pk)
        form = (
            YearValueForm(request.POST, what=what_target, prefix="target")
            if action == "target"
            else YearValueForm(request.POST, what=what_actual, prefix="actual")
        )
        if action == "target":
            target_form = form
        else:
            actual_form = form
        if form.is_valid():
            year, value = form.cleaned_data["fiscal_year"], form.cleaned_data["value"]
            try:
                if action == "target":
                    services.set_target(
                        indicator=indicator, fiscal_year=year, target=value, actor=request.user
                    )
                    messages.success(
                        request,
                        gettext("%(year)sの目標値を保存しました。") % {"year": ja.format_fiscal_year(year)},
                    )
                else:
                    services.set_actual(
                        indicator=indicator, fiscal_year=year, actual=value, actor=request.user
                    )
                    messages.success(
                        request,
                        gettext("%(year)sの実績値を保存しました。") % {"year": ja.format_fiscal_year(year)},
                    )
                return redirect(f"{reverse('staff:indicator', args=[indicator.pk])}?fy={year}")
            except IndicatorError as exc:
                form.add_error("value", str(exc))
        status = 400

    thresholds = services.thresholds_for(
        organization=indicator.organization, council=indicator.council if indicator.council_id else None
    )
    # A council's months summed once for both the 年度 and the months below.
    council_months = (
        {indicator.council_id: counts.council_totals_by_month(indicator.council_id)}
        if indicator.actual_source == Indicator.Source.COUNCIL
        else None
    )
    counted = services.counted_actuals([indicator], council_months)
    # Each 年度 with who entered its actual: two queries whatever the number of 年度 (year_rows expects it).
    prefetch_related_objects([indicator], "years__actual_entered_by")
    rows = services.year_rows(indicator, thresholds, counted)
    unit = indicator.unit
    current = ja.fiscal_year(timezone.now())
    typed_year, month_error = request.GET.get("fy", "").strip()[:20], ""
    month_year = None
    if typed_year:
        # Months of a 年度 not begun (or before 2000) have no counts: said so, and the current 年度 shown.
        from madoguchi.stats.views import counted_fiscal_year

        month_year, month_error = counted_fiscal_year(typed_year, current)
    if month_year is None:
        month_year = current if indicator.actual_source != Indicator.Source.MANUAL else None
    months = (
        services.monthly_counts(
            indicator, month_year, council_months[indicator.council_id] if council_months else None
        )
        if month_year
        else []
    )
    month_label = ja.format_fiscal_year(month_year) if month_year else ""
    monthly_chart = (
        charts.monthly_bars(
            [charts.Bar(label=charts.month_label(m), value=n) for m, n in months],
            title=gettext("%(year)sの月別の件数（%(name)s。同じ数値を下の表に示します）")
            % {"year": month_label, "name": indicator.name},
        )
        if months
        else None
    )
    line_chart = (
        charts.yearly_line(
            [charts.Point(label=r.label, value=r.actual) for r in rows],
            title=gettext("年度ごとの実績値と目標値（%(name)s。同じ数値を下の表に示します）")
            % {"name": indicator.name},
            targets=[r.target for r in rows],
            target=indicator.long_term_target,
            target_label=(
                gettext("長期目標（%(when)s）") % {"when": indicator.long_term_when}
                if indicator.long_term_when
                else gettext("長期目標")
            ),
        )
        if rows
        else None
    )
    return render(
        request,
        "staff/indicator.html",
        {
            "indicator": indicator,
            "owner_name": indicator.council.name if indicator.council_id else indicator.organization.name,
            "list_url": _list_url(organization=indicator.organization, council=indicator.council),
            "rows": [_row_display(r, unit) for r in rows],
            "thresholds": thresholds,
            "baseline": _num(indicator.baseline_value),
            "long_term": _num(indicator.long_term_target),
            "line_chart": line_chart,
            "monthly_chart": monthly_chart,
            "months": [(str(MONTHS_AP[m]), charts.format_number(n)) for m, n in months],
            "month_label": month_label,
            "month_year": month_year,
            "month_error": month_error,
            "typed_year": typed_year if month_error else month_year,
            "counted": indicator.actual_source != Indicator.Source.MANUAL,
            "may_change": may_change,
            "target_form": target_form,
            "actual_form": actual_form,
            "procedures": list(indicator.procedures.order_by("title"))
            if indicator.actual_source == Indicator.Source.PROCEDURES
            else [],
        },
        status=status,
    )
