"""The questionnaire journeys over HTTP with Django's test client: every bad input, nothing lost."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.models import Answer, Invitation, Response
from tests import factories


def patient_url(new_visit, **params):
    url = reverse("patient_questionnaire", args=[new_visit.patient_token])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.fixture
def answers(visit_a):
    return factories.full_answers(factories.patient_invitation(visit_a))


class TestPatientQuestionnaire:
    def test_it_renders_one_radio_group_per_item_grouped_by_domain(self, client, visit_a, answers):
        response = client.get(patient_url(visit_a))
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('<fieldset class="domain') == 6
        for code in answers:
            assert f'name="{code}" value="1"' in html and f'name="{code}" value="5"' in html
        assert "0 of 21 answered" in html

    def test_it_offers_does_not_apply_only_where_the_item_allows_it(self, client, visit_a):
        invitation = factories.patient_invitation(visit_a)
        allowed = set(invitation.instrument_version.items.filter(allow_na=True).values_list("code", flat=True))
        html = client.get(patient_url(visit_a)).content.decode()
        assert allowed
        for code in invitation.instrument_version.items.values_list("code", flat=True):
            assert (f'name="{code}" value="na"' in html) == (code in allowed)

    def test_it_sends_no_referrer_and_no_store(self, client, visit_a):
        response = client.get(patient_url(visit_a))
        assert response["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response["Cache-Control"]

    def test_it_records_when_the_link_was_first_opened(self, client, visit_a):
        client.get(patient_url(visit_a))
        first = factories.patient_invitation(visit_a).opened_at
        client.get(patient_url(visit_a))
        assert first is not None
        assert factories.patient_invitation(visit_a).opened_at == first

    def test_it_speaks_spanish_when_asked(self, client, visit_a):
        html = client.get(patient_url(visit_a, lang="es")).content.decode()
        assert "Totalmente de acuerdo" in html
        assert 'lang="es"' in html

    def test_it_takes_the_language_from_the_browser(self, client, visit_a):
        html = client.get(patient_url(visit_a), HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9").content.decode()
        assert "Totalmente de acuerdo" in html

    def test_it_saves_a_complete_response_and_thanks_the_patient(self, client, visit_a, answers):
        response = client.post(patient_url(visit_a), {**answers, "comment": "Kind and clear."})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("survey_thanks"))
        saved = Response.objects.get(visit=visit_a.visit, respondent="patient")
        assert saved.comment == "Kind and clear."
        assert saved.answers.count() == len(answers)
        assert saved.scores.count() == 6
        thanks = client.get(response["Location"])
        assert b"Thank you" in thanks.content

    def test_it_thanks_in_spanish_after_a_spanish_questionnaire(self, client, visit_a, answers):
        response = client.post(patient_url(visit_a), {**answers, "lang": "es"}, follow=True)
        assert "Gracias" in response.content.decode()

    @pytest.mark.parametrize(
        "change, message",
        [
            ({"P01": None}, "Please choose an answer."),
            ({"P01": "6"}, "Please choose one of the answers shown."),
            ({"P01": "0"}, "Please choose one of the answers shown."),
            ({"P01": "abc"}, "Please choose one of the answers shown."),
            ({"P01": "2.5"}, "Please choose one of the answers shown."),
            ({"P01": "na"}, "Please choose one of the answers shown."),
            ({"P99": "3"}, "does not have"),
            ({"comment": "x" * 2001}, "under 2000 characters"),
        ],
    )
    def test_it_re_renders_bad_input_with_a_message_and_saves_nothing(self, client, visit_a, answers, change, message):
        data = {**answers, **change}
        data = {k: v for k, v in data.items() if v is not None}
        response = client.post(patient_url(visit_a), data)
        assert response.status_code == 400
        html = response.content.decode()
        assert message in html
        assert "Nothing was saved yet" in html
        assert not Response.objects.exists()
        assert not Answer.objects.exists()
        assert factories.patient_invitation(visit_a).used_at is None

    def test_it_keeps_the_answers_given_when_it_re_renders(self, client, visit_a, answers):
        answers.pop("P21")
        answers["P02"] = "2"
        html = client.post(patient_url(visit_a), answers).content.decode()
        assert 'name="P02" value="2" id="id_P02_1" checked' in html
        assert 'id="P21-error"' in html

    def test_it_refuses_a_second_submission_with_a_clear_page(self, client, visit_a, answers):
        client.post(patient_url(visit_a), answers)
        again = client.post(patient_url(visit_a), {**answers, "P01": "1"})
        assert again.status_code == 409
        assert b"already completed" in again.content
        assert Response.objects.count() == 1
        assert Response.objects.get().answers.get(item__code="P01").value == int(answers["P01"])

    def test_a_used_link_shows_already_completed_on_get(self, client, visit_a, answers):
        client.post(patient_url(visit_a), answers)
        response = client.get(patient_url(visit_a))
        assert response.status_code == 409
        assert b"already completed" in response.content

    def test_an_expired_link_shows_a_clear_page_and_saves_nothing(self, client, visit_a, answers):
        Invitation.objects.filter(visit=visit_a.visit).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert client.get(patient_url(visit_a)).status_code == 410
        response = client.post(patient_url(visit_a), answers)
        assert response.status_code == 410
        assert b"expired" in response.content
        assert not Response.objects.exists()

    @pytest.mark.parametrize(
        "token",
        ["unknown-token-that-is-long-enough-0000000000", "x", "a" * 500, "%00%ff", "' OR 1=1 --"],
    )
    def test_an_unknown_link_shows_a_clear_page(self, client, instruments, token):
        response = client.get(f"/s/{token}/")
        assert response.status_code == 404
        assert b"could not find this questionnaire" in response.content

    def test_a_path_outside_the_questionnaire_routes_is_a_plain_404(self, client, instruments):
        response = client.get("/s/..%2f..%2fetc/")
        assert response.status_code == 404
        assert b"could not find this page" in response.content

    def test_an_unknown_link_saves_nothing_on_post(self, client, instruments):
        response = client.post("/s/unknown-token-that-is-long-enough-0000000000/", {"P01": "3"})
        assert response.status_code == 404
        assert not Response.objects.exists()

    def test_it_rejects_other_methods(self, client, visit_a):
        assert client.put(patient_url(visit_a)).status_code == 405

    def test_the_qr_code_is_an_svg_of_the_link(self, client, visit_a):
        response = client.get(reverse("patient_qr", args=[visit_a.patient_token]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        assert response.content.startswith(b"<svg")

    def test_a_used_link_has_no_qr_code(self, client, visit_a, answers):
        client.post(patient_url(visit_a), answers)
        assert client.get(reverse("patient_qr", args=[visit_a.patient_token])).status_code == 404

    def test_the_csrf_token_is_required(self, visit_a, answers):
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        assert strict.post(patient_url(visit_a), answers).status_code == 403
        assert not Response.objects.exists()


class TestClinicianQuestionnaire:
    def url(self, new_visit):
        return reverse("clinician_questionnaire", args=[new_visit.visit.pk])

    def test_it_requires_sign_in(self, client, visit_a):
        response = client.get(self.url(visit_a))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_the_visits_clinician_sees_it_listed_and_fills_it(self, client, clinician_a, visit_a):
        client.force_login(clinician_a)
        listing = client.get(reverse("clinician_home")).content.decode()
        assert self.url(visit_a) in listing
        answers = factories.full_answers(factories.clinician_invitation(visit_a), 5)
        response = client.post(self.url(visit_a), answers)
        assert response.status_code == 302
        saved = Response.objects.get(visit=visit_a.visit, respondent="clinician")
        assert saved.scores.count() == 10
        assert self.url(visit_a) not in client.get(reverse("clinician_home")).content.decode()

    @pytest.mark.parametrize("who", ["clinician_a2", "clinician_b", "manager_a", "manager_b"])
    def test_anyone_else_gets_404(self, client, request, visit_a, who):
        client.force_login(request.getfixturevalue(who))
        assert client.get(self.url(visit_a)).status_code == 404
        answers = factories.full_answers(factories.clinician_invitation(visit_a))
        assert client.post(self.url(visit_a), answers).status_code == 404
        assert not Response.objects.exists()

    def test_an_unknown_visit_is_404(self, client, clinician_a, instruments):
        client.force_login(clinician_a)
        assert client.get(reverse("clinician_questionnaire", args=[999999])).status_code == 404

    def test_bad_input_re_renders_and_saves_nothing(self, client, clinician_a, visit_a):
        client.force_login(clinician_a)
        answers = factories.full_answers(factories.clinician_invitation(visit_a))
        answers["C01"] = "7"
        response = client.post(self.url(visit_a), answers)
        assert response.status_code == 400
        assert b"Please choose one of the answers shown." in response.content
        assert not Response.objects.exists()

    def test_a_second_submission_is_refused(self, client, clinician_a, visit_a):
        client.force_login(clinician_a)
        answers = factories.full_answers(factories.clinician_invitation(visit_a))
        client.post(self.url(visit_a), answers)
        assert client.post(self.url(visit_a), answers).status_code == 409
        assert Response.objects.count() == 1


class TestHome:
    def test_anonymous_visitors_see_the_landing_page(self, client, instruments):
        response = client.get("/")
        assert response.status_code == 200
        assert reverse("login").encode() in response.content

    def test_clinicians_land_on_their_questionnaires(self, client, clinician_a):
        client.force_login(clinician_a)
        assert client.get("/")["Location"] == reverse("clinician_home")

    def test_managers_land_on_their_practice(self, client, manager_a, practice_a):
        client.force_login(manager_a)
        assert client.get("/")["Location"] == reverse("practice_dashboard", args=[practice_a.slug])

    def test_a_manager_cannot_open_another_practice(self, client, manager_a, practice_b):
        client.force_login(manager_a)
        assert client.get(reverse("practice_dashboard", args=[practice_b.slug])).status_code == 404

    def test_a_clinician_cannot_open_the_practice_page(self, client, clinician_a, practice_a):
        client.force_login(clinician_a)
        assert client.get(reverse("practice_dashboard", args=[practice_a.slug])).status_code == 404

    def test_sign_in_works_with_the_crispy_form(self, client, clinician_a):
        response = client.post(reverse("login"), {"username": "clin-a", "password": factories.PASSWORD})
        assert response.status_code == 302
        bad = client.post(reverse("login"), {"username": "clin-a", "password": "wrong"})
        assert bad.status_code == 200
        assert b"Please enter a correct username and password" in bad.content


class TestNoReferrerCsrf:
    """Survey pages send no referrer, so browsers post them with `Origin: null`: the token must still decide."""

    def _csrf_client(self, url):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.get(url)
        return client, client.cookies["csrftoken"].value

    def test_a_null_origin_with_the_token_is_accepted(self, visit_a, answers):
        url = patient_url(visit_a)
        client, token = self._csrf_client(url)
        response = client.post(url, {**answers, "csrfmiddlewaretoken": token}, HTTP_ORIGIN="null")
        assert response.status_code == 302
        assert Response.objects.count() == 1

    def test_a_null_origin_without_the_token_is_refused(self, visit_a, answers):
        url = patient_url(visit_a)
        client, _token = self._csrf_client(url)
        assert client.post(url, answers, HTTP_ORIGIN="null").status_code == 403
        assert not Response.objects.exists()

    def test_a_foreign_origin_is_refused_even_with_the_token(self, visit_a, answers):
        url = patient_url(visit_a)
        client, token = self._csrf_client(url)
        response = client.post(url, {**answers, "csrfmiddlewaretoken": token}, HTTP_ORIGIN="https://evil.example")
        assert response.status_code == 403
        assert not Response.objects.exists()

    def test_sign_in_pages_keep_the_default_referrer_policy(self, client, instruments):
        assert b'name="referrer"' not in client.get(reverse("login")).content


class TestStaticFiles:
    """The web process serves our own copies of Bootstrap, htmx and plotly.js (no CDN, no file server)."""

    @pytest.mark.parametrize(
        "path",
        [
            "/static/vendor/bootstrap/bootstrap.min.css",
            "/static/vendor/htmx/htmx.min.js",
            "/static/vendor/plotly/plotly.min.js",
            "/static/js/questionnaire.js",
        ],
    )
    def test_it_serves_the_vendored_assets(self, client, path):
        response = client.get(path)
        assert response.status_code == 200
        assert b"".join(response.streaming_content)[:1]


def test_a_patient_link_without_its_slash_goes_on_with_the_survey_headers(client, visit_a):
    response = client.get(f"/s/{visit_a.patient_token}")
    assert response.status_code == 302
    assert response["Location"] == f"/s/{visit_a.patient_token}/"
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


def test_every_page_has_an_icon_and_favicon_ico_finds_it(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/img/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
