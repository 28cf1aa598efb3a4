from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Visible to platform admins, filterable, and read-only: the trail is append-only."""

    list_display = ["at", "actor_name", "action", "practice", "object_type", "object_id", "client_address"]
    list_filter = ["action", "practice", ("at", admin.DateFieldListFilter)]
    search_fields = ["actor_name", "object_id", "client_address"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
