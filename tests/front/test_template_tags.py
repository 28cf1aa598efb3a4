"""How numbers read on pages: rounded to one decimal (never cut), in the reader's language."""

import pytest
from django.utils import translation

from figures.figure import HIDDEN
from front.templatetags.healing import cell, percent


@pytest.mark.parametrize(("value", "en", "es"), [(200 / 3, "66.7", "66,7"), (0.05, "0.1", "0,1"), (99.96, "100.0", "100,0")])
def test_a_score_is_rounded_to_one_decimal_not_cut(value, en, es):
    assert cell(value) == en
    with translation.override("es"):
        assert cell(value) == es


def test_a_share_is_a_rounded_percentage():
    assert percent(2 / 3) == "67%"


def test_hidden_and_missing_cells_say_so():
    assert cell(HIDDEN) == "hidden"
    assert cell(None) == cell("") == "–"
