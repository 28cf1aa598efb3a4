"""One figure as it may be released: n, mean, SD and 95% interval, or the reason it is withheld.

Every number a clinician or a manager can obtain goes through `release`: the dashboard's panels and their CSVs,
the report's HTML and ZIP, and the API all render the same `Figure`, so none of them can show a number another
hides, or word the same caution differently. Whether a figure is hidden is decided by `figures.disclosure`
before `release` is called; what "few responses" means is measurement's (`scoring.CAUTION_N`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from measurement import scoring

CAUTION = gettext_lazy("few responses: interpret with care")
NO_RESPONSES = gettext_lazy("no responses in this period")


class Hidden:
    """The value of a withheld number: pages say "hidden", files leave the cell empty (the note says why)."""

    def __str__(self) -> str:
        return _("hidden")

    def __repr__(self) -> str:
        return "HIDDEN"


HIDDEN = Hidden()


def hidden_note(min_n: int) -> str:
    """Why one figure is withheld (a row's note)."""
    return _(
        "hidden: fewer than %(n)s dyads (the practice's minimum), or it would give such a figure back by subtraction"
    ) % {"n": min_n}


def suppression_note(min_n: int) -> str:
    """Why some figures on a page are withheld (under a chart)."""
    return _(
        "Figures for a single clinician based on fewer than %(n)s patients are hidden, so that no patient's "
        "answers can be singled out."
    ) % {"n": min_n}


def caution_note() -> str:
    """What the caution mark means (under a chart)."""
    return _("Figures from fewer than %(n)s patients are marked: few responses, interpret with care.") % {
        "n": scoring.CAUTION_N
    }


@dataclass(frozen=True)
class Figure:
    """A released figure. When `hidden`, every number is withheld, n included: even a count of 0 says who was
    (not) seen, so a hidden figure tells nothing but that it is hidden."""

    n: int | None
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    hidden: bool = False
    note: str = ""

    @property
    def few(self) -> bool | None:
        """Below CAUTION_N a figure is shown with its interval and the caution; None when hidden."""
        return None if self.hidden else self.n < scoring.CAUTION_N

    @property
    def shown(self) -> bool:
        """Whether there is a number to draw."""
        return not self.hidden and self.mean is not None

    def cells(self) -> list:
        """n, mean and interval for a table row: HIDDEN in each place when withheld."""
        if self.hidden:
            return [HIDDEN] * 4
        return [self.n, self.mean, self.ci_low, self.ci_high]


def release(summary: scoring.Summary | None, *, hidden: bool, min_n: int) -> Figure:
    """The figure of `summary` as it may be released, with the note a reader needs beside it."""
    if hidden:
        return Figure(n=None, hidden=True, note=hidden_note(min_n))
    if summary is None or summary.n == 0:
        return Figure(n=0, note=str(NO_RESPONSES))
    return Figure(
        n=summary.n,
        mean=summary.mean,
        sd=summary.sd,
        ci_low=summary.ci_low,
        ci_high=summary.ci_high,
        note=str(CAUTION) if summary.few else "",
    )
