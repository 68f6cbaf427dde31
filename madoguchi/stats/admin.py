from django.contrib import admin

from madoguchi.stats.models import WorkingGroup, WorkingGroupMembership


class WorkingGroupMembershipInline(admin.TabularInline):
    model = WorkingGroupMembership
    autocomplete_fields = ["organization"]
    extra = 0


@admin.register(WorkingGroup)
class WorkingGroupAdmin(admin.ModelAdmin):
    """部会 and their members are set up by the operator; the secretariat enters costs on its own pages."""

    list_display = ["name", "council"]
    inlines = [WorkingGroupMembershipInline]
