from django.contrib import admin

from .models import Report, ReportPart


class ReportPartInline(admin.TabularInline):
    model = ReportPart
    extra = 0
    can_delete = False
    fields = ("clinician", "claims", "started_at", "done_at")
    readonly_fields = fields


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("id", "practice", "kind", "clinician", "start", "end", "status", "attempt", "claims", "builds",
                    "requested_at", "finished_at")
    list_filter = ("status", "kind", "practice")
    search_fields = ("practice__slug", "practice__name", "clinician__username")
    date_hierarchy = "requested_at"
    inlines = [ReportPartInline]
    # The build's state belongs to the tasks: admins look, and retry from the reports page or the command.
    readonly_fields = [f.name for f in Report._meta.fields]

    def has_add_permission(self, request):
        return False
