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
    list_select_related = ["user", "council"]


# 2段階認証 devices: the operator sees who has one and may delete it (a member who lost their phone), but never
# a secret key or a recovery code (django-otp's own admin shows both). Its modules are imported first so that
# their registrations can be replaced.
import django_otp.plugins.otp_static.admin  # noqa: E402
import django_otp.plugins.otp_totp.admin  # noqa: E402, F401
from django_otp.plugins.otp_static.models import StaticDevice  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(TOTPDevice, StaticDevice)
class SecondFactorAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "confirmed"]
    fields = ["user", "name", "confirmed"]
    readonly_fields = ["user", "name", "confirmed"]
    search_fields = ["user__username"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
