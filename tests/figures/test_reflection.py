"""Something to reflect on, on "My relationships": shown for the clinician's weakest reliable domain, never for an
unreliable one, never from a figure the page hides, in the page's language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from measurement.instruments import spec_for_version
from measurement.reflection import suggestions_for
from surveys import services
from tests import factories

REFLECTION = 'data-reflection="'


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False


@pytest.fixture
def practice(instruments):
    return services.create_practice("reflecting", "Reflecting Practice", 5)[0]


def answer_dyads(practice, clinician, count: int, scores: dict[str, int], default: int):
    """`count` dyads of the clinician, each patient scoring every item of a domain at `scores[domain]` (1-5 after
    reverse keying), `default` elsewhere; in the latest closed quarter, the one the page shows."""
    with factories.in_closed_quarter():
        for i in range(count):
            new = factories.visit(practice, clinician, f"{clinician.username}-{i}")
            invitation = new.visit.invitations.get(respondent="patient")
            spec = spec_for_version(invitation.instrument_version)
            answers = {}
            for item in spec.items:
                value = scores.get(item.domain, default)
                answers[item.code] = str(6 - value if item.reverse else value)
            services.submit_response(invitation, answers)


def page_for(user, practice, **headers):
    client = Client()
    client.force_login(user)
    response = client.get(reverse("my_relationships", args=[practice.slug]), **headers)
    assert response.status_code == 200
    return response


def test_nothing_is_suggested_when_no_figure_is_reliable(practice):
    ana, ben = (factories.member(practice, name, "clinician") for name in ("ana", "ben"))
    # Clinicians whose patients answer alike: ICC(1) is 0, so no clinician's mean is reliable enough to compare.
    answer_dyads(practice, ana, 6, {}, 4)
    answer_dyads(practice, ben, 6, {}, 4)
    response = page_for(ana, practice)
    assert response.context["reflection"] is None
    assert REFLECTION not in response.content.decode()
    assert "Something to reflect on" not in response.content.decode()


def test_the_weakest_reliable_domain_is_shown_with_its_suggestions(practice):
    ana, ben = (factories.member(practice, name, "clinician") for name in ("ana", "ben"))
    # Ana's patients rate valuing at 3 (50) and everything else at 5 (100); Ben's rate everything at 4 (75).
    # Clinicians differ and their patients agree: every figure is reliable, and Ana's valuing is 12.5 below the
    # practice (62.5) while her other domains are 12.5 above it.
    answer_dyads(practice, ana, 6, {"valuing": 3}, 5)
    answer_dyads(practice, ben, 6, {}, 4)
    response = page_for(ana, practice)
    reflection = response.context["reflection"]
    assert reflection.domain == "valuing"
    assert reflection.standing.difference == pytest.approx(-12.5)
    html = response.content.decode()
    assert REFLECTION + 'valuing"' in html
    assert "is where you stand lowest against the practice: 50.0 against the practice's 62.5" in html
    for suggestion in suggestions_for("valuing"):
        assert suggestion.text["en"].replace("'", "&#x27;") in html
    # Ben stands lowest on every domain but valuing (75 against 87.5), and on valuing above (75 against 62.5).
    assert page_for(ben, practice).context["reflection"].domain != "valuing"


def test_it_is_shown_in_spanish(practice):
    ana, ben = (factories.member(practice, name, "clinician") for name in ("ana", "ben"))
    answer_dyads(practice, ana, 6, {"hope": 2}, 5)
    answer_dyads(practice, ben, 6, {}, 4)
    html = page_for(ana, practice, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Algo para reflexionar" in html
    assert "es donde usted queda más bajo frente al consultorio" in html
    for suggestion in suggestions_for("hope"):
        assert suggestion.text["es"] in html and suggestion.text["en"] not in html


def test_a_hidden_figure_is_never_the_reason(practice):
    ana, ben = (factories.member(practice, name, "clinician") for name in ("ana", "ben"))
    # Ana has 4 dyads, below the practice's minimum of 5: her figures are hidden from her page, so nothing may be
    # said about them, however reliable.
    answer_dyads(practice, ana, 4, {"valuing": 1}, 5)
    answer_dyads(practice, ben, 8, {}, 3)
    response = page_for(ana, practice)
    assert response.context["reflection"] is None
    assert REFLECTION not in response.content.decode()
