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

ELEMENT_DOMAINS = {
    # valuing
    "nonjudgmental": "valuing",
    "connecting": "valuing",
    "presence": "valuing",
    # appreciating power
    "partnering": "power",
    "education": "power",
    "pushing": "power",
    # abiding
    "continuity": "abiding",
    "crises": "abiding",
    "caring_acts": "abiding",
    "not_giving_up": "abiding",
    # trust
    "vulnerability": "trust",
    "cared_for": "trust",
    "promises_kept": "trust",
    "competence_honesty": "trust",
    # hope and being known have one element each
    "better_future": "hope",
    "known_as_person": "known",
    # each competency is its own element
    "self_confidence": "self_confidence",
    "emotional_self_management": "emotional_self_management",
    "mindfulness": "mindfulness",
    "knowledge": "knowledge",
}
"""The model element each item measures, and the one domain it belongs to (the healing-relationships model)."""

ELEMENTS_REQUIRED_FROM = (1, 1)
"""From this version on every item names its element, and per-visit clinician items name the patient item they
mirror. Older files (1.0) carry neither and parse exactly as before."""


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
    element: str | None = None
    pair: str | None = None

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


def version_number(version: str) -> tuple[int, ...]:
    """The leading numeric parts of a version ("1.1" -> (1, 1), "2" -> (2,), "1.1rc" -> (1,)), for comparisons."""
    numbers = []
    for part in str(version).split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def _element_and_pair(doc: dict, domain_kind: str, respondent: str, *, elements_required: bool, pairs_required: bool):
    """Validate an item's `element` and `pair`; returns them (None when absent)."""
    code = doc.get("code")
    element = doc.get("element")
    if element is None:
        if elements_required:
            raise InstrumentError(f"item {code}: needs an element (one of the model's element codes)")
    elif not isinstance(element, str) or element not in ELEMENT_DOMAINS:
        raise InstrumentError(f"item {code}: unknown element {element!r}")
    elif ELEMENT_DOMAINS[element] != doc["domain"]:
        raise InstrumentError(
            f"item {code}: element {element!r} belongs to domain {ELEMENT_DOMAINS[element]!r}, not {doc['domain']!r}"
        )
    pair = doc.get("pair")
    if pair is not None:
        if not isinstance(pair, str) or not pair.strip():
            raise InstrumentError(f"item {code}: pair must be a non-empty item code")
        if respondent != "clinician":
            raise InstrumentError(f"item {code}: only clinician items mirror a patient item (pair)")
        if domain_kind == "competency":
            raise InstrumentError(f"item {code}: a competency item has no patient item to mirror (pair)")
    elif pairs_required and respondent == "clinician" and domain_kind != "competency":
        raise InstrumentError(f"item {code}: a per-visit clinician item names the patient item it mirrors (pair)")
    return element, pair


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
    domain_kinds = {d.code: d.kind for d in domains}
    item_docs = data.get("items", [])
    # From 1.1 every item names its element (and a per-visit clinician item its pair); before that elements are
    # optional, but a file that uses them uses them on every item (a half-mapped file is a mistake, not a choice).
    from_1_1 = version_number(version) >= ELEMENTS_REQUIRED_FROM
    elements_required = from_1_1 or any(isinstance(doc, dict) and "element" in doc for doc in item_docs)
    items = []
    for doc in item_docs:
        if doc.get("domain") not in domain_codes:
            raise InstrumentError(f"item {doc.get('code')}: unknown domain {doc.get('domain')!r}")
        element, pair = _element_and_pair(
            doc, domain_kinds[doc["domain"]], respondent, elements_required=elements_required, pairs_required=from_1_1
        )
        items.append(
            QuestionSpec(
                code=str(doc["code"]),
                domain=doc["domain"],
                reverse=bool(doc.get("reverse", False)),
                allow_na=bool(doc.get("allow_na", False)),
                text=_text(doc.get("text"), f"item {doc['code']} text"),
                element=element,
                pair=pair,
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


def check_pairs(patient: InstrumentSpec, clinician: InstrumentSpec) -> dict[str, str]:
    """Cross-check a per-visit clinician instrument against the patient instrument it mirrors.

    Every clinician item of a domain the patient form has must name (`pair`) an existing patient item of the same
    domain (and the same element, when both name one), and the pairing must be one-to-one and complete: each
    patient item has exactly one clinician mirror. Returns {patient item code: clinician item code}; raises
    InstrumentError listing every problem. Item-by-item gaps rely on this, so the loader and the tests share it.
    """
    if patient.respondent != "patient" or clinician.respondent != "clinician":
        raise InstrumentError("check_pairs needs a patient instrument and a clinician instrument, in that order")
    patient_items = {item.code: item for item in patient.items}
    patient_domains = {d.code for d in patient.domains}
    problems = []
    mirrors: dict[str, str] = {}
    for item in clinician.items:
        if item.domain not in patient_domains:
            if item.pair is not None:
                problems.append(f"{item.code}: domain {item.domain!r} is not on the patient form, so it has no pair")
            continue
        if item.pair is None:
            problems.append(f"{item.code}: names no patient item (pair)")
            continue
        target = patient_items.get(item.pair)
        if target is None:
            problems.append(f"{item.code}: pair {item.pair!r} is not an item of {patient.slug} {patient.version}")
            continue
        if target.domain != item.domain:
            problems.append(f"{item.code}: pair {item.pair} is in domain {target.domain!r}, not {item.domain!r}")
        elif item.element and target.element and item.element != target.element:
            problems.append(f"{item.code}: pair {item.pair} measures {target.element!r}, not {item.element!r}")
        if item.pair in mirrors:
            problems.append(f"{item.code}: {item.pair} is already mirrored by {mirrors[item.pair]}")
            continue
        mirrors[item.pair] = item.code
    for code in patient_items:
        if code not in mirrors:
            problems.append(f"patient item {code} has no clinician mirror")
    if problems:
        where = f"{clinician.slug} {clinician.version} does not mirror {patient.slug} {patient.version}"
        raise InstrumentError(f"{where}: " + "; ".join(problems))
    return mirrors


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
