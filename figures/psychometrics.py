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
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from measurement import psychometrics as measures
from measurement.scoring import ALPHA_MIN_RESPONSES, NA, Answer, ItemSpec, Scale
from plumbing.period import Period
from surveys.domains import domain_label
from surveys.models import Item, Practice, Respondent, Response

from .queries import latest_per_dyad, read_once, responses_in


@dataclass(frozen=True)
class Group:
    """One instrument version answered in one language: the unit whose items are compared."""

    respondent: str
    instrument: str
    version: str
    language: str
    responses: int
    domains: tuple[measures.DomainFigures, ...]
    texts: Mapping[str, Mapping[str, str]]  # item code -> {language: the item's wording}


def release_threshold(min_n: int | None) -> int:
    """Complete responses a domain's figures need before anyone sees them: the 30 alpha needs (docs/measurement.md) and,
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


@read_once
def psychometrics(practice: Practice, period: Period) -> list[Group]:
    """Every (respondent, instrument version, language) answered in the period, with each domain's figures,
    patients first, then by instrument, version and language; domains and items in the instrument's order."""
    answered = {respondent: _answers(practice, period, respondent) for respondent in Respondent.values}
    version_ids = {version_id for groups in answered.values() for version_id, _language in groups}
    if not version_ids:
        return []
    versions: dict[int, dict] = {}
    for version_id, slug, version, scale_min, scale_max, domain, item_id, code, reverse, text in (
        Item.objects.filter(version_id__in=version_ids)
        .order_by("version_id", "domain__position", "position")
        .values_list("version_id", "version__instrument__slug", "version__version", "version__scale_min",
                     "version__scale_max", "domain__code", "id", "code", "reverse", "text")
    ):
        spec = versions.setdefault(version_id, {"instrument": slug, "version": version,
                                                "scale": Scale(scale_min, scale_max), "domains": {}, "texts": {}})
        spec["texts"][code] = text
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
                texts=spec["texts"],
            ))
    order = {respondent: i for i, respondent in enumerate(Respondent.values)}
    return sorted(result, key=lambda g: (order[g.respondent], g.instrument, g.version, g.language))


def _by_code(given: dict[int, Answer], spec: dict) -> dict[str, Answer]:
    return {item.code: given[item_id] for items in spec["domains"].values() for item_id, item in items
            if item_id in given}


# --- what people see: one table per domain, version and language ----------------------------------------

LANGUAGE_NAMES = {"en": _("English"), "es": _("Spanish")}


@dataclass(frozen=True)
class ItemRow:
    code: str
    text: str
    item_total: float | None
    floor_percent: float | None
    ceiling_percent: float | None
    ceiling_flagged: bool
    not_applicable_percent: float | None
    missing_percent: float | None


@dataclass(frozen=True)
class DomainTable:
    """One domain of one instrument version in one language, as the page and the report show it: the figures
    when there are enough complete responses (`shown`), else only how many there are."""

    respondent: str
    instrument: str
    version: str
    language: str
    language_name: str
    domain: str
    label: str
    item_count: int
    responses: int
    complete: int
    shown: bool
    alpha: float | None = None
    alpha_low: float | None = None
    alpha_high: float | None = None
    omega: float | None = None
    ceiling_percent: float | None = None  # domain scores at 100, of the responses with the domain scored
    ceiling_flagged: bool = False
    items: tuple[ItemRow, ...] = ()


def _percent(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def tables(groups: list[Group], threshold: int, language: str, *, complementary: bool = False) -> list[DomainTable]:
    """The release decision, made once for the page and the report: a domain below `threshold` complete
    responses shows its counts and nothing else. Item wordings in `language` (else English, else the code).

    `complementary` (reports, which managers read): a domain's share at 100 adds up over its versions and
    languages to the practice's, which the dashboard shows; so when any answered group of a domain is hidden,
    no group of that domain gives its share at 100 either (the practice's minus the shown ones would be the
    hidden group's: "2 of 3 Spanish-speaking patients scored 100")."""
    hidden_somewhere = {
        (group.respondent, figures.domain)
        for group in groups for figures in group.domains if 0 < figures.responses and figures.complete < threshold
    } if complementary else set()
    result = []
    for group in groups:
        for figures in group.domains:
            common = {
                "respondent": group.respondent, "instrument": group.instrument, "version": group.version,
                "language": group.language, "language_name": str(LANGUAGE_NAMES.get(group.language, group.language)),
                "domain": figures.domain, "label": domain_label(figures.domain), "item_count": len(figures.items),
                "responses": figures.responses,
                "complete": figures.complete,
            }
            if figures.complete < threshold:
                result.append(DomainTable(**common, shown=False))
                continue
            items = tuple(
                ItemRow(
                    code=item.code,
                    text=_wording(group.texts.get(item.code) or {}, language) or item.code,
                    item_total=item.item_total,
                    floor_percent=_percent(item.floor_share),
                    ceiling_percent=_percent(item.ceiling_share),
                    ceiling_flagged=item.ceiling_flagged,
                    not_applicable_percent=_percent(item.not_applicable_share),
                    missing_percent=_percent(item.missing_share),
                )
                for item in figures.items
            )
            result.append(DomainTable(**common, shown=True, alpha=figures.alpha, alpha_low=figures.alpha_low,
                                      alpha_high=figures.alpha_high, omega=figures.omega,
                                      **({} if (group.respondent, figures.domain) in hidden_somewhere else {
                                          "ceiling_percent": _percent(figures.ceiling_share),
                                          "ceiling_flagged": figures.ceiling_flagged}),
                                      items=items))
    return result


def _wording(text: Mapping[str, str], language: str) -> str:
    return text.get(language) or text.get("en") or ""
