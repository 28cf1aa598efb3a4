"""Adjusted means beside raw ones on the practice dashboard (figures.panels.casemix_panel).

Two clinicians with no difference of their own: each patient's answers follow only their age and health, and
ana's patients are mostly older and in excellent health, ben's mostly younger and in fair health. Raw means
differ by many points; adjusted for case mix they are the same.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from figures import panels
from surveys import services
from tests import factories

from .test_practice_figures import scored_as


@pytest.fixture(autouse=True)
def quiet_sign_ins(settings):
    settings.AXES_ENABLED = False


def add_patients(practice, clinician, count: int, *, older_share: int, answered: int | None = None):
    """`count` patients; of every 5, `older_share` are 65-74 in excellent health (they answer 5s: 100), the
    rest 18-34 in fair health (they answer 3s: 50). The first `answered` say so on the form; the rest skip."""
    for i in range(count):
        older = i % 5 < older_share
        new = factories.visit(practice, clinician, f"{clinician.username}-{i}")
        invitation = factories.patient_invitation(new)
        about = {"age_band": "65_74" if older else "18_34", "general_health": "excellent" if older else "fair"}
        given = about if answered is None or i < answered else {}
        services.submit_response(invitation, scored_as(invitation, 5 if older else 3), casemix=given)


def casemix_csv(practice) -> dict[tuple[str, str], dict]:
    client = Client()
    client.force_login(factories.member(practice, "boss", "manager"))
    response = client.get(reverse("practice_chart_csv", args=[practice.slug, "casemix"]))
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    return {(row["Clinician"], row["Domain"]): row for row in rows}


@pytest.fixture
def practice(instruments):
    practice = factories.practice("mixed")
    with factories.in_closed_quarter():
        add_patients(practice, factories.member(practice, "ana", "clinician"), 20, older_share=4)
        add_patients(practice, factories.member(practice, "ben", "clinician"), 20, older_share=1)
    return practice


def test_raw_means_differ_and_adjusted_means_do_not(practice):
    rows = casemix_csv(practice)
    ana, ben = rows[("ana", "Valuing")], rows[("ben", "Valuing")]
    assert float(ana["Mean"]) == pytest.approx(90.0) and float(ben["Mean"]) == pytest.approx(60.0)
    assert float(ana["Adjusted mean"]) == pytest.approx(float(ben["Adjusted mean"]), abs=1e-6)
    # Standardised to the practice's mix (half older and healthy): 50 + 50 * 0.5.
    assert float(ana["Adjusted mean"]) == pytest.approx(75.0)
    assert ana["n"] == "20"


def test_adjusted_means_wait_for_enough_answers(instruments):
    practice = factories.practice("few-answers")
    with factories.in_closed_quarter():
        add_patients(practice, factories.member(practice, "ana", "clinician"), 20, older_share=4, answered=14)
        add_patients(practice, factories.member(practice, "ben", "clinician"), 20, older_share=1, answered=15)
    rows = casemix_csv(practice)
    ana = rows[("ana", "Valuing")]
    assert float(ana["Mean"]) == pytest.approx(90.0)
    assert ana["Adjusted mean"] == "" and ana["Adjusted 95% CI low"] == ""
    assert "too few answers to the optional questions" in ana["Note"]


def test_a_hidden_clinician_is_neither_shown_nor_in_the_model(practice):
    audience = panels.Audience(min_n=5)
    whole = _closed_quarter()
    nothing_hidden = panels.Suppression({}, frozenset())
    before = panels.casemix_fits(practice, whole, nothing_hidden, audience)["valuing"]
    with factories.in_closed_quarter():
        # Three patients (below the practice's minimum of 5), all older and healthy but rating 1s: were they in
        # the model, the age and health coefficients, and so every adjusted mean, would move.
        cai = factories.member(practice, "cai", "clinician")
        for i in range(3):
            invitation = factories.patient_invitation(factories.visit(practice, cai, f"cai-{i}"))
            services.submit_response(invitation, scored_as(invitation, 1),
                                     casemix={"age_band": "65_74", "general_health": "excellent"})
    cai_hidden = panels.Suppression({domain: {cai.pk} for domain in panels.SHARED_DOMAINS}, frozenset())
    after = panels.casemix_fits(practice, whole, cai_hidden, audience)["valuing"]
    assert cai.pk not in after.clinicians
    assert {pk: m.adjusted.estimate for pk, m in after.clinicians.items()} == pytest.approx(
        {pk: m.adjusted.estimate for pk, m in before.clinicians.items()}
    )
    # On the page, cai's figure is hidden, and so is any figure the complementary rule hides with it.
    rows = casemix_csv(practice)
    assert rows[("cai", "Valuing")]["Adjusted mean"] == "" and rows[("cai", "Valuing")]["Mean"] == ""
    for name in ("ana", "ben"):
        if rows[(name, "Valuing")]["Mean"] == "":
            assert rows[(name, "Valuing")]["Adjusted mean"] == ""


def test_the_dashboard_shows_the_panel_in_english_and_spanish(practice):
    client = Client()
    client.force_login(factories.member(practice, "boss", "manager"))
    page = client.get(reverse("practice_dashboard", args=[practice.slug])).content.decode()
    assert "Adjusted for case mix" in page and "Adjusted mean" in page
    assert "as if they had seen the practice&#x27;s usual mix of patients" in page
    # Never one patient's answers: no answer to the optional questions appears on the page.
    assert "65 to 74" not in page and "65_74" not in page
    with translation.override("es"):
        panel = panels.casemix_panel(practice, _closed_quarter(), panels.Audience(min_n=5), _clinicians(practice))
        assert panel.title == "Ajustado según el tipo de pacientes"
        assert "Media ajustada" in panel.columns


def _closed_quarter():
    from django.utils import timezone

    from plumbing.period import released_quarter

    today = timezone.localdate()
    return released_quarter(today, today)


def _clinicians(practice):
    from figures import queries

    return queries.practice_clinicians(practice)
