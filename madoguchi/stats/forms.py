"""Forms of the council's own pages: the 負担金 of a 部会 and the members' populations."""

from django import forms
from django.utils.translation import gettext, gettext_lazy

from madoguchi.lib.formfields import upload_field
from madoguchi.lib.japanese import GROUPING_MESSAGE
from madoguchi.stats.cost_share import misplaced_commas, whole_number

# Django's own message for a NUL character reads as if the box were empty.
NO_CONTROLS = {
    "null_characters_not_allowed": gettext_lazy(
        "数字以外の見えない文字が入っています。数字だけを入力してください"
    )
}


def _messages(required: str) -> dict:
    """NO_CONTROLS and the form's own words for an empty box (Django's reads 「このフィールドは必須です。」)."""
    return {**NO_CONTROLS, "required": required}


class CostShareForm(forms.Form):
    cost = forms.CharField(
        label=gettext_lazy("年間の費用（円）"),
        max_length=30,
        error_messages=_messages(gettext_lazy("年間の費用を円で入力してください（例：30,000,000）")),
        help_text=gettext_lazy("この部会の年度の費用の総額です（例：30,000,000）"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "input input-medium"}),
    )
    weight_equal = forms.CharField(
        label=gettext_lazy("均等割（%）"),
        max_length=5,
        error_messages=_messages(gettext_lazy("均等割の割合を0から100までの整数で入力してください")),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "input input-short"}),
    )
    weight_population = forms.CharField(
        label=gettext_lazy("人口割（%）"),
        max_length=5,
        error_messages=_messages(gettext_lazy("人口割の割合を0から100までの整数で入力してください")),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "input input-short"}),
    )
    weight_usage = forms.CharField(
        label=gettext_lazy("件数割（%）"),
        max_length=5,
        error_messages=_messages(gettext_lazy("件数割の割合を0から100までの整数で入力してください")),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "input input-short"}),
    )

    def clean_cost(self) -> int:
        value = whole_number(self.cleaned_data["cost"], strip="円")
        if misplaced_commas(self.cleaned_data["cost"], strip="円"):
            raise forms.ValidationError(str(GROUPING_MESSAGE))
        if value is None:
            raise forms.ValidationError(
                gettext("0円以上、15桁までの整数で入力してください（例：30,000,000）")
            )
        return value

    def _weight(self, name: str) -> int:
        value = whole_number(self.cleaned_data[name], strip="%")
        if misplaced_commas(self.cleaned_data[name], strip="%"):
            raise forms.ValidationError(str(GROUPING_MESSAGE))
        if value is None or value > 100:
            raise forms.ValidationError(gettext("0から100までの整数で入力してください"))
        return value

    def clean_weight_equal(self) -> int:
        return self._weight("weight_equal")

    def clean_weight_population(self) -> int:
        return self._weight("weight_population")

    def clean_weight_usage(self) -> int:
        return self._weight("weight_usage")

    def clean(self):
        data = super().clean()
        weights = [data.get(n) for n in ("weight_equal", "weight_population", "weight_usage")]
        if all(isinstance(w, int) for w in weights) and sum(weights) != 100:
            message = gettext(
                "均等割・人口割・件数割の合計が%(total)s%%です。合計が100%%になるように入力してください。"
            ) % {"total": sum(weights)}
            # At each of the three boxes, so each is marked and tells why (and the summary links to them).
            for name in ("weight_equal", "weight_population", "weight_usage"):
                self.add_error(name, message)
        return data


class PopulationImportForm(forms.Form):
    file = upload_field(
        gettext_lazy("人口のCSVファイル"),
        choose=gettext_lazy("人口のCSVファイルを選んでください。"),
        help_text=gettext_lazy(
            "1行目に「団体コード」と「人口」の見出しがあるCSV（UTF-8 または Shift_JIS）。ほかの列は読みません。"
        ),
    )
