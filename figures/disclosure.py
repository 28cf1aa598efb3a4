"""Which figures a person may see: decided here, once per page or report, from the whole breakdown.

A clinician-level figure from fewer dyads than the practice's minimum is withheld from everyone but platform
admins, and so is any figure that would give such a figure back by subtraction from the others shown
(`measurement.suppression.complementary_suppression`). The dashboard, its CSVs and the report ask this module;
`figures.figure.release` then turns a decision into the figure people see (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from measurement import suppression
from measurement.scoring import Summary
from surveys.models import Practice
from surveys.permissions import is_platform_admin


@dataclass(frozen=True)
class Audience:
    """Who is looking: platform admins see every figure; everyone else is held to the practice's minimum n."""

    min_n: int
    sees_everything: bool = False

    @classmethod
    def for_user(cls, user, practice: Practice) -> Audience:
        return cls(min_n=practice.min_reporting_n, sees_everything=is_platform_admin(user))

    def hides(self, summary: Summary | None) -> bool:
        """Whether a figure about one clinician (or one of their dyads' aggregates) is withheld on its own n;
        a figure with no responses is withheld too, so that its absence says nothing either."""
        if self.sees_everything:
            return False
        return suppression.is_suppressed(summary.n if summary else 0, self.min_n)


@dataclass(frozen=True)
class Suppression:
    """Which figures a breakdown hides, decided once per key (a domain, or a (month, domain)) from the whole
    per-clinician breakdown, so that no figure shown gives back a hidden one by subtraction from another."""

    hidden: dict  # key -> set of clinician ids
    practice_hidden: frozenset  # keys whose practice-level figure is hidden too

    @classmethod
    def decide(cls, counts: Mapping, audience: Audience) -> Suppression:
        """counts: {key: {clinician id: n}}."""
        if audience.sees_everything:
            return cls({}, frozenset())
        hidden, practice_hidden = {}, set()
        for key, per_clinician in counts.items():
            hidden[key], practice_too = suppression.complementary_suppression(per_clinician, audience.min_n)
            if practice_too:
                practice_hidden.add(key)
        return cls(hidden, frozenset(practice_hidden))

    def hides(self, key, clinician_id: int | None) -> bool:
        """A clinician's figure (clinician_id given) or the practice's (None) for this key."""
        if clinician_id is None:
            return key in self.practice_hidden
        return clinician_id in self.hidden.get(key, ())

    def hider(self, clinician_id: int | None, audience: Audience) -> Callable[[object, int], bool]:
        """(key, n) -> hidden? for one scope: the practice's figures (None) or one clinician's, which are also
        hidden below the minimum on their own n (0 included)."""
        if clinician_id is None or audience.sees_everything:
            return lambda key, n: self.hides(key, clinician_id)
        return lambda key, n: suppression.is_suppressed(n, audience.min_n) or self.hides(key, clinician_id)


def decide_period(
    quarter: Mapping, monthly: Mapping, audience: Audience, *, outside: Mapping | None = None
) -> tuple[Suppression, Suppression]:
    """What a page about one reporting period hides: its figures (key: domain) and its months' (key: (month,
    domain)), for the practice and each clinician, decided together (`measurement.suppression.hide_cells`).

    Both inputs are {key: {clinician id: n}}; a practice's n is the sum of its clinicians' (a dyad has one
    clinician). The groups: the practice and its clinicians, for the period and for each month; and the period
    and its months, for the practice and for each clinician, so that no figure of the period minus the shown
    months (or the practice minus the shown clinicians) gives back a hidden one. `outside`, for a page filtered
    by instrument version, has the same shape and counts the dyads the filter leaves out: a figure whose
    complement (the unfiltered figure minus this one) holds fewer than the minimum is hidden too.
    """
    if audience.sees_everything:
        return Suppression({}, frozenset()), Suppression({}, frozenset())
    counts: dict = {}
    groups: list = []
    for key, per_clinician in (*quarter.items(), *monthly.items()):
        children = [("clinician", pk, key) for pk in per_clinician]
        for pk, n in per_clinician.items():
            counts[("clinician", pk, key)] = n
        counts[("practice", key)] = sum(per_clinician.values())
        groups.append((("practice", key), children))
    months_of: dict = {}
    for month, domain in monthly:
        months_of.setdefault(domain, []).append(month)
    for domain, months in months_of.items():
        groups.append((("practice", domain), [("practice", (m, domain)) for m in months]))
        for pk in quarter.get(domain, {}):
            groups.append((("clinician", pk, domain), [("clinician", pk, (m, domain)) for m in months]))
    thin_complement = set()
    for key, per_clinician in (outside or {}).items():
        thin_complement |= {("clinician", pk, key) for pk, n in per_clinician.items() if 0 < n < audience.min_n}
        if 0 < sum(per_clinician.values()) < audience.min_n:
            thin_complement.add(("practice", key))
    hidden = suppression.hide_cells(counts, groups, audience.min_n, also_hidden=thin_complement)

    def split(keys) -> Suppression:
        return Suppression(
            {key: {cell[1] for cell in hidden if cell[0] == "clinician" and cell[2] == key} for key in keys},
            frozenset(key for key in keys if ("practice", key) in hidden),
        )

    return split(list(quarter)), split(list(monthly))


