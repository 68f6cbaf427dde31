from django import forms
from django.contrib import admin

from madoguchi.accounts.models import CouncilRole, Membership


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "organization", "role", "departments"]

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization")
        departments = cleaned.get("departments") or []
        others = [d.name for d in departments if organization and d.organization_id != organization.pk]
        if others:
            # The staff pages never offer them either (accounts/services.py refuses them).
            self.add_error("departments", f"{organization.name}の所属ではありません：{'、'.join(others)}")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "organization", "role"]
    list_filter = ["role"]
    autocomplete_fields = ["organization", "departments"]


@admin.register(CouncilRole)
class CouncilRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "council"]
