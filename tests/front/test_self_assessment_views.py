"""The clinician's side of issue 14: the periodic self-assessment from the home page, and a confirmation after
sending a questionnaire."""

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import SelfAssessment
from tests import factories

ANSWERS = {f"S0{i}": "4" for i in range(1, 9)}


@pytest.fixture
def clinician(client, clinician_a, competencies):
    client.force_login(clinician_a)
    return client


def url(practice):
    return reverse("self_assessment", args=[practice.slug])


def test_the_home_page_offers_the_self_assessment_while_it_is_due(clinician, practice_a, clinician_a):
    html = clinician.get(reverse("clinician_home")).content.decode()
    assert "data-self-assessment-due" in html and url(practice_a) in html
    services.submit_self_assessment(practice_a, clinician_a, ANSWERS)
    assert "data-self-assessment-due" not in clinician.get(reverse("clinician_home")).content.decode()


def test_the_form_shows_the_eight_competency_items(clinician, practice_a):
    response = clinician.get(url(practice_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert all(f'name="{code}"' in html for code in ANSWERS) and "data-self-assessment" in html
    assert 'name="share"' not in html


def test_sending_it_saves_it_and_confirms(clinician, practice_a, clinician_a):
    response = clinician.post(url(practice_a), ANSWERS, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you: your self-assessment is saved." in html and "data-self-assessment-done" in html
    assert "The next one is due from" in html
    assert SelfAssessment.objects.get().clinician == clinician_a


def test_a_second_post_saves_nothing_more(clinician, practice_a):
    clinician.post(url(practice_a), ANSWERS)
    response = clinician.post(url(practice_a), {**ANSWERS, "S01": "1"}, follow=True)
    assert response.status_code == 200 and SelfAssessment.objects.count() == 1
    assert SelfAssessment.objects.get().answers["S01"] == 4


def test_missing_answers_are_400_and_nothing_is_saved(clinician, practice_a):
    response = clinician.post(url(practice_a), {"S01": "4"})
    assert response.status_code == 400 and b"Please choose an answer." in response.content
    assert not SelfAssessment.objects.exists()


def test_it_speaks_spanish(clinician, practice_a):
    html = clinician.get(url(practice_a), {"lang": "es"}).content.decode()
    assert "autoevaluación" in html.lower() and "Solo usted ve sus respuestas" in html


@pytest.mark.parametrize("who", ["manager_a", "clinician_b"])
def test_it_checks_the_practice(client, practice_a, competencies, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url(practice_a)).status_code == 404
    assert client.post(url(practice_a), ANSWERS).status_code == 404
    assert not SelfAssessment.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, practice_a, competencies):
    assert client.get(url(practice_a)).status_code == 302


def test_the_per_visit_clinician_questionnaire_confirms_it_was_saved(client, practice_a, clinician_a):
    new = factories.visit(practice_a, clinician_a, "PA-77")
    invitation = factories.clinician_invitation(new)
    client.force_login(clinician_a)
    response = client.post(
        reverse("clinician_questionnaire", args=[new.visit.pk]), factories.full_answers(invitation), follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("clinician_home")
    assert f"Thank you: your questionnaire about patient PA-77 (visit on {new.visit.date.isoformat()}) is saved." in (
        response.content.decode()
    )
