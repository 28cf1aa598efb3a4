"""Comparing a practice's clinicians: the reads behind `manage.py reliability`.

One query gives each dyad's latest patient score per shared domain in the period (the dashboards' own
`queries.latest_scores`, so "each dyad counts once" means the same thing everywhere); the figures themselves
come from the pure `measurement.statistics`. No suppression: this is for platform admins and operators, who
need the raw evidence of how far clinician figures can be trusted.
"""

from __future__ import annotations

from collections import defaultdict

from measurement import scoring
from measurement.statistics import DomainReliability, compare_clinicians
from plumbing.period import Period
from surveys.models import Practice, Respondent

from . import queries


def practice_reliability(practice: Practice, period: Period) -> list[DomainReliability]:
    """ICC(1), design effect, ceiling share and each clinician's reliability and funnel position, for each
    shared domain in `scoring.SHARED_DOMAINS` order. Clinicians are keyed and sorted by username; those with
    fewer than 2 dyads scored in a domain are in that domain's `left_out`, and in none of its figures."""
    scores: dict[str, dict[str, list[float]]] = {domain: defaultdict(list) for domain in scoring.SHARED_DOMAINS}
    rows = (
        queries.latest_scores(practice, period, Respondent.PATIENT)
        .filter(domain__in=scoring.SHARED_DOMAINS)
        .values_list("domain", "clinician__username", "score")
        .order_by()
    )
    for domain, username, score in rows:
        scores[domain][username].append(score)
    return [compare_clinicians(domain, scores[domain]) for domain in scoring.SHARED_DOMAINS]
