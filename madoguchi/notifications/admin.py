from django.contrib import admin

from madoguchi.notifications.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["subject_shown", "organization", "status", "attempts", "created_at"]
    list_filter = ["status"]
    exclude = ["body_data"]
    readonly_fields = ["created_at"]  # (not editable: shown only when named; the rest show read-only)

    @admin.display(description="件名")
    def subject_shown(self, email):
        return email.display_subject

    def has_add_permission(self, request):
        return False  # e-mail rows are written by the services only

    def has_change_permission(self, request, obj=None):
        return False  # shown, never edited: no save button (staff resend a failed one from their page)
