"""The patient form's optional "About you" section (case mix): offered, skippable, saved once with the response."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from surveys import services
from surveys.models import CaseMix, Response
from tests import factories

ABOUT = {
    "age_band": "65_74",
    "education": "some_college",
    "general_health": "very_good",
    "mental_health": "good",
    "time_with_clinician": "1_to_5_years",
}


def patient_url(new_visit, **params):
    url = reverse("patient_questionnaire", args=[new_visit.patient_token])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.fixture
def answers(visit_a):
    return factories.full_answers(factories.patient_invitation(visit_a))


def test_the_form_ends_with_an_optional_about_you_section(client, visit_a):
    html = client.get(patient_url(visit_a)).content.decode()
    assert "About you (optional)" in html
    assert html.index('data-casemix') > html.index('name="P21"')
    assert html.index('data-casemix') < html.index("data-submit")
    for name, value in ABOUT.items():
        assert f'name="{name}" value="{value}"' in html
        assert f'name="{name}" value="skip"' in html  # prefer not to say
    assert "Prefer not to say" in html
    assert "How old are you?" in html
    # Not part of the questionnaire's count, and nothing is ticked for the patient.
    assert "0 of 21 answered" in html
    about_you = html[html.index("data-casemix"):html.index("data-submit")]
    assert "checked" not in about_you


def test_it_speaks_spanish(client, visit_a):
    html = client.get(patient_url(visit_a, lang="es")).content.decode()
    assert "Sobre usted (opcional)" in html
    assert "¿Qué edad tiene?" in html
    assert "Prefiero no decirlo" in html
    assert "Muy buena" in html


def test_skipping_every_question_submits_and_saves_no_case_mix(client, visit_a, answers):
    response = client.post(patient_url(visit_a), answers)
    assert response.status_code == 302
    assert Response.objects.filter(visit=visit_a.visit).count() == 1
    assert not CaseMix.objects.exists()


def test_prefer_not_to_say_is_a_skip(client, visit_a, answers):
    response = client.post(patient_url(visit_a), {**answers, **{name: "skip" for name in ABOUT}, "age_band": "18_34", "education": ""})
    assert response.status_code == 302
    saved = CaseMix.objects.get()
    assert saved.age_band == "18_34"
    assert saved.education is None and saved.general_health is None and saved.time_with_clinician is None


def test_the_answers_are_saved_once_with_the_response_and_never_scored(client, visit_a, answers):
    response = client.post(patient_url(visit_a), {**answers, **ABOUT})
    assert response.status_code == 302
    saved = Response.objects.get(visit=visit_a.visit, respondent="patient")
    about = CaseMix.objects.get()
    assert about.response_id == saved.pk
    assert {name: getattr(about, name) for name in ABOUT} == ABOUT
    assert saved.scores.count() == 6 and saved.answers.count() == len(answers)  # no item, no score of its own
    again = client.post(patient_url(visit_a), {**answers, **ABOUT, "age_band": "18_34"})
    assert again.status_code == 409
    assert CaseMix.objects.count() == 1 and CaseMix.objects.get().age_band == "65_74"


def test_an_answer_not_offered_re_renders_and_saves_nothing(client, visit_a, answers):
    response = client.post(patient_url(visit_a), {**answers, "age_band": "12_17"})
    assert response.status_code == 400
    assert "Please choose one of the answers shown." in response.content.decode()
    assert not Response.objects.exists() and not CaseMix.objects.exists()


def test_a_missing_item_keeps_the_about_you_answers_on_the_page(client, visit_a, answers):
    answers.pop("P01")
    html = client.post(patient_url(visit_a), {**answers, "education": "high_school"}).content.decode()
    assert 'value="high_school" id="id_education_3" checked' in html
    assert not CaseMix.objects.exists()


def test_the_clinician_form_does_not_ask_about_the_patient(client, clinician_a, visit_a):
    client.force_login(clinician_a)
    html = client.get(reverse("clinician_questionnaire", args=[visit_a.visit.pk])).content.decode()
    assert "data-casemix" not in html
    invitation = factories.clinician_invitation(visit_a)
    with pytest.raises(services.InvalidAnswers):
        services.submit_response(invitation, factories.full_answers(invitation), casemix={"age_band": "65_74"})


def test_the_service_refuses_unknown_questions_and_answers_before_writing(visit_a):
    invitation = factories.patient_invitation(visit_a)
    for bad in ({"shoe_size": "9"}, {"general_health": "splendid"}):
        with pytest.raises(services.InvalidAnswers):
            services.submit_response(invitation, factories.full_answers(invitation), casemix=bad)
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_an_answer_outside_the_choices(visit_a):
    invitation = factories.patient_invitation(visit_a)
    response = services.submit_response(invitation, factories.full_answers(invitation))
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseMix.objects.create(response=response, age_band="12_17")
