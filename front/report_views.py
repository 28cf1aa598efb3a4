"""Reports pages: ask for a report, watch it build (htmx polling), download its files through permission checks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plumbing import workers
from reports import selectors, services
from reports.models import Report
from surveys.models import Role

from .report_forms import ReportRequestForm

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "zip": "application/zip"}


@login_required
@require_http_methods(["GET", "POST"])
def report_list(request, slug):
    practice, role = selectors.practice_with_role(request.user, slug)
    own_only = role == Role.CLINICIAN
    form = ReportRequestForm(
        request.POST or None,
        clinicians=[] if own_only else selectors.practice_clinicians(practice),
        own_only=own_only,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind, clinician = (
            (Report.Kind.CLINICIAN, request.user) if own_only else (data["kind"], data["clinician"])
        )
        try:
            report = services.request_report(
                practice, data["start"], data["end"], kind=kind, clinician=clinician, requested_by=request.user
            )
        except services.ReportError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("report_detail", slug=practice.slug, pk=report.pk)
    reports = list(selectors.visible_reports(request.user, practice, role)[:100])
    context = {
        "practice": practice,
        "role": role,
        "form": form,
        "reports": reports,
        "workers_silent": any(not report.finished for report in reports) and workers.workers_silent(),
    }
    return render(request, "reports/list.html", context, status=400 if form.is_bound else 200)


@login_required
@require_GET
def report_detail(request, slug, pk):
    report, role = selectors.report_for(request.user, slug, pk)
    return render(request, "reports/detail.html", _status_context(report, role))


@login_required
@require_GET
def report_status(request, slug, pk):
    """The fragment htmx polls until the report is finished (then it stops: the new fragment has no trigger)."""
    report, role = selectors.report_for(request.user, slug, pk)
    response = render(request, "reports/_status.html", _status_context(report, role))
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def report_retry(request, slug, pk):
    report, _role = selectors.report_for(request.user, slug, pk)
    if services.may_retry(report):
        services.rebuild_report(report, requested_by=request.user)
        messages.info(request, _("The report is queued again."))
    else:
        messages.warning(request, _("The report is still being built."))
    return redirect("report_detail", slug=slug, pk=report.pk)


@login_required
@require_GET
def report_download(request, slug, pk, fmt):
    report, _role = selectors.report_for(request.user, slug, pk)
    path = services.release_report_file(report, fmt, request=request)
    if path is None:
        raise Http404("No such file.")
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=path.name, content_type=CONTENT_TYPES[fmt])
    add_never_cache_headers(response)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _status_context(report: Report, role: str) -> dict:
    return {
        "report": report,
        "practice": report.practice,
        "role": role,
        "may_retry": services.may_retry(report),
        "stale": services.is_stale(report),
        "workers_silent": not report.finished and workers.workers_silent(),
    }
