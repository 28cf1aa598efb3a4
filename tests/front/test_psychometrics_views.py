"""The psychometrics page: platform admins only, linked from their navigation, in English and Spanish."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tests import factories

pytestmark = pytest.mark.django_db

URL = "/psychometrics/"


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_user("staff", password=factories.PASSWORD, is_staff=True)


@pytest.fixture
def answered(practice_a, clinician_a):
    rng = random.Random(9)
    for i in range(31):
        factories.correlated_answers(practice_a, clinician_a, f"EN-{i}", rng)
    for i in range(4):
        factories.correlated_answers(practice_a, clinician_a, f"ES-{i}", rng, "es")
    return practice_a


def test_the_url_is_named():
    assert reverse("psychometrics") == URL


def test_it_shows_each_domain_per_version_and_language_to_a_platform_admin(client, admin, answered):
    client.force_login(admin)
    response = client.get(URL, {"practice": answered.slug})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Questionnaire “patient” 1.0, English: 31 responses" in html
    assert "Questionnaire “patient” 1.0, Spanish: 4 responses" in html
    assert html.count("95% interval") >= 6  # each English domain's caption, and the key
    assert "4 complete responses, fewer than 30: not shown." in html
    assert "at 100: " in html
    assert "How consistently the items of a domain agree; 0.7–0.9 is the usual aim." in html
    english = [t for t in response.context["tables"] if t.language == "en"]
    assert len(english) == 6
    assert all(t.shown == (t.complete >= 30) and (t.alpha is not None) == t.shown for t in english)
    # P08 (sharing power) "does not apply" now and then leaves that domain short of complete responses.
    assert {t.domain for t in english if not t.shown} == {"power"}
    assert not any(t.shown for t in response.context["tables"] if t.language == "es")


def test_it_is_spanish_for_a_spanish_speaker(client, admin, answered):
    client.force_login(admin)
    with translation.override("es"):
        response = client.get(URL, {"practice": answered.slug}, HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert "Psicometría" in html
    assert "Con qué coherencia concuerdan los ítems de un dominio" in html


@pytest.mark.parametrize("who", ["manager_a", "clinician_a"])
def test_it_is_not_there_for_managers_and_clinicians(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 404


def test_it_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_navigation_links_it_for_platform_admins_only(client, admin, manager_a):
    client.force_login(manager_a)
    assert URL not in client.get(reverse("practice_dashboard", args=[manager_a.memberships.first().practice.slug])).content.decode()
    client.force_login(admin)
    assert f'href="{URL}"' in client.get(URL).content.decode()


def test_a_wrong_period_falls_back_to_the_last_year(client, admin, answered):
    client.force_login(admin)
    response = client.get(URL, {"practice": answered.slug, "start": "2026-05-01", "end": "2020-01-01"})
    assert response.status_code == 200
    assert response.context["period"] == response.context["form"].default


def test_it_costs_the_same_queries_with_more_responses(client, admin, practice_a, clinician_a):
    client.force_login(admin)
    rng = random.Random(2)
    factories.correlated_answers(practice_a, clinician_a, "Q-0", rng)
    with CaptureQueriesContext(connection) as small:
        client.get(URL, {"practice": practice_a.slug})
    for i in range(1, 12):
        factories.correlated_answers(practice_a, clinician_a, f"Q-{i}", rng, "es" if i % 2 else "en")
    with CaptureQueriesContext(connection) as large:
        client.get(URL, {"practice": practice_a.slug})
    assert len(small) == len(large)
