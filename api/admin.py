from django.contrib import admin

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Read-only for platform admins: keys are made and revoked on the practice's API keys page, which shows a
    new key once and writes the audit trail."""

    list_display = ["name", "practice", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["practice", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = [f.name for f in ApiKey._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
