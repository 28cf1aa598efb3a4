"""Dashboards: a manager's practice dashboard and a clinician's own page, with CSV for every figure."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from figures import panels, queries
from plumbing.period import Period, next_release, quarter_name
from plumbing.routers import use_replica
from surveys import selectors
from surveys.models import Role

from .forms import DashboardFilterForm


def _filters(request, practice, *, with_clinicians: bool):
    clinicians = queries.practice_clinicians(practice) if with_clinicians else []
    form = DashboardFilterForm(
        request.GET or None, clinicians=clinicians, versions=queries.patient_versions(practice)
    )
    period = form.period()
    if period.clinician_id and period.clinician_id not in {c.pk for c in clinicians}:
        period = Period(period.start, period.end, version_id=period.version_id)
    return form, period, clinicians


def _period_context(form, period) -> dict:
    asked = form.asked()
    if asked:
        asked = (asked[0] or asked[1], asked[1] or asked[0])
        asked = None if asked == (period.start, period.end) else asked
    return {
        "period": period,
        "period_name": quarter_name(period),
        "asked": asked,
        "next_release": next_release(form.today),
    }


def _practice_dashboard(request, slug):
    # Who may see what is decided on the primary; the figures are read from the replica when there is one
    # (docs/scaling.md), each shared set of figures once (queries.shared_reads: the fast path).
    practice = selectors.practice_for(request.user, slug, Role.MANAGER)
    with use_replica(), queries.shared_reads():
        form, period, clinicians = _filters(request, practice, with_clinicians=True)
        audience = panels.Audience.for_user(request.user, practice)
        tiles = panels.practice_tiles(practice, period)
        panel_list = panels.practice_panels(practice, period, audience, clinicians, tiles)
        panel_list.append(panels.casemix_panel(practice, period, audience, clinicians))
        return practice, form, period, tiles, panel_list


@login_required
def practice_dashboard(request, slug):
    practice, form, period, tiles, panel_list = _practice_dashboard(request, slug)
    context = {"practice": practice, "form": form, **_period_context(form, period), "tiles": tiles, "panels": panel_list}
    template = "surveys/dashboard_panels.html" if request.headers.get("HX-Request") else "surveys/dashboard.html"
    return render(request, template, context)


@login_required
def practice_chart_csv(request, slug, key):
    practice, _form, period, _tiles, panel_list = _practice_dashboard(request, slug)
    return _panel_csv(request, practice, period, panel_list, key)


def _my_page(request, slug):
    practice = selectors.practice_for(request.user, slug, Role.CLINICIAN)
    with use_replica(), queries.shared_reads():
        form, period, _clinicians = _filters(request, practice, with_clinicians=False)
        audience = panels.Audience.for_user(request.user, practice)
        return practice, form, period, panels.clinician_panels(practice, request.user, period, audience)


@login_required
def my_relationships(request, slug):
    practice, form, period, panel_list = _my_page(request, slug)
    with use_replica():
        # Patients who chose to share are listed as they answer, not with the quarter's figures: their consent
        # covers it, and no figure of others can be worked out from them (docs/privacy.md).
        dyads = queries.clinician_dyads(practice, request.user, Period.last_days(365))
    context = {"practice": practice, "form": form, **_period_context(form, period), "panels": panel_list, "dyads": dyads}
    template = "surveys/my_panels.html" if request.headers.get("HX-Request") else "surveys/my_relationships.html"
    return render(request, template, context)


@login_required
def my_chart_csv(request, slug, key):
    practice, _form, period, panel_list = _my_page(request, slug)
    return _panel_csv(request, practice, period, panel_list, key)


@login_required
def my_dyad(request, slug, dyad_id):
    practice = selectors.practice_for(request.user, slug, Role.CLINICIAN)
    dyad = selectors.clinician_dyad(request.user, practice, dyad_id)
    with use_replica():
        waves = queries.dyad_waves(dyad)
    return render(request, "surveys/my_dyad.html", {"practice": practice, "dyad": dyad, "waves": waves})


def _panel_csv(request, practice, period, panel_list, key) -> HttpResponse:
    panel = next((p for p in panel_list if p.key == key), None)
    if panel is None:
        raise Http404("No such chart.")
    filename = f"{practice.slug}-{key}-{period.start}-{period.end}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.writelines(panels.release_table(panel, practice, period, request=request))
    return response
