"""The practice manager's tools: visit import, the invitations list, sending links, and printable QR cards.

Every view starts from `selectors.practice_for`, so anyone but a manager of the practice (or a platform
admin) gets 404, and anonymous visitors are sent to sign in. The forms live here rather than in forms.py
only because they are used nowhere else; they carry no business rules.

Between preview and confirm, the uploaded file waits in the signed-in user's server-side session
(Django's database session backend), under IMPORT_SESSION_KEY with its SHA-256. The browser only
sends the digest back, which selects nothing: confirm takes the text from the session, checks the
digest, parses it again and re-checks every row inside the import transaction, so nothing the
browser says about the rows is trusted. We chose the session over a model because the data is
short-lived and belongs to one person: it needs no table, no clean-up job and no access rules of its
own, and it ends with the session. It holds contact details, so it is removed once the import is
confirmed, and a new upload replaces it. (A cookie-based session backend could not hold 2 MB; if the
project moves to one, this needs a small model instead.)
"""

from __future__ import annotations

import hmac

import segno
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from interchange.ehr import parse as imports
from interchange.ehr import selectors as import_selectors
from interchange.ehr import services as import_services
from messaging import selectors as messaging_selectors
from messaging import services as messaging_services
from plumbing.period import PeriodForm
from surveys import links, selectors, services

from .survey_views import survey_page

INVITATIONS_PER_PAGE = 50
PREVIEW_ROWS_SHOWN = 500

IMPORT_SESSION_KEY = "manager_visit_import"


