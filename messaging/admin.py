from django.contrib import admin

from .models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "invitation", "channel", "kind", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "channel", "kind")
    date_hierarchy = "created_at"
    list_select_related = ("invitation",)
    # The hash is left out on purpose; sending state belongs to the tasks: admins look, managers resend.
    fields = ("invitation", "channel", "kind", "status", "attempts", "claimed_until", "last_error", "created_at", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
