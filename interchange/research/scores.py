"""Flat score rows for exports: one row per submitted response (README.md export_scores)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from measurement import scoring

DOMAIN_COLUMNS = scoring.SHARED_DOMAINS + scoring.COMPETENCY_DOMAINS
SCORE_COLUMNS = [
    "visit", "clinician", "patient", "respondent", "instrument", "version", "submitted_at",
    *DOMAIN_COLUMNS, "process_index", "outcome_index",
]


def score_rows(responses: Iterable) -> Iterator[dict]:
    """Responses (with visit, dyad, instrument and prefetched scores) as dicts keyed by SCORE_COLUMNS."""
    for response in responses:
        scores = {s.domain: s.score for s in response.scores.all()}
        yield {
            "visit": response.visit_id,
            "clinician": response.dyad.clinician.username,
            "patient": response.dyad.patient.reference,
            "respondent": response.respondent,
            "instrument": response.instrument_version.instrument.slug,
            "version": response.instrument_version.version,
            "submitted_at": response.submitted_at.isoformat(),
            **{domain: scores.get(domain) for domain in DOMAIN_COLUMNS},
            "process_index": response.process_index,
            "outcome_index": response.outcome_index,
        }
