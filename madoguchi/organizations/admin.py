from django import forms
from django.contrib import admin

from madoguchi.organizations.models import Council, CouncilMembership, Department, Organization


class OrganizationAdminForm(forms.ModelForm):
    """The footer links are held to the rule of the admin's own staff page (services.check_footer_link)."""

    class Meta:
        model = Organization
        fields = [
            "code", "kind", "name", "name_kana", "prefecture", "population", "contact_email", "contact_phone",
            "is_active", "terms_url", "privacy_url", "accessibility_url", "contact_url",
        ]  # fmt: skip

    def clean(self):
        from madoguchi.organizations import services

        cleaned = super().clean()
        for name in services.FOOTER_LINK_FIELDS:
            if name in cleaned:
                try:
                    cleaned[name] = services.check_footer_link(cleaned[name] or "")
                except services.FooterLinkError as exc:
                    self.add_error(name, str(exc))
        return cleaned


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationAdminForm
    list_display = ["code", "name", "kind", "prefecture", "population", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name", "name_kana"]


class DepartmentAdminForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["organization", "name", "phone", "email"]

    def clean_organization(self):
        organization = self.cleaned_data["organization"]
        if self.instance.pk and organization.pk != self.instance.organization_id:
            # Its procedures would show another organization's 所属, its staff would belong to another
            # organization's 所属 (the database refuses both too).
            procedures, staff = self.instance.procedure_set.count(), self.instance.members.count()
            if procedures or staff:
                raise forms.ValidationError(
                    f"この所属は手続{procedures}件の担当所属、職員{staff}人の所属になっているため、"
                    "団体を変更できません。新しい団体には所属を追加してください。"
                )
        return organization


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    form = DepartmentAdminForm
    list_display = ["name", "organization"]
    search_fields = ["name"]


class CouncilMembershipInline(admin.TabularInline):
    model = CouncilMembership
    autocomplete_fields = ["organization"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")


@admin.register(Council)
class CouncilAdmin(admin.ModelAdmin):
    inlines = [CouncilMembershipInline]
