import json

from django import forms
from django.contrib import admin

from madoguchi.lib.params import parse_id
from madoguchi.organizations.models import Department
from madoguchi.procedures.formspec import FormSpecError, parse_form_spec
from madoguchi.procedures.models import FormVersion, Procedure
from madoguchi.procedures.services import save_form_version

DEPARTMENT_OF_ANOTHER_ORGANIZATION = "担当所属は、この手続の団体の所属から選んでください。"


class ProcedureAdminForm(forms.ModelForm):
    form_schema = forms.CharField(
        label="フォーム定義（JSON）",
        widget=forms.Textarea(attrs={"rows": 24, "class": "vLargeTextField form-schema"}),
        help_text="保存すると新しい版になります。受付済みの申請は、申請したときの版のまま残ります。",
    )

    class Meta:
        model = Procedure
        fields = [
            "organization", "department", "title", "summary", "kind", "status", "opens_at", "closes_at",
            "purpose", "retention_years", "capacity", "send_receipt_email",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.current_version_id:
            self.fields["form_schema"].initial = json.dumps(
                self.instance.current_version.schema, ensure_ascii=False, indent=2
            )
        if "department" in self.fields:
            self._offer_own_departments()

    def _organization_id(self) -> int | None:
        """The procedure's organization: its own once saved (not editable then), else the one chosen."""
        if self.instance.pk:
            return self.instance.organization_id
        if self.is_bound:
            return parse_id(str(self.data.get(self.add_prefix("organization"), "")))
        initial = self.initial.get("organization")
        return getattr(initial, "pk", None) or parse_id(str(initial or ""))

    def _offer_own_departments(self) -> None:
        field = self.fields["department"]
        organization_id = self._organization_id()
        if organization_id is not None:
            field.queryset = Department.objects.filter(organization_id=organization_id)
        else:  # a new procedure, no organization chosen yet: every 所属, named with its organization
            field.queryset = Department.objects.select_related("organization")
            field.label_from_instance = lambda department: (
                f"{department.organization.name}　{department.name}"
            )
        field.error_messages["invalid_choice"] = DEPARTMENT_OF_ANOTHER_ORGANIZATION

    def clean(self):
        cleaned = super().clean()
        organization_id = (
            cleaned["organization"].pk if cleaned.get("organization") else self._organization_id()
        )
        department = cleaned.get("department")
        if (
            department is not None
            and organization_id is not None
            and department.organization_id != organization_id
        ):
            self.add_error("department", DEPARTMENT_OF_ANOTHER_ORGANIZATION)
        return cleaned

    def clean_form_schema(self):
        try:
            document = json.loads(self.cleaned_data["form_schema"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"JSONの形式が正しくありません（{exc.lineno}行目）") from None
        try:
            return parse_form_spec(document).model_dump(mode="json")
        except FormSpecError as exc:
            raise forms.ValidationError(exc.messages) from None


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    form = ProcedureAdminForm

    class Media:
        css = {"all": ["madoguchi/admin.css"]}  # no inline style: the admin has the site's strict CSP

    list_display = ["title", "organization", "kind", "status", "capacity", "seats_taken"]
    list_filter = ["status", "kind", "organization"]
    search_fields = ["title"]
    readonly_fields = ["seats_taken"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # A procedure stays in its organization: its versions and submissions are that organization's.
        return [*fields, "organization"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        save_form_version(procedure=obj, schema=form.cleaned_data["form_schema"], actor=request.user)


@admin.register(FormVersion)
class FormVersionAdmin(admin.ModelAdmin):
    list_display = ["procedure", "number", "created_at", "created_by"]
    readonly_fields = ["organization", "procedure", "number", "schema", "created_at", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