def counts_by_key(by_clinician: Mapping[tuple, Summary]) -> dict:
    """{(clinician id, key): Summary} -> {key: {clinician id: n}}, what `Suppression.decide` takes."""
    counts: dict = {}
    for (clinician_id, key), summary in by_clinician.items():
        counts.setdefault(key, {})[clinician_id] = summary.n
    return counts


def _month_key(day) -> int:
    return day.year * 12 + day.month - 1


def decide_rolling(
    months: Mapping,
    windows: Mapping,
    quarters: list,
    audience: Audience,
    *,
    outside_months: Mapping | None = None,
    outside_windows: Mapping | None = None,
) -> Suppression:
    """What a trend of rolling quarters hides (key: (first day of the window's last month, domain)), for the
    practice and each clinician.

    `months` ({(month, domain): {clinician id: n}}) and `windows` ({(window's last month, domain): {clinician
    id: n}}) cover whole calendar quarters (`quarters`: (first month, last month) each). Each quarter is decided
    as a page about it decides it (`decide_period`: the quarter and its months, the practice and its clinicians),
    its quarter figure being the rolling quarter that ends in its last month. Then:

    - a rolling quarter that is a calendar quarter is hidden exactly where that quarter's figure is;
    - any other rolling quarter is hidden wherever one of its three months would be (for a clinician, also a
      month with 1 to minimum - 1 of their dyads; a month with none adds nothing to the window).

    So every rolling quarter shown is, month by month, a sum of figures the monthly rule would have released,
    and a hidden month only ever enters what is shown through its quarter's figure, which the quarter's own
    decision already protects against subtraction. Overlapping windows can be differenced (a window minus its
    neighbour is one month less another), but never down to a hidden month (docs/privacy.md).
    `outside_*`, for a version filter, count the dyads the filter leaves out, as in `decide_period`.
    """
    if audience.sees_everything:
        return Suppression({}, frozenset())
    domains = {domain for _month, domain in (*months, *windows)}
    clinicians = {domain: set() for domain in domains}
    for (_month, domain), per_clinician in (*months.items(), *windows.items()):
        clinicians[domain] |= set(per_clinician)
    month_hidden: dict = {}  # (month, domain) -> (clinicians hidden, practice hidden)
    quarter_hidden: dict = {}  # (quarter's last month, domain) -> (clinicians hidden, practice hidden)
    for first, last in quarters:
        in_quarter = {(m, d): c for (m, d), c in months.items() if _month_key(first) <= _month_key(m) <= _month_key(last)}
        quarter = {d: windows.get((last, d), {}) for d in domains}
        outside = None
        if outside_months is not None or outside_windows is not None:
            outside = {(m, d): c for (m, d), c in (outside_months or {}).items() if (m, d) in in_quarter}
            outside.update({d: (outside_windows or {}).get((last, d), {}) for d in domains})
        by_quarter, by_month = decide_period(quarter, in_quarter, audience, outside=outside)
        for d in domains:
            quarter_hidden[(last, d)] = (by_quarter.hidden.get(d, set()), by_quarter.hides(d, None))
            for index in range(_month_key(first), _month_key(last) + 1):
                month = type(first)(index // 12, index % 12 + 1, 1)
                counts = months.get((month, d), {})
                # A month with none of a clinician's dyads adds nothing to a window (and its absence was never
                # hidden: a month without responses has no figure at all); one with a few would.
                thin = {pk for pk, n in counts.items() if n and suppression.is_suppressed(n, audience.min_n)}
                month_hidden[(month, d)] = (thin | by_month.hidden.get((month, d), set()),
                                            by_month.hides((month, d), None))
    hidden: dict = {}
    practice_hidden = set()
    for key in windows:
        end, domain = key
        if key in quarter_hidden:
            who, practice_too = quarter_hidden[key]
            hidden[key] = set(who)
        else:
            who, practice_too = set(), False
            for back in range(3):
                index = _month_key(end) - back
                month = type(end)(index // 12, index % 12 + 1, 1)
                # A month outside the decided quarters (a period ending mid-quarter) is not known to be safe.
                month_who, month_practice = month_hidden.get((month, domain), (set(clinicians[domain]), True))
                who |= month_who
                practice_too = practice_too or month_practice
            hidden[key] = who
        if practice_too:
            practice_hidden.add(key)
    return Suppression(hidden, frozenset(practice_hidden))
