"""The short code a QR card prints for patients who cannot scan (issue 14): /q/ABCD-EFGH-JKMN opens the same
questionnaire as the card's QR link, and guessing codes is refused early (docs/security.md)."""

import datetime as dt

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import Response
from tests import factories

D1 = dt.date(2025, 3, 4)


@pytest.fixture
def card(practice_a, clinician_a):
    factories.visit(practice_a, clinician_a, "PA-1", D1)
    return services.print_cards(practice_a, D1)[0]


def code_url(code: str) -> str:
    return reverse("patient_short_code", args=[code])


def test_the_code_opens_the_questionnaire_as_a_survey_page(client, card):
    response = client.get(code_url(card.code))
    assert response.status_code == 200 and b'name="P01"' in response.content
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("typed", [str.lower, lambda code: code.replace("-", ""), lambda code: code + "/"])
def test_the_code_may_be_typed_in_lower_case_without_dashes_or_with_a_slash(client, card, typed):
    assert client.get("/q/" + typed(card.code)).status_code == 200


def test_answers_sent_through_the_code_are_saved_once(client, card):
    answers = factories.full_answers(card.invitation)
    response = client.post(code_url(card.code), answers)
    assert response.status_code == 302 and "/s/thanks/" in response["Location"]
    assert Response.objects.filter(invitation=card.invitation).count() == 1
    again = client.post(code_url(card.code), answers)
    assert again.status_code == 409
    assert Response.objects.count() == 1


def test_the_form_at_q_sends_a_typed_code_on(client, card):
    page = client.get(reverse("short_code_entry"))
    assert page.status_code == 200 and b'name="code"' in page.content
    typed = card.code.lower().replace("-", " ")
    response = client.get(reverse("short_code_entry"), {"code": typed})
    assert response.status_code == 302
    assert response["Location"] == code_url(card.code.replace("-", ""))
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.get(response["Location"]).status_code == 200


def test_something_that_is_not_a_code_asks_again(client, card):
    response = client.get(reverse("short_code_entry"), {"code": "hello"})
    assert response.status_code == 400 and b"could not find this code" in response.content


def test_an_unknown_code_is_404_with_the_form_again_and_saves_nothing(client, card):
    response = client.post(code_url("AAAA-BBBB-CCCC"), factories.full_answers(card.invitation))
    assert response.status_code == 404 and b"could not find this code" in response.content
    assert not Response.objects.exists()


def test_the_page_speaks_spanish(client, card):
    response = client.get(reverse("short_code_entry"), {"lang": "es"})
    assert "Escriba el código de su tarjeta" in response.content.decode()


def test_guessing_codes_locks_the_guesser_out_of_every_code(client, card, settings):
    settings.SURVEY_CODE_MISS_LIMIT = "3/h"
    for guess in ("AAAA-BBBB-CCC1", "AAAA-BBBB-CCC2", "AAAA-BBBB-CCC3"):
        assert client.get(code_url(guess)).status_code == 404
    # Past the limit even the right code is refused: with 60 bits, a hit must not stay possible.
    refused = client.get(code_url(card.code))
    assert refused.status_code == 429 and refused["Retry-After"]
    # Another address is not affected, and the card's QR link still opens for everyone.
    assert client.get(code_url(card.code), REMOTE_ADDR="10.0.0.9").status_code == 200
    assert client.get(reverse("patient_questionnaire", args=[card.token])).status_code == 200


def test_found_codes_do_not_count_as_misses(client, card, settings):
    settings.SURVEY_CODE_MISS_LIMIT = "2/h"
    for _ in range(5):
        assert client.get(code_url(card.code)).status_code == 200
