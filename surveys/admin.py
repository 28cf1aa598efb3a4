from django.contrib import admin

from .models import (
    Answer,
    CaseMix,
    Domain,
    DomainScore,
    Dyad,
    Instrument,
    InstrumentVersion,
    Invitation,
    Item,
    Membership,
    Patient,
    Practice,
    Response,
    SelfAssessment,
    Visit,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "min_reporting_n", "self_assessment_months", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "practice", "role", "created_at"]
    list_filter = ["role", "practice"]
    search_fields = ["user__username", "practice__name", "practice__slug"]
    autocomplete_fields = ["user", "practice"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["reference", "practice", "created_at"]
    list_filter = ["practice"]
    search_fields = ["reference"]


@admin.register(Dyad)
class DyadAdmin(admin.ModelAdmin):
    list_display = ["id", "practice", "clinician", "patient", "created_at"]
    list_filter = ["practice"]
    search_fields = ["patient__reference", "clinician__username"]
    list_select_related = ["practice", "clinician", "patient"]
    raw_id_fields = ["patient", "clinician"]


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ["respondent", "instrument_version", "expires_at", "opened_at", "used_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ["id", "date", "practice", "dyad"]
    list_filter = ["practice", "date"]
    search_fields = ["dyad__patient__reference", "dyad__clinician__username"]
    date_hierarchy = "date"
    list_select_related = ["practice", "dyad__clinician", "dyad__patient"]
    raw_id_fields = ["dyad"]
    inlines = [InvitationInline]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class ItemInline(admin.TabularInline):
    model = Item
    extra = 0
    fields = ["position", "code", "domain", "reverse", "allow_na", "text"]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["slug"]
    search_fields = ["slug"]


@admin.register(InstrumentVersion)
class InstrumentVersionAdmin(admin.ModelAdmin):
    list_display = ["instrument", "version", "respondent", "is_current", "loaded_at"]
    list_filter = ["respondent", "is_current", "instrument"]
    readonly_fields = ["checksum", "loaded_at"]
    inlines = [DomainInline, ItemInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["id", "visit", "respondent", "created_at", "expires_at", "opened_at", "used_at"]
    list_filter = ["respondent", "visit__practice", ("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["visit__dyad__patient__reference"]
    raw_id_fields = ["visit"]
    readonly_fields = ["created_at", "opened_at", "used_at"]


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    readonly_fields = ["item", "value"]
    can_delete = False


class DomainScoreInline(admin.TabularInline):
    model = DomainScore
    extra = 0
    readonly_fields = ["domain", "score"]
    can_delete = False


class CaseMixInline(admin.StackedInline):
    """The patient's optional answers about themselves: platform admins only, read-only like the answers."""

    model = CaseMix
    extra = 0
    readonly_fields = ["age_band", "education", "general_health", "mental_health", "time_with_clinician"]
    can_delete = False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "practice", "respondent", "instrument_version", "submitted_at", "process_index", "outcome_index"]
    list_filter = ["respondent", "practice", "instrument_version", "language"]
    search_fields = ["dyad__patient__reference", "dyad__clinician__username"]
    date_hierarchy = "submitted_at"
    list_select_related = ["practice", "instrument_version__instrument"]
    raw_id_fields = ["invitation", "visit", "dyad"]
    inlines = [AnswerInline, DomainScoreInline, CaseMixInline]

    def has_change_permission(self, request, obj=None):
        # A submitted response is a record of what someone said: read it, never edit it.
        return False


@admin.register(SelfAssessment)
class SelfAssessmentAdmin(admin.ModelAdmin):
    """Read-only: a self-assessment is the clinician's own record, written once by the service."""

    list_display = ["clinician", "practice", "period_start", "submitted_at", "instrument_version"]
    list_filter = ["practice", "period_start"]
    readonly_fields = [f.name for f in SelfAssessment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
