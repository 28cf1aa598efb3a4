"""The psychometrics panel's one read: each domain's item figures per instrument version and language.

For a practice and period: each dyad's latest response of each respondent in the period (as every other figure
counts dyads), grouped by the instrument version it answered and the language it was answered in (a translation
can behave differently), then per domain `measurement.psychometrics.domain_figures`. Three queries whatever the
size: the latest responses' answers for patients, the same for clinicians, and the items of the versions found.

Who may see it: platform admins on their page (`surveys.permissions.may_see_psychometrics`), and the practice's
managers in the report's methods section, where a domain's figures are released only over at least
`release_threshold(min_n)` complete responses (docs/privacy.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from measurement import psychometrics as measures
from measurement.scoring import ALPHA_MIN_RESPONSES, NA, Answer, ItemSpec, Scale
from plumbing.period import Period
from surveys.models import Item, Practice, Respondent, Response

from .queries import latest_per_dyad, responses_in


@dataclass(frozen=True)
class Group:
    """One instrument version answered in one language: the unit whose items are compared."""

    respondent: str
    instrument: str
    version: str
    language: str
    responses: int
    domains: tuple[measures.DomainFigures, ...]


def release_threshold(min_n: int | None) -> int:
    """Complete responses a domain's figures need before anyone sees them: the 30 alpha needs (DESIGN §3) and,
    outside the platform admins' page (min_n None), at least the practice's minimum n, so a report never holds
    a figure on fewer dyads than the practice's rule allows."""
    return ALPHA_MIN_RESPONSES if min_n is None else max(ALPHA_MIN_RESPONSES, min_n)


def _answers(practice: Practice, period: Period, respondent: str) -> dict[tuple[int, str], dict[int, dict]]:
    """{(version id, language): {response id: {item id: answer}}} for each dyad's latest response.

    A LEFT JOIN from the responses, so a response with no answer row still counts (its items as missing)."""
    latest = latest_per_dyad(responses_in(practice, period, respondent))
    groups: dict[tuple[int, str], dict[int, dict]] = defaultdict(dict)
    rows = Response.objects.filter(pk__in=latest.values("id")).values_list(
        "id", "instrument_version_id", "language", "answers__item_id", "answers__value"
    )
    for response_id, version_id, language, item_id, value in rows:
        given = groups[(version_id, language)].setdefault(response_id, {})
        if item_id is not None:
            given[item_id] = NA if value is None else value  # an answer row with no value is "does not apply"
    return groups


def psychometrics(practice: Practice, period: Period) -> list[Group]:
    """Every (respondent, instrument version, language) answered in the period, with each domain's figures,
    patients first, then by instrument, version and language; domains and items in the instrument's order."""
    answered = {respondent: _answers(practice, period, respondent) for respondent in Respondent.values}
    version_ids = {version_id for groups in answered.values() for version_id, _language in groups}
    if not version_ids:
        return []
    versions: dict[int, dict] = {}
    for version_id, slug, version, scale_min, scale_max, domain, item_id, code, reverse in (
        Item.objects.filter(version_id__in=version_ids)
        .order_by("version_id", "domain__position", "position")
        .values_list("version_id", "version__instrument__slug", "version__version", "version__scale_min",
                     "version__scale_max", "domain__code", "id", "code", "reverse")
    ):
        spec = versions.setdefault(version_id, {"instrument": slug, "version": version,
                                                "scale": Scale(scale_min, scale_max), "domains": {}})
        spec["domains"].setdefault(domain, []).append((item_id, ItemSpec(code, domain, reverse)))

    result = []
    for respondent in Respondent.values:
        for (version_id, language), responses in answered[respondent].items():
            spec = versions[version_id]
            by_code = [_by_code(given, spec) for given in responses.values()]
            result.append(Group(
                respondent=respondent, instrument=spec["instrument"], version=spec["version"], language=language,
                responses=len(responses),
                domains=tuple(
                    measures.domain_figures(domain, [item for _id, item in items], by_code, spec["scale"])
                    for domain, items in spec["domains"].items()
                ),
            ))
    order = {respondent: i for i, respondent in enumerate(Respondent.values)}
    return sorted(result, key=lambda g: (order[g.respondent], g.instrument, g.version, g.language))


def _by_code(given: dict[int, Answer], spec: dict) -> dict[str, Answer]:
    return {item.code: given[item_id] for items in spec["domains"].values() for item_id, item in items
            if item_id in given}
