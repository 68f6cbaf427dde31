from django.contrib import admin

from madoguchi.organizations.models import Council, CouncilMembership, Department, Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "prefecture", "population", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name", "name_kana"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "organization"]
    search_fields = ["name"]


class CouncilMembershipInline(admin.TabularInline):
    model = CouncilMembership
    autocomplete_fields = ["organization"]
    extra = 0


@admin.register(Council)
class CouncilAdmin(admin.ModelAdmin):
    inlines = [CouncilMembershipInline]
