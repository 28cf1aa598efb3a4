"""Views: parse the request, call a selector or a service, render. Nothing else."""

from __future__ import annotations

import functools

import segno
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from measurement.instruments import localized, spec_for_version
from plumbing.csrf import csrf_protect_no_referrer
from plumbing.ratelimit import limit_patient_links, limit_short_codes
from surveys import selectors, services
from surveys.models import Respondent, Role
from surveys.permissions import is_platform_admin, memberships, practices_for
from surveys.tokens import normalize_short_code

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
    return _patient_questionnaire(request, selectors.invitation_for_token(token))


@csrf_protect_no_referrer
@survey_page
@limit_short_codes
@require_http_methods(["GET", "POST"])
def patient_short_code(request, code):
    """The questionnaire reached by the short code typed from a QR card (/q/ABCD-EFGH-JKMN): the same page as
    the link's; an unknown code shows the code form again, with a 404 that the code rate limit counts."""
    invitation = selectors.invitation_for_short_code(code)
    if invitation is None:
        language = _survey_language(request)
        with translation.override(language):
            return render(request, "surveys/short_code.html", {"not_found": True, "language": language}, status=404)
    return _patient_questionnaire(request, invitation)


@survey_page
@require_http_methods(["GET"])
def short_code_entry(request):
    """Where a patient without a camera types their card's code (the card prints /q/ and the code)."""
    typed = request.GET.get("code", "")
    code = normalize_short_code(typed) if typed else None
    if code is not None:
        return redirect("patient_short_code", code=code)
    language = _survey_language(request)
    with translation.override(language):
        status = 400 if typed else 200
        return render(request, "surveys/short_code.html", {"not_found": bool(typed), "language": language}, status=status)


def _patient_questionnaire(request, invitation):
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
            # Per invitation, whichever link or card opened it, so a draft survives a reprinted card; keyed, so
            # the key says nothing about the invitation to anyone reading this device's storage.
            context={"draft_key": salted_hmac("surveys.draft", str(invitation.pk), algorithm="sha256").hexdigest()[:16]},
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
        visit = invitation.visit
        return _questionnaire(
            request,
            invitation,
            language,
            success_url=reverse("clinician_home"),
            context={"visit": visit, "draft_key": f"visit-{invitation.visit_id}"},
            # Issue 14: after sending, the clinician landed on their list with no word that it was saved.
            confirmation=gettext("Thank you: your questionnaire about patient %(ref)s (visit on %(date)s) is saved.")
            % {"ref": visit.dyad.patient.reference, "date": visit.date.isoformat()},
        )


@login_required
@require_http_methods(["GET", "POST"])
def self_assessment(request, slug):
    """The clinician's periodic competencies self-assessment in one practice: the form while it is due, then what
    was saved and when the next one is due."""
    practice = selectors.practice_for(request.user, slug, Role.CLINICIAN)
    language = _survey_language(request)
    with translation.override(language):
        today = timezone.localdate()
        period = selectors.self_assessment_period(practice, today)
        context = {"practice": practice, "period": period, "next_period": selectors.next_self_assessment_period(practice, today)}
        taken = selectors.self_assessment_taken(request.user, practice, period)
        version = selectors.self_assessment_version()
        if taken is not None or version is None:
            return render(request, "surveys/self_assessment_done.html", {**context, "taken": taken})
        spec = spec_for_version(version)
        form = QuestionnaireForm(spec, language, data=request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.submit_self_assessment(practice, request.user, form.answers(), language=language)
            except services.SelfAssessmentTaken:
                pass  # another tab got there first: the page below shows the saved one
            except services.InvalidAnswers as exc:
                for code, message in exc.errors.items():
                    form.add_error(code if code in form.fields else None, message)
            if not form.errors:
                flash.success(request, gettext("Thank you: your self-assessment is saved."))
                return redirect(f"{reverse('self_assessment', args=[practice.slug])}?lang={language}")
        page = {
            **context,
            "self_assessment": True,
            "form": form,
            "spec": spec,
            "title": localized(spec.title, language),
            "intro": localized(spec.intro, language),
            "language": language,
            "other_language": "es" if language == "en" else "en",
            "draft_key": f"self-{practice.pk}-{period.isoformat()}",
        }
        return render(request, "surveys/questionnaire.html", page, status=400 if form.is_bound else 200)


def _questionnaire(request, invitation, language, success_url, context, confirmation=""):
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
            if confirmation:
                flash.success(request, confirmation)
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


CLINICIAN_ROWS_PER_PAGE = 25


@login_required
def clinician_home(request):
    """Questionnaires still to fill and the visits, each list paged on its own (`todo` and `page`): a clinician
    with hundreds of visits gets pages of 25, not one long list."""
    now = timezone.now()
    todo = Paginator(selectors.clinician_visits_to_answer(request.user, now), CLINICIAN_ROWS_PER_PAGE)
    visits = Paginator(selectors.clinician_visits(request.user), CLINICIAN_ROWS_PER_PAGE)
    visit_page = visits.get_page(request.GET.get("page"))
    rows = [(visit, *_wave_states(visit, now)) for visit in visit_page]
    practices = practices_for(request.user, Role.CLINICIAN)
    context = {
        "pending": todo.get_page(request.GET.get("todo")),
        "visits": visit_page,
        "rows": rows,
        "practices": practices,
        "self_assessments_due": selectors.due_self_assessments(request.user) if selectors.self_assessment_version() else [],
    }
    return render(request, "surveys/clinician_home.html", context)


def _wave_states(visit, now) -> tuple[str, str]:
    """The clinician's and the patient's questionnaire of a visit as `selectors.invitation_status` names them
    ("completed", "open", "opened", "expired"), from the prefetched invitations; "" when a side has none."""
    states = {Respondent.CLINICIAN.value: "", Respondent.PATIENT.value: ""}
    for invitation in visit.invitations.all():
        states[str(invitation.respondent)] = selectors.invitation_status(invitation, now)
    return states[Respondent.CLINICIAN.value], states[Respondent.PATIENT.value]
