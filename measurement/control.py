"""Control limits for trends: when is a rolling-quarter mean a change, and when is it chance?

A practice's monthly means over 17-36 dyads swing by 4-12 points from chance alone, and a line through them
invites people to read noise as change. The trends therefore show rolling quarters (each point: the three months
ending that month, each dyad counted once by its latest response) on a Shewhart X-bar chart with variable
subgroup sizes (Montgomery DC, *Introduction to Statistical Quality Control*, 7th ed., Wiley 2013, section 6.3.1;
for healthcare, Mohammed MA, Worthington P, Woodall WH, *Qual Saf Health Care* 2008;17:137-145):

- centre line: the mean over the points shown, each weighted by its n (x-double-bar, Σ n_i x̄_i / Σ n_i);
- sigma: the pooled within-window standard deviation, sqrt(Σ (n_i - 1) s_i² / Σ (n_i - 1));
- limits: centre ± 3 · sigma / √n_i, so they widen for a window with fewer patients.

A change is called only for a point beyond its limits. Rolling windows overlap (two neighbours share two months),
so neighbouring points are correlated; that changes how called points cluster, not how often a point is called:
each point's own mean is still a mean of n_i scores around the centre, so with no true change a point is beyond
3-sigma limits about 0.27% of the time (two-sided normal tail), whatever its neighbours do. The tests check that
by simulation and on demo data with no trend: well under the 5% the issue allows. No run rules (Western Electric)
are applied: on correlated points they would call far more often than their nominal rates.

Pure functions on plain values, standard library only, full precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SIGMA_MULTIPLE = 3.0
"""Shewhart's 3-sigma limits: a point beyond them is a change worth a look."""

MIN_POINTS = 2
"""Fewer points than this give no centre to compare a point with: no limits are drawn."""


@dataclass(frozen=True)
class ControlPoint:
    """One point's limits and whether it is called (beyond them)."""

    lower: float
    upper: float
    called: bool


@dataclass(frozen=True)
class ControlChart:
    centre: float
    sigma: float
    points: list[ControlPoint | None]  # aligned with the input; None where there was no point


def pooled_sd(subgroups: Sequence[tuple[int, float | None]]) -> float | None:
    """sqrt(Σ (n_i - 1) s_i² / Σ (n_i - 1)) over (n, sd) subgroups with n >= 2; None with no such subgroup."""
    degrees = sum(n - 1 for n, sd in subgroups if n >= 2 and sd is not None)
    if degrees <= 0:
        return None
    return math.sqrt(sum((n - 1) * sd * sd for n, sd in subgroups if n >= 2 and sd is not None) / degrees)


def limits(centre: float, sigma: float, n: int) -> tuple[float, float]:
    """centre ± 3 · sigma / √n."""
    half = SIGMA_MULTIPLE * sigma / math.sqrt(n)
    return centre - half, centre + half


def control_chart(points: Sequence[tuple[int, float, float | None] | None]) -> ControlChart | None:
    """The X-bar chart of (n, mean, sd) points (None for a point not shown), or None when there are fewer than
    MIN_POINTS points or no within-window spread to estimate sigma from.

    Only the points given take part: a caller leaves out the points it may not show, so the centre line and the
    limits never carry a hidden figure.
    """
    present = [p for p in points if p is not None and p[0] > 0]
    if len(present) < MIN_POINTS:
        return None
    sigma = pooled_sd([(n, sd) for n, _mean, sd in present])
    if sigma is None:
        return None
    centre = sum(n * mean for n, mean, _sd in present) / sum(n for n, _mean, _sd in present)
    charted: list[ControlPoint | None] = []
    for point in points:
        if point is None or point[0] <= 0:
            charted.append(None)
            continue
        n, mean, _sd = point
        lower, upper = limits(centre, sigma, n)
        charted.append(ControlPoint(lower, upper, called=mean < lower or mean > upper))
    return ControlChart(centre, sigma, charted)
