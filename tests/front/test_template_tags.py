"""How numbers read on pages: rounded to one decimal (never cut), in the reader's language."""

import pytest
from django.utils import translation

from figures.figure import HIDDEN
from front.templatetags.healing import cell, percent


@pytest.mark.parametrize(
    ("value", "en", "es"),
    [(200 / 3, "66.7", "66,7"), (1.05, "1.1", "1,1"), (99.96, "100.0", "100,0"), (-12.34, "-12.3", "-12,3")],
)
def test_a_score_is_rounded_to_one_decimal_not_cut(value, en, es):
    assert cell(value) == en
    with translation.override("es"):
        assert cell(value) == es


@pytest.mark.parametrize(("value", "en", "es"), [(0.4312, "0.43", "0,43"), (0.745, "0.74", "0,74"), (0.0, "0.00", "0,00")])
def test_an_index_below_one_keeps_two_decimals(value, en, es):
    # Reliabilities and continuity indices live between 0 and 1: one decimal would make 0.65 and 0.74 alike.
    assert cell(value) == en
    with translation.override("es"):
        assert cell(value) == es


def test_a_share_is_a_rounded_percentage():
    assert percent(2 / 3) == "67%"


def test_hidden_and_missing_cells_say_so():
    assert cell(HIDDEN) == "hidden"
    assert cell(None) == cell("") == "–"


def test_querystring_page_needs_no_request():
    from django.template import Context, Template

    rendered = Template("{% load healing %}{% querystring_page 'page' 3 %}").render(Context({}))
    assert rendered == "?page=3"
