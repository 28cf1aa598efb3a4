"""Views: parse the request, call a selector or a service, render. Nothing else."""

from __future__ import annotations

import functools

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from measurement.instruments import localized, spec_for_version
from plumbing.csrf import csrf_protect_no_referrer
from plumbing.ratelimit import limit_patient_links
from surveys import selectors, services
from surveys.models import Respondent, Role
from surveys.permissions import is_platform_admin, memberships, practices_for
from surveys.tokens import hash_token

from .forms import QuestionnaireForm

SURVEY_LANGUAGES = ("en", "es")


def survey_page(view):
    """Questionnaire pages carry a secret in their URL: never cache them, never leak them as a referrer."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _survey_language(request) -> str:
    asked = request.POST.get("lang") or request.GET.get("lang") or translation.get_language() or "en"
    asked = asked.split("-")[0].lower()
    return asked if asked in SURVEY_LANGUAGES else "en"


def home(request):
    """Take each person where they work."""
    if not request.user.is_authenticated:
        return render(request, "surveys/landing.html")
    roles = {m.role for m in memberships(request.user)}
    if Role.MANAGER in roles or is_platform_admin(request.user):
        practice = practices_for(request.user, Role.MANAGER).first()
        if practice:
            return redirect("practice_dashboard", slug=practice.slug)
    if Role.CLINICIAN in roles:
        return redirect("clinician_home")
    return render(request, "surveys/no_role.html")


@csrf_protect_no_referrer
@survey_page
@limit_patient_links
@require_http_methods(["GET", "POST"])
def patient_questionnaire(request, token):
    invitation = selectors.invitation_for_token(token)
    language = _survey_language(request)
    with translation.override(language):
        state = selectors.invitation_state(invitation)
        if state != "open":
            return _unavailable(request, state, language)
        return _questionnaire(
            request,
            invitation,
            language,
            success_url=f"{reverse('survey_thanks')}?lang={language}",
            context={"draft_key": hash_token("draft:" + token)[:16]},
        )


@login_required
@require_http_methods(["GET", "POST"])
def clinician_questionnaire(request, visit_id):
    invitation = selectors.clinician_invitation(request.user, visit_id)
    language = _survey_language(request)
    with translation.override(language):
        state = selectors.invitation_state(invitation)
        if state != "open":
            return _unavailable(request, state, language)
        return _questionnaire(
            request,
            invitation,
            language,
            success_url=reverse("clinician_home"),
            context={"visit": invitation.visit, "draft_key": f"visit-{invitation.visit_id}"},
        )


def _questionnaire(request, invitation, language, success_url, context):
    spec = spec_for_version(invitation.instrument_version)
    form = QuestionnaireForm(spec, language, data=request.POST if request.method == "POST" else None)
    if request.method == "GET":
        services.mark_opened(invitation)
    elif form.is_valid():
        try:
            services.submit_response(
                invitation, form.answers(), comment=form.cleaned_data["comment"], language=language,
                shared=form.shared, casemix=form.casemix(),
            )
        except services.InvitationUnavailable as exc:
            return _unavailable(request, exc.reason, language)
        except services.InvalidAnswers as exc:
            for code, message in exc.errors.items():
                form.add_error(code if code in form.fields else None, message)
        else:
            return redirect(success_url)
    status = 400 if form.is_bound else 200
    people = selectors.visit_people(invitation.visit)  # named on the page, not needed to save
    form.name_clinician(people.clinician)
    context = {
        **context,
        "form": form,
        "spec": spec,
        "title": localized(spec.title, language),
        "intro": localized(spec.intro, language),
        "language": language,
        "other_language": "es" if language == "en" else "en",
        "people": people,
        "min_n": people.min_n,
    }
    return render(request, "surveys/questionnaire.html", context, status=status)


def _unavailable(request, state, language):
    status = {"unknown": 404, "used": 409, "expired": 410}.get(state, 400)
    return render(request, "surveys/unavailable.html", {"state": state, "language": language}, status=status)


@survey_page
def patient_link_without_slash(request, token):
    """A patient link typed or pasted without its last slash: sent on to the questionnaire with the survey pages'
    headers (never cached, no referrer), not by CommonMiddleware's plain redirect, which carried neither."""
    return redirect("patient_questionnaire", token=token)


@survey_page
def survey_thanks(request):
    language = _survey_language(request)
    with translation.override(language):
        return render(request, "surveys/thanks.html", {"language": language})


@survey_page
@limit_patient_links
def patient_qr(request, token):
    """The patient link as an SVG QR code, for cards printed at the front desk."""
    if selectors.invitation_state(selectors.invitation_for_token(token)) != "open":
        return HttpResponse(status=404)
    url = request.build_absolute_uri(reverse("patient_questionnaire", args=[token]))
    svg = segno.make(url, error="m").svg_inline(scale=4, title="Questionnaire link")
    return HttpResponse(svg, content_type="image/svg+xml")


@login_required
def clinician_home(request):
    visits = selectors.clinician_visits(request.user)[:100]
    pending = [v for v in visits if _open_clinician_invitation(v)]
    practices = practices_for(request.user, Role.CLINICIAN)
    return render(request, "surveys/clinician_home.html", {"pending": pending, "visits": visits, "practices": practices})


def _open_clinician_invitation(visit):
    return next(
        (
            i
            for i in visit.invitations.all()
            if i.respondent == Respondent.CLINICIAN and selectors.invitation_state(i) == "open"
        ),
        None,
    )
