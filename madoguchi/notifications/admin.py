from django.contrib import admin

from madoguchi.notifications.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["display_subject", "organization", "status", "attempts", "created_at"]
    list_filter = ["status"]
    exclude = ["body_data"]
    readonly_fields = [
        "organization",
        "submission",
        "kind",
        "to",
        "subject",
        "status",
        "attempts",
        "last_error",
    ]

    def has_add_permission(self, request):
        return False  # e-mail rows are written by the services only