class VisitImportForm(forms.Form):
    file = forms.FileField(
        label=_("Visit list (CSV)"),
        help_text=_(
            "Columns date, clinician, patient, and optionally email and phone, with a header row. "
            "Dates as YYYY-MM-DD. UTF-8, at most 2 MB and 5,000 visits."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Preview")))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_BYTES:
            # Refused before reading a byte of it.
            raise forms.ValidationError(
                _("The file is larger than 2 MB. Split it into smaller files and import them one at a time.")
            )
        return upload


class InvitationFilterForm(PeriodForm):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status"))] + [(s, s.capitalize()) for s in selectors.INVITATION_STATUSES],
    )
    start = forms.DateField(label=_("Visits from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.layout = Layout(
            Row(
                Column("status", css_class="col-sm-3"),
                Column("start", css_class="col-sm-3"),
                Column("end", css_class="col-sm-3"),
                Column(Submit("filter", _("Filter"), css_class="mt-sm-4"), css_class="col-sm-3"),
            )
        )


class CardDateForm(forms.Form):
    date = forms.DateField(label=_("Visit date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.add_input(Submit("show", _("Show"), css_class="btn-secondary"))


# --- visit import ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def visit_import(request, slug):
    """Step 1: upload a file and see what importing it would do."""
    practice = selectors.practice_for(request.user, slug)
    if request.method == "GET":
        return _import_page(request, practice, VisitImportForm())
    form = VisitImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, practice, form, status=400)
    try:
        parsed = imports.parse_csv(form.cleaned_data["file"].read(imports.MAX_BYTES + 1))
    except imports.ImportFileError as exc:
        form.add_error("file", str(exc))
        return _import_page(request, practice, form, status=400)
    plan = import_selectors.plan_import(practice, parsed.rows, parsed.refused_clinicians)
    request.session[IMPORT_SESSION_KEY] = {"practice": practice.pk, "sha256": parsed.digest, "text": parsed.text}
    report = plan.report(parsed.errors)
    context = {
        "practice": practice,
        "digest": parsed.digest,
        "with_contact": sum(1 for row in plan.new if row.email or row.phone),
        "new_rows": plan.new[:PREVIEW_ROWS_SHOWN],
        "new_count": len(plan.new),
        "more_rows": max(0, len(plan.new) - PREVIEW_ROWS_SHOWN),
        "report": report,
        "bad_lines": len({error.line for error in report}),
    }
    return render(request, "surveys/manager/import_preview.html", context)


@login_required
@require_POST
def visit_import_confirm(request, slug):
    """Step 2: import the file previewed in this session, and say what happened."""
    practice = selectors.practice_for(request.user, slug)
    stored = request.session.get(IMPORT_SESSION_KEY) or {}
    posted = request.POST.get("sha256", "")
    text = stored.get("text", "")
    if (
        stored.get("practice") != practice.pk
        or not hmac.compare_digest(str(stored.get("sha256", "")), posted)
        or imports.text_digest(text) != posted
    ):
        message = _("There is no preview to confirm: it was replaced by another upload or has expired. Upload the file again.")
        return _import_page(request, practice, VisitImportForm(), status=400, problem=message)
    try:
        parsed = imports.parse_text(text)
        result = import_services.import_visits(
            practice, parsed.rows, request.user, request=request, file_errors=len(parsed.errors), sha256=posted,
            refused_clinicians=parsed.refused_clinicians,
        )
    except (imports.ImportFileError, services.ServiceError) as exc:
        return _import_page(request, practice, VisitImportForm(), status=400, problem=str(exc))
    request.session.pop(IMPORT_SESSION_KEY, None)
    errors = sorted([*parsed.errors, *result.errors])
    sent = None
    if request.POST.get("send_links") and result.created:
        sent = messaging_services.queue_invites(
            practice,
            messaging_selectors.visit_invitations(practice, result.created),
            requested_by=request.user,
            scope="import",
            request=request,
        )
    context = {
        "practice": practice,
        "sent": sent,
        "created": len(result.created),
        "skipped": len(result.already_imported),
        "errors": errors,
        "bad_lines": len({error.line for error in errors}),
        "dates": result.dates,
    }
    return render(request, "surveys/manager/import_done.html", context)


def _import_page(request, practice, form, status=200, problem=""):
    context = {"practice": practice, "form": form, "problem": problem, "columns": imports.COLUMNS}
    return render(request, "surveys/manager/import.html", context, status=status)


# --- invitations -------------------------------------------------------------------------------


@login_required
@require_GET
def invitation_list(request, slug):
    practice = selectors.practice_for(request.user, slug)
    form = InvitationFilterForm(request.GET or None)
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {key: value for key, value in form.cleaned_data.items() if value}
    now = timezone.now()
    invitations = messaging_selectors.with_messages(selectors.practice_invitations(practice, now=now, **filters))
    page = Paginator(invitations, INVITATIONS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for invitation in page:
        status = selectors.invitation_status(invitation, now)
        can_send = status in ("open", "opened") and (invitation.has_email or invitation.has_phone)
        rows.append((invitation, status, messaging_selectors.deliveries(invitation), can_send))
    status = 400 if form.is_bound and form.errors else 200
    context = {
        "practice": practice,
        "form": form,
        "page": page,
        "rows": rows,
        "unsent": messaging_selectors.unsent_invitations(practice, now).count(),
        "query": _list_query(request.GET),
    }
    return render(request, "surveys/manager/invitations.html", context, status=status)


# --- sending links by email and SMS ------------------------------------------------------------


@login_required
@require_POST
def invitation_send(request, slug, invitation_id):
    """Send one patient the link now, by email and SMS as their contact details allow (again, if sent before)."""
    practice = selectors.practice_for(request.user, slug)
    invitation = messaging_selectors.practice_invitation(practice, invitation_id)
    queued = messaging_services.queue_invites(practice, invitation, requested_by=request.user, scope="one", request=request)
    _say_queued(request, queued)
    return _back_to_list(request, practice)


@login_required
@require_POST
def invitations_send_unsent(request, slug):
    """Send the link to every open invitation whose link has not gone out yet (failed sends are tried again)."""
    practice = selectors.practice_for(request.user, slug)
    queued = messaging_services.queue_invites(
        practice, requested_by=request.user, scope="all_unsent", only_unsent=True, request=request
    )
    _say_queued(request, queued)
    return _back_to_list(request, practice)


def _say_queued(request, queued) -> None:
    if not queued.messages:
        flash.info(request, gettext("Nothing to send: no open invitation with contact details is waiting for its link."))
        return
    flash.success(
        request,
        ngettext(
            "Sending the link to %(count)d patient (%(email)d by email, %(sms)d by SMS).",
            "Sending the link to %(count)d patients (%(email)d by email, %(sms)d by SMS).",
            queued.invitations,
        )
        % {"count": queued.invitations, "email": queued.email, "sms": queued.sms},
    )


LIST_PARAMETERS = ("status", "start", "end", "page")


def _list_query(params: QueryDict) -> str:
    """The list's own filter and page, to come back to after a send (nothing else is carried over)."""
    kept = QueryDict(mutable=True)
    for key in LIST_PARAMETERS:
        if params.get(key):
            kept[key] = params[key][:20]
    return kept.urlencode()


def _back_to_list(request, practice):
    query = _list_query(QueryDict(request.POST.get("query", "")))
    url = reverse("manager_invitations", args=[practice.slug])
    return redirect(f"{url}?{query}" if query else url)


# --- QR cards ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def invitation_cards(request, slug):
    """GET: pick a day and see how many cards it needs. POST: new links for that day, as cards to print (added
    beside the links already handed out, which keep working)."""
    practice = selectors.practice_for(request.user, slug)
    if request.method == "POST":
        form = CardDateForm(request.POST)
        if form.is_valid():
            return _print_cards(request, practice, form.cleaned_data["date"])
        status = 400
    else:
        form = CardDateForm(request.GET if "date" in request.GET else {"date": timezone.localdate().isoformat()})
        status = 200 if form.is_valid() else 400
    date = form.cleaned_data.get("date") if form.is_valid() else None
    count = selectors.printable_invitations(practice, date).count() if date else 0
    return render(
        request,
        "surveys/manager/cards.html",
        {"practice": practice, "form": form, "date": date, "count": count},
        status=status,
    )


# The printed page shows live links, so like the questionnaire it is never cached and never sent as a
# referrer. Only this page: the picker page holds the POST form, and a no-referrer page makes
# browsers post with `Origin: null`, which the CSRF check refuses.
@survey_page
def _print_cards(request, practice, date):
    cards = [_card(card) for card in services.print_cards(practice, date, request=request)]
    minutes = selectors.typical_minutes_to_complete(practice)
    return render(
        request,
        "surveys/manager/cards_print.html",
        {"practice": practice, "date": date, "cards": cards, "minutes": minutes},
    )


def _card(card) -> dict:
    url = links.patient_url(card.token)
    # segno writes the SVG from the URL alone: no user text goes into it, so it is safe to inline.
    svg = segno.make(url, error="m").svg_inline(scale=3)
    clinician = card.invitation.visit.dyad.clinician
    return {
        "invitation": card.invitation,
        "short_url": links.short_code_url(card.code),
        "svg": mark_safe(svg),
        "clinician": clinician.get_full_name() or clinician.get_username(),
    }
