"""Dashboards: a manager's practice dashboard and a clinician's own page, with CSV for every figure."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.translation import gettext

from figures import panels, queries
from plumbing.period import Period, next_release, quarter_name
from plumbing.routers import use_replica
from surveys import selectors
from surveys.models import Role

from .forms import DashboardFilterForm

DYADS_PER_PAGE = 50


def _filters(request, practice, *, with_clinicians: bool):
    clinicians = queries.practice_clinicians(practice) if with_clinicians else []
    form = DashboardFilterForm(
        request.GET or None, clinicians=clinicians, versions=queries.patient_versions(practice)
    )
    if form.is_bound and not form.is_valid():
        # Dates that cannot be asked for (an end before the start...) get the form's error and no figures: figures
        # for some other period beside the bad dates would read as figures for those dates (issue 14).
        return form, None, clinicians
    period = form.period()
    if period.clinician_id and period.clinician_id not in {c.pk for c in clinicians}:
        period = Period(period.start, period.end, version_id=period.version_id)
    return form, period, clinicians


def _period_context(form, period) -> dict:
    if period is None:
        return {"period": None, "next_release": next_release(form.today)}
    asked = form.asked()
    if asked:
        asked = (asked[0] or asked[1], asked[1] or asked[0])
        asked = None if asked == (period.start, period.end) else asked
    return {
        "period": period,
        "period_name": quarter_name(period),
        "asked": asked,
        "next_release": next_release(form.today),
        # The "Showing …" line names every filter in effect, so it changes with each of them (issue 14).
        "clinician_name": _choice_label(form, "clinician", period.clinician_id),
        "version_name": _choice_label(form, "version", period.version_id),
    }


def _choice_label(form, field: str, value) -> str | None:
    if value is None or field not in form.fields:
        return None
    return next((str(label) for key, label in form.fields[field].choices if key == value), None)


def _practice_dashboard(request, slug):
    # Who may see what is decided on the primary; the figures are read from the replica when there is one
    # (docs/scaling.md), each shared set of figures once (queries.shared_reads: the fast path).
    practice = selectors.practice_for(request.user, slug, Role.MANAGER)
    with use_replica(), queries.shared_reads():
        form, period, clinicians = _filters(request, practice, with_clinicians=True)
        if period is None:
            return practice, form, period, None, []
        audience = panels.Audience.for_user(request.user, practice)
        tiles = panels.practice_tiles(practice, period)
        panel_list = panels.practice_panels(practice, period, audience, clinicians, tiles)
        return practice, form, period, tiles, panel_list


@login_required
def practice_dashboard(request, slug):
    practice, form, period, tiles, panel_list = _practice_dashboard(request, slug)
    context = {
        "practice": practice, "form": form, **_period_context(form, period), "tiles": tiles, "panels": panel_list,
        "page_notes": panels.page_notes(panel_list),
    }
    template = "surveys/dashboard_panels.html" if request.headers.get("HX-Request") else "surveys/dashboard.html"
    return render(request, template, context, status=_status(request, period))


@login_required
def practice_chart_csv(request, slug, key):
    practice, _form, period, _tiles, panel_list = _practice_dashboard(request, slug)
    return _panel_csv(request, practice, period, panel_list, key)


def _my_page(request, slug):
    practice = selectors.practice_for(request.user, slug, Role.CLINICIAN)
    with use_replica(), queries.shared_reads():
        form, period, _clinicians = _filters(request, practice, with_clinicians=False)
        if period is None:
            return practice, form, period, [], None
        audience = panels.Audience.for_user(request.user, practice)
        panel_list = panels.clinician_panels(practice, request.user, period, audience)
        return practice, form, period, panel_list, panels.clinician_reflection(practice, request.user, period, audience)


@login_required
def my_relationships(request, slug):
    practice, form, period, panel_list, reflection = _my_page(request, slug)
    with use_replica():
        # Patients who chose to share are listed as they answer, not with the quarter's figures: their consent
        # covers it, and no figure of others can be worked out from them (docs/privacy.md).
        dyads = queries.clinician_dyads(practice, request.user, Period.last_days(365))
    dyad_page = Paginator(dyads, DYADS_PER_PAGE).get_page(request.GET.get("dyads_page"))
    context = {
        "practice": practice, "form": form, **_period_context(form, period), "panels": panel_list,
        "page_notes": panels.page_notes(panel_list), "dyads": dyad_page, "reflection": reflection,
    }
    template = "surveys/my_panels.html" if request.headers.get("HX-Request") else "surveys/my_relationships.html"
    return render(request, template, context, status=_status(request, period))


@login_required
def my_chart_csv(request, slug, key):
    practice, _form, period, panel_list, _reflection = _my_page(request, slug)
    return _panel_csv(request, practice, period, panel_list, key)


@login_required
def my_dyad(request, slug, dyad_id):
    practice = selectors.practice_for(request.user, slug, Role.CLINICIAN)
    dyad = selectors.clinician_dyad(request.user, practice, dyad_id)
    with use_replica():
        waves = queries.dyad_waves(dyad)
    return render(request, "surveys/my_dyad.html", {"practice": practice, "dyad": dyad, "waves": waves})


def _status(request, period) -> int:
    """400 for dates that cannot be shown, except to htmx, which swaps only 2xx answers: the filter's swap must
    replace the old figures with the error, not leave them under the bad dates."""
    return 200 if period or request.headers.get("HX-Request") else 400


def _panel_csv(request, practice, period, panel_list, key) -> HttpResponse:
    if period is None:
        return HttpResponseBadRequest(gettext("These dates cannot be shown: please choose others on the page."))
    panel = next((p for p in panel_list if p.key == key), None)
    if panel is None:
        raise Http404("No such chart.")
    filename = f"{practice.slug}-{key}-{period.start}-{period.end}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.writelines(panels.release_table(panel, practice, period, request=request))
    return response
