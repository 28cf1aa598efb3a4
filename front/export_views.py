"""The research exports page: a period, and the files researchers use (docs/exports.md).

Who may do what:
- the page, the codebook and the REDCap dictionaries: managers of the practice and platform admins
  (anyone else 404; anonymous visitors are sent to sign in);
- the row-level files (answers.csv, responses.csv, responses.sav and the ZIP): platform admins only.
  One row per answer or response, with the clinician named, lets anyone rebuild every clinician-level
  figure, including the ones docs/measurement.md suppresses below the practice's minimum for everyone but platform
  admins; and the practice itself can put a name to each patient reference. So these files are treated
  like `export_scores`, the admin export. A manager sees why on the page and gets 403 from the URLs.

Every download is audit-logged (Action.EXPORT, kind = the file's name) before a byte is sent.
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from interchange.research import exports as research
from plumbing.period import Period, PeriodForm
from surveys import selectors
from surveys.models import Role
from surveys.permissions import may_see_row_level

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "sav": "application/x-spss-sav", "zip": "application/zip"}


class ExportPeriodForm(PeriodForm):
    start = forms.DateField(label=_("Submitted from"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("to (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = Period.last_days(365)
        self.fields["start"].initial, self.fields["end"].initial = default.start, default.end
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.layout = Layout(
            Row(
                Column("start", css_class="col-sm-4"),
                Column("end", css_class="col-sm-4"),
                Column(Submit("show", _("Choose period"), css_class="mt-sm-4"), css_class="col-sm-4"),
            )
        )

    def period(self) -> Period | None:
        """The period asked for; the last twelve months when nothing was asked; None when it is wrong."""
        if not self.is_bound:
            return Period.last_days(365)
        if not self.is_valid():
            return None
        return Period(self.cleaned_data["start"], self.cleaned_data["end"])


def _period_form(request) -> ExportPeriodForm:
    return ExportPeriodForm(request.GET if {"start", "end"} & set(request.GET) else None)


@login_required
@require_GET
def exports_page(request, slug):
    practice = selectors.practice_for(request.user, slug, Role.MANAGER)
    return _page(request, practice, _period_form(request))


def _page(request, practice, form: ExportPeriodForm):
    period = form.period()
    rows_allowed = may_see_row_level(request.user)
    counts = None
    if period and rows_allowed:
        counts = {
            "responses": research.period_responses(practice, period).count(),
            "answers": research.period_answers(practice, period).count(),
        }
    context = {
        "practice": practice,
        "form": form,
        "period": period,
        "rows_allowed": rows_allowed,
        "counts": counts,
        "redcap": [
            (research.redcap_filename(spec), f"{spec.slug}-{spec.version}") for spec in research.instrument_specs()
        ],
    }
    return render(request, "surveys/exports/index.html", context, status=200 if period else 400)


@login_required
@require_GET
def download(request, slug, name):
    practice = selectors.practice_for(request.user, slug, Role.MANAGER)
    if name in research.ROW_LEVEL_FILES and not may_see_row_level(request.user):
        research.refuse_file(name, practice, request=request)
        raise PermissionDenied("Row-level research exports are for platform admins.")
    if name == research.CODEBOOK_FILE:
        return _attachment(research.release_codebook(practice, request=request), name, f"{practice.slug}-{name}")
    form = _period_form(request)
    period = form.period()
    if period is None:
        return _page(request, practice, form)
    data = research.release_file(name, practice, period, request=request)
    filename = research.download_name(practice, period, name)
    return _attachment(data, name, filename, stream=name == research.ANSWERS_FILE)


@login_required
@require_GET
def redcap_dictionary(request, slug, name):
    practice = selectors.practice_for(request.user, slug, Role.MANAGER)
    spec = next((spec for spec in research.instrument_specs() if f"{spec.slug}-{spec.version}" == name), None)
    if spec is None:
        raise Http404("No such instrument version.")
    filename = research.redcap_filename(spec)
    return _attachment(research.release_redcap_dictionary(spec, practice, request=request), filename, filename)


def _attachment(data, name: str, filename: str, *, stream: bool = False) -> HttpResponse:
    content_type = CONTENT_TYPES[name.rpartition(".")[2]]
    response = (StreamingHttpResponse if stream else HttpResponse)(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Pseudonymous row data: no shared or browser cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response
