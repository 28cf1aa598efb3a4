"""The psychometrics page: each domain's item figures per questionnaire version and language, for platform admins."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import get_language

from figures import psychometrics
from plumbing.routers import use_replica
from surveys.permissions import may_see_psychometrics, practices_for

from .psychometrics_forms import PsychometricsForm


@login_required
def psychometrics_page(request):
    if not may_see_psychometrics(request.user):
        raise Http404("No such page.")  # as for any page a role may not open
    form = PsychometricsForm(request.GET or None, practices=list(practices_for(request.user).order_by("name")))
    practice, period = form.chosen()
    tables = []
    if practice is not None:
        with use_replica():
            groups = psychometrics.psychometrics(practice, period)
        tables = psychometrics.tables(groups, psychometrics.release_threshold(None), get_language() or "en")
    context = {"form": form, "practice": practice, "period": period, "tables": tables,
               "threshold": psychometrics.release_threshold(None)}
    return render(request, "surveys/psychometrics.html", context)
