"""Instrument definitions as plain data: parse and validate the JSON files, and the spec the forms render.

The JSON in surveys/instruments/ is the source of truth (docs/instruments.md); the database keeps a copy per
version so answers can point at items, and `spec_for_version` rebuilds this light structure from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .scoring import ItemSpec, Scale

LANGUAGES = ("en", "es")
RESPONDENTS = ("patient", "clinician")
DOMAIN_KINDS = ("process", "outcome", "competency")
ANSWER_BAND = (0, 10)


class InstrumentError(ValueError):
    """An instrument file that does not follow docs/instruments.md."""


@dataclass(frozen=True)
class DomainSpec:
    code: str
    kind: str
    label: dict
    description: dict


@dataclass(frozen=True)
class QuestionSpec:
    code: str
    domain: str
    reverse: bool
    allow_na: bool
    text: dict

    @property
    def scoring(self) -> ItemSpec:
        return ItemSpec(code=self.code, domain=self.domain, reverse=self.reverse)


@dataclass(frozen=True)
class InstrumentSpec:
    slug: str
    version: str
    respondent: str
    title: dict
    intro: dict
    scale: Scale
    scale_labels: dict
    na_label: dict
    comment_label: dict
    domains: tuple[DomainSpec, ...]
    items: tuple[QuestionSpec, ...]
    checksum: str

    @property
    def scoring_items(self) -> tuple[ItemSpec, ...]:
        return tuple(item.scoring for item in self.items)

    def items_of(self, domain_code: str) -> tuple[QuestionSpec, ...]:
        return tuple(item for item in self.items if item.domain == domain_code)


def _text(value, where: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) and value[lang].strip() for lang in LANGUAGES):
        raise InstrumentError(f"{where}: needs non-empty text in {', '.join(LANGUAGES)}")
    return value


def checksum_of(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def parse_instrument(data: dict) -> InstrumentSpec:
    """Validate one instrument document and return its spec; raises InstrumentError with the first problem."""
    try:
        slug, version, respondent = data["slug"], str(data["version"]), data["respondent"]
        scale_doc = data["scale"]
        scale = Scale(int(scale_doc["min"]), int(scale_doc["max"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InstrumentError(f"missing or bad header field: {exc}") from exc
    if respondent not in RESPONDENTS:
        raise InstrumentError(f"respondent must be one of {RESPONDENTS}")
    if not (ANSWER_BAND[0] <= scale.min and scale.max <= ANSWER_BAND[1]):
        raise InstrumentError(f"scale must lie within {ANSWER_BAND}")
    labels = scale_doc.get("labels", {})
    for lang in LANGUAGES:
        if len(labels.get(lang, [])) != scale.max - scale.min + 1:
            raise InstrumentError(f"scale labels ({lang}) must name every point of the scale")
    domains = []
    for index, doc in enumerate(data.get("domains", [])):
        if doc.get("kind") not in DOMAIN_KINDS:
            raise InstrumentError(f"domain {index}: kind must be one of {DOMAIN_KINDS}")
        domains.append(
            DomainSpec(
                code=doc["code"],
                kind=doc["kind"],
                label=_text(doc.get("label"), f"domain {doc['code']} label"),
                description=doc.get("description") or {lang: "" for lang in LANGUAGES},
            )
        )
    domain_codes = [d.code for d in domains]
    if not domains or len(set(domain_codes)) != len(domain_codes):
        raise InstrumentError("domains must be present and their codes unique")
    items = []
    for doc in data.get("items", []):
        if doc.get("domain") not in domain_codes:
            raise InstrumentError(f"item {doc.get('code')}: unknown domain {doc.get('domain')!r}")
        items.append(
            QuestionSpec(
                code=str(doc["code"]),
                domain=doc["domain"],
                reverse=bool(doc.get("reverse", False)),
                allow_na=bool(doc.get("allow_na", False)),
                text=_text(doc.get("text"), f"item {doc['code']} text"),
            )
        )
    item_codes = [item.code for item in items]
    if len(set(item_codes)) != len(item_codes):
        raise InstrumentError("item codes must be unique within an instrument")
    for code in domain_codes:
        if not any(item.domain == code for item in items):
            raise InstrumentError(f"domain {code} has no items")
    return InstrumentSpec(
        slug=slug,
        version=version,
        respondent=respondent,
        title=_text(data.get("title"), "title"),
        intro=data.get("intro") or {lang: "" for lang in LANGUAGES},
        scale=scale,
        scale_labels=labels,
        na_label=_text(scale_doc.get("not_applicable", {"en": "Does not apply", "es": "No aplica"}), "not_applicable"),
        comment_label=(data.get("comment") or {}).get("label") or {"en": "Comments (optional)", "es": "Comentarios (opcional)"},
        domains=tuple(domains),
        items=tuple(items),
        checksum=checksum_of(data),
    )


def instrument_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


def read_instrument_file(path: Path) -> tuple[dict, InstrumentSpec]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InstrumentError(f"{path.name}: {exc}") from exc
    try:
        return data, parse_instrument(data)
    except InstrumentError as exc:
        raise InstrumentError(f"{path.name}: {exc}") from exc


_SPECS: dict[tuple[int, str], InstrumentSpec] = {}


def spec_for_version(version) -> InstrumentSpec:
    """The spec of a stored InstrumentVersion, parsed once per process and checksum (it sits on every request)."""
    key = (version.pk, version.checksum)
    spec = _SPECS.get(key)
    if spec is None:
        spec = _SPECS[key] = parse_instrument(version.definition)
    return spec


def localized(text: dict, language: str) -> str:
    return text.get(language) or text.get("en") or next(iter(text.values()), "")
