"""Something to reflect on (measurement.reflection): the weakest domain among reliable figures, and its suggestions."""

import pytest

from measurement.instruments import ELEMENT_DOMAINS
from measurement.reflection import SUGGESTIONS, Standing, reflect, suggestions_for, weakest_reliable
from surveys.domains import SHARED_DOMAINS


def test_nothing_is_suggested_when_no_figure_is_reliable():
    standings = [Standing("valuing", 40.0, 80.0, 0.69), Standing("hope", 50.0, 60.0, None)]
    assert weakest_reliable(standings) is None
    assert reflect(standings) is None
    assert reflect([]) is None


def test_the_weakest_reliable_domain_is_chosen_against_the_practice_not_by_its_raw_mean():
    standings = [
        Standing("valuing", 40.0, 90.0, 0.50),  # furthest below, but not reliable: never the reason
        Standing("power", 60.0, 70.0, 0.80),  # 10 below the practice
        Standing("trust", 55.0, 58.0, 0.90),  # the lowest mean, but only 3 below
        Standing("hope", 90.0, 80.0, 0.70),  # reliable at exactly 0.70, above the practice
    ]
    chosen = reflect(standings)
    assert chosen.domain == "power"
    assert chosen.standing.difference == pytest.approx(-10.0)


def test_a_reliable_domain_is_chosen_even_when_every_one_is_above_the_practice():
    chosen = reflect([Standing("known", 90.0, 70.0, 0.9), Standing("abiding", 75.0, 70.0, 0.9)])
    assert chosen.domain == "abiding"


@pytest.mark.parametrize("domain", SHARED_DOMAINS)
def test_each_domain_gets_two_or_three_suggestions_from_its_own_elements(domain):
    suggestions = suggestions_for(domain)
    assert 2 <= len(suggestions) <= 3
    assert all(ELEMENT_DOMAINS[s.element] == domain for s in suggestions)
    assert len({s.text["en"] for s in suggestions}) == len(suggestions)


def test_every_element_of_the_six_domains_has_a_suggestion_in_english_and_spanish():
    shared_elements = {element for element, domain in ELEMENT_DOMAINS.items() if domain in SHARED_DOMAINS}
    assert set(SUGGESTIONS) == shared_elements
    for texts in SUGGESTIONS.values():
        assert texts and all(text["en"].strip() and text["es"].strip() and text["en"] != text["es"] for text in texts)


def test_a_suggestion_speaks_the_language_asked_for():
    suggestion = suggestions_for("hope")[0]
    assert suggestion.in_language("es") == suggestion.text["es"]
    assert suggestion.in_language("fr") == suggestion.text["en"]
