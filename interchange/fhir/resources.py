"""FHIR R4 views of our instruments and responses (README.md): model objects and specs in, JSON-ready dicts out.

No queries and no I/O: the views (front/fhir_views.py) fetch and scope, these functions only translate, so
they can be checked against the FHIR models in tests/interchange/test_fhir.py.

Choices, so that consumers can rely on them:
- A Questionnaire's id is "<slug>-<version>"; its canonical `url` is version-independent
  (SITE_URL/fhir/Questionnaire/<slug>) and `version` says which version, so a response points at
  "<url>|<version>". English is the resource's language; Spanish rides on the standard translation extension
  (on `_title`, `_description`, every item's `_text` and every answer's `_display`).
- Items are grouped by domain: one `group` item per domain (linkId = domain code) holding that domain's
  questions (linkId = our item code, type `choice`, required). Each group and each question also carries the
  domain as a `code` Coding (system SITE_URL/fhir/CodeSystem/domains), so a flat reader still knows it.
- Answers are Codings of SITE_URL/fhir/CodeSystem/answers: "1".."5" (the scale's points, as given, before any
  reverse keying) and "na" for "does not apply", offered only where the item allows it.
- Scores ride on the QuestionnaireResponse as extensions: one complex `domain-score` extension per domain
  (sub-extensions `domain`, a Coding, and `score`, a decimal 0-100 in full precision; `score` is absent when the
  domain is missing under docs/measurement.md), and `process-index` / `outcome-index` decimals, absent when missing.
- People are logical references (an identifier, no resource to fetch): the patient by the practice's own
  pseudonymous reference code, the clinician by username, the visit as the encounter.
- The free-text comment is left out: it is not scored, and free text can carry the names that the pseudonymous
  reference keeps out.
"""

from __future__ import annotations

from django.conf import settings

from audit import services as audit
from audit.models import Action
from measurement.instruments import LANGUAGES, InstrumentSpec, spec_for_version
from surveys.domains import DOMAIN_LABELS, domain_labels
from surveys.models import Response

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
BASE_LANGUAGE = "en"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
NA_CODE = "na"
PROCESS_INDEX, OUTCOME_INDEX = "process-index", "outcome-index"
# When what the server can do last changed (CapabilityStatement.date): bump it with the capabilities.
CAPABILITY_DATE = "2026-12-04"
DOMAIN_CODES = tuple(DOMAIN_LABELS)
# The extensions our resources carry: name -> (the elements they sit on, their value type or None when complex).
EXTENSIONS = {
    "domain-kind": ("Questionnaire.item", "code", "Whether a domain group is a process, an outcome or a competency."),
    "reverse-keyed": ("Questionnaire.item.item", "boolean",
                      "The item is scored as min + max - answer (docs/measurement.md)."),
    "clinician": ("QuestionnaireResponse", "Reference", "The clinician of the dyad the response is about."),
    "domain-score": ("QuestionnaireResponse", None,
                     "One domain's score from 0 to 100: `domain` (a Coding of CodeSystem/domains) and `score` "
                     "(a decimal, absent when too few items were answered)."),
    PROCESS_INDEX: ("QuestionnaireResponse", "decimal", "The mean of the valuing, power and abiding scores."),
    OUTCOME_INDEX: ("QuestionnaireResponse", "decimal", "The mean of the trust, hope and known scores."),
}
CODE_SYSTEMS = ("domains", "answers")


# --- where things live -------------------------------------------------------------------------


def base_url() -> str:
    return settings.SITE_URL + "/fhir"


def domain_system() -> str:
    return base_url() + "/CodeSystem/domains"


def answer_system() -> str:
    return base_url() + "/CodeSystem/answers"


def extension_url(name: str) -> str:
    return base_url() + "/StructureDefinition/" + name


def patient_system(practice_slug: str) -> str:
    """Reference codes are the practice's own, so each practice is its own identifier system."""
    return f"{base_url()}/sid/practices/{practice_slug}/patients"


def clinician_system() -> str:
    return base_url() + "/sid/clinicians"


def visit_system() -> str:
    return base_url() + "/sid/visits"


def questionnaire_id(slug: str, version: str) -> str:
    return f"{slug}-{version}"


def parse_questionnaire_id(resource_id: str) -> tuple[str, str] | None:
    """("patient", "1.0") from "patient-1.0"; slugs may hold hyphens, versions do not. None for anything else."""
    slug, dash, version = resource_id.rpartition("-")
    if not dash or not slug or not version or len(resource_id) > 64:
        return None
    return slug, version


def questionnaire_url(slug: str) -> str:
    return f"{base_url()}/Questionnaire/{slug}"


def questionnaire_canonical(slug: str, version: str) -> str:
    return f"{questionnaire_url(slug)}|{version}"


# --- small pieces --------------------------------------------------------------------------------


def _translations(text: dict) -> dict | None:
    """The `_element` companion carrying the non-English texts, or None when there are none."""
    extensions = [
        {
            "url": TRANSLATION,
            "extension": [{"url": "lang", "valueCode": lang}, {"url": "content", "valueString": text[lang]}],
        }
        for lang in LANGUAGES
        if lang != BASE_LANGUAGE and text.get(lang)
    ]
    return {"extension": extensions} if extensions else None


def _text(element: str, text: dict) -> dict:
    """`{element: English, _element: translations}`: a translated string element."""
    out = {element: text.get(BASE_LANGUAGE) or next(iter(text.values()), "")}
    translated = _translations(text)
    if translated:
        out["_" + element] = translated
    return out


def _instant(value) -> str:
    return value.isoformat()


def _domain_coding(domain) -> dict:
    return {"system": domain_system(), "code": domain.code, "display": domain_labels(domain.code)[BASE_LANGUAGE]}


def answer_codes(spec: InstrumentSpec, allow_na: bool) -> list[str]:
    codes = [str(value) for value in range(spec.scale.min, spec.scale.max + 1)]
    return codes + [NA_CODE] if allow_na else codes


def _answer_label(spec: InstrumentSpec, code: str) -> dict:
    if code == NA_CODE:
        return spec.na_label
    index = int(code) - spec.scale.min
    return {lang: labels[index] for lang, labels in spec.scale_labels.items() if 0 <= index < len(labels)}


def _answer_coding(spec: InstrumentSpec, code: str) -> dict:
    return {"system": answer_system(), "code": code, **_text("display", _answer_label(spec, code))}


def _computable_name(slug: str) -> str:
    """Questionnaire.name must look like a programming-language identifier (starts upper case, no hyphens)."""
    words = "".join(c if c.isalnum() else " " for c in slug).split()
    return "Healing" + "".join(word[:1].upper() + word[1:] for word in words)


# --- resources -----------------------------------------------------------------------------------


def questionnaire(spec: InstrumentSpec, *, current: bool = True, last_updated=None) -> dict:
    """The instrument as a FHIR Questionnaire. A superseded version is `retired`: it still explains old answers."""
    resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(spec.slug, spec.version),
        **({"meta": {"lastUpdated": _instant(last_updated)}} if last_updated is not None else {}),
        "language": BASE_LANGUAGE,
        "url": questionnaire_url(spec.slug),
        "version": spec.version,
        "name": _computable_name(spec.slug),
        **_text("title", spec.title),
        "status": "active" if current else "retired",
        "subjectType": ["Patient"],
    }
    if any(spec.intro.get(lang) for lang in LANGUAGES):
        resource.update(_text("description", spec.intro))
    resource["item"] = [_domain_group(spec, domain) for domain in spec.domains]
    return resource


def _domain_group(spec: InstrumentSpec, domain) -> dict:
    return {
        "linkId": domain.code,
        "extension": [{"url": extension_url("domain-kind"), "valueCode": domain.kind}],
        "code": [_domain_coding(domain)],
        **_text("text", domain_labels(domain.code)),
        "type": "group",
        "required": True,
        "item": [_question(spec, domain, item) for item in spec.items_of(domain.code)],
    }


def _question(spec: InstrumentSpec, domain, item) -> dict:
    question = {
        "linkId": item.code,
        "code": [_domain_coding(domain)],
        **_text("text", item.text),
        "type": "choice",
        "required": True,
        "answerOption": [{"valueCoding": _answer_coding(spec, code)} for code in answer_codes(spec, item.allow_na)],
    }
    if item.reverse:
        # Scored as min + max - answer (docs/measurement.md): a consumer re-scoring the answers needs to know.
        question["extension"] = [{"url": extension_url("reverse-keyed"), "valueBoolean": True}]
    return question


def _patient_reference(practice_slug: str, reference: str) -> dict:
    return {"type": "Patient", "identifier": {"system": patient_system(practice_slug), "value": reference}}


def _clinician_reference(clinician) -> dict:
    return {
        "type": "Practitioner",
        "identifier": {"system": clinician_system(), "value": clinician.get_username()},
        "display": clinician.get_full_name() or clinician.get_username(),
    }


def questionnaire_response(response, spec: InstrumentSpec) -> dict:
    """A submitted response as a FHIR QuestionnaireResponse, with its domain scores and indices as extensions.

    Expects `response` with practice, visit, dyad (patient, clinician) loaded and its answers (with items) and
    scores prefetched; `spec` is its instrument version's spec.
    """
    patient = _patient_reference(response.practice.slug, response.dyad.patient.reference)
    clinician = _clinician_reference(response.dyad.clinician)
    answered_by = patient if response.respondent == "patient" else clinician
    answers = {answer.item.code: answer.value for answer in response.answers.all()}
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.pk),
        "meta": {"lastUpdated": _instant(response.submitted_at)},
        "language": response.language,
        "extension": [
            {"url": extension_url("clinician"), "valueReference": clinician},
            *score_extensions(spec, {s.domain: s.score for s in response.scores.all()}),
            *_index_extension(PROCESS_INDEX, response.process_index),
            *_index_extension(OUTCOME_INDEX, response.outcome_index),
        ],
        "questionnaire": questionnaire_canonical(spec.slug, spec.version),
        "status": "completed",
        "subject": patient,
        "encounter": {"type": "Encounter", "identifier": {"system": visit_system(), "value": str(response.visit_id)}},
        "authored": _instant(response.submitted_at),
        "author": answered_by,
        "source": answered_by,
        "item": _answered_groups(spec, answers),
    }


def _answered_groups(spec: InstrumentSpec, answers: dict[str, int | None]) -> list[dict]:
    """The Questionnaire's domain groups with their answers; FHIR allows no empty list, so no empty group."""
    groups = []
    for domain in spec.domains:
        items = [
            _answered_item(spec, item, answers[item.code]) for item in spec.items_of(domain.code) if item.code in answers
        ]
        if items:
            groups.append({"linkId": domain.code, **_text("text", domain_labels(domain.code)), "item": items})
    return groups


def _answered_item(spec: InstrumentSpec, item, value: int | None) -> dict:
    code = NA_CODE if value is None else str(value)
    return {"linkId": item.code, **_text("text", item.text), "answer": [{"valueCoding": _answer_coding(spec, code)}]}


def score_extensions(spec: InstrumentSpec, scores: dict[str, float | None]) -> list[dict]:
    """One `domain-score` extension per domain of the instrument, in its order; a missing score has no `score`."""
    extensions = []
    for domain in spec.domains:
        parts = [{"url": "domain", "valueCoding": _domain_coding(domain)}]
        score = scores.get(domain.code)
        if score is not None:
            parts.append({"url": "score", "valueDecimal": score})
        extensions.append({"url": extension_url("domain-score"), "extension": parts})
    return extensions


def _index_extension(name: str, value: float | None) -> list[dict]:
    return [] if value is None else [{"url": extension_url(name), "valueDecimal": value}]


def questionnaire_bundle(questionnaires: list[dict], self_url: str) -> dict:
    """A search's answer: a searchset Bundle of the Questionnaires found (none is an empty Bundle, not a 404)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(questionnaires),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": f"{base_url()}/Questionnaire/{q['id']}", "resource": q, "search": {"mode": "match"}}
            for q in questionnaires
        ],
    }


def _definition(resource_type: str, resource_id: str, title: str) -> dict:
    return {
        "resourceType": resource_type,
        "id": resource_id,
        "url": f"{base_url()}/{resource_type}/{resource_id}",
        "name": _computable_name(resource_id),
        "title": title,
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "Healing",
    }


def code_system(name: str, spec: InstrumentSpec | None = None) -> dict | None:
    """CodeSystem/domains (every domain and index, named in every language) or CodeSystem/answers (the answer
    codes of `spec`, the current patient instrument: 1 to 5 and "na"); None for any other name."""
    if name == "domains":
        codes = [(code, domain_labels(code)) for code in DOMAIN_CODES]
        title = "Healing relationship domains"
    elif name == "answers" and spec is not None:
        codes = [(code, _answer_label(spec, code)) for code in answer_codes(spec, allow_na=True)]
        title = "Healing questionnaire answers"
    else:
        return None
    return {
        **_definition("CodeSystem", name, title),
        "caseSensitive": True,
        "content": "complete",
        "count": len(codes),
        "concept": [
            {
                "code": code,
                "display": labels.get(BASE_LANGUAGE, code),
                **(
                    {"designation": [{"language": lang, "value": text} for lang, text in labels.items()
                                     if lang != BASE_LANGUAGE and text]}
                    if any(lang != BASE_LANGUAGE and text for lang, text in labels.items()) else {}
                ),
            }
            for code, labels in codes
        ],
    }


def structure_definition(name: str) -> dict | None:
    """The StructureDefinition of one of our extensions (EXTENSIONS); None for any other name."""
    if name not in EXTENSIONS:
        return None
    context, value_type, description = EXTENSIONS[name]
    url = extension_url(name)
    elements = [{"id": "Extension", "path": "Extension", "short": description, "definition": description}]
    if value_type is None:  # complex: a domain coding and its score
        for part, part_type in (("domain", "Coding"), ("score", "decimal")):
            elements += [
                {"id": f"Extension.extension:{part}", "path": "Extension.extension", "sliceName": part,
                 "min": 1 if part == "domain" else 0, "max": "1"},
                {"id": f"Extension.extension:{part}.url", "path": "Extension.extension.url", "fixedUri": part},
                {"id": f"Extension.extension:{part}.value[x]", "path": "Extension.extension.value[x]",
                 "type": [{"code": part_type}]},
            ]
        elements += [{"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                     {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"}]
    else:
        elements += [{"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
                     {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                     {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1,
                      "type": [{"code": value_type}]}]
    return {
        **_definition("StructureDefinition", name, f"Healing extension: {name}"),
        "description": description,
        "fhirVersion": FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": context}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def capability_statement(software_version: str = "") -> dict:
    """What this server does: read and search Questionnaires, read QuestionnaireResponses and our definitions
    (CodeSystems, StructureDefinitions); JSON only, for signed-in users."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "Healing",
        "kind": "instance",
        "software": {"name": "Healing", **({"version": software_version} if software_version else {})},
        "implementation": {"description": "Healing relationships questionnaires", "url": base_url()},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": (
                        "Sign in to Healing first (session cookie). A Questionnaire is visible to every signed-in "
                        "person; a QuestionnaireResponse only to its practice's managers, the dyad's clinician and "
                        "platform admins."
                    )
                },
                "resource": [
                    {
                        "type": "Questionnaire",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": "url", "type": "uri",
                             "documentation": "The canonical URL; a `|version` suffix selects one version."},
                            {"name": "version", "type": "token"},
                        ],
                    },
                    {"type": "QuestionnaireResponse", "interaction": [{"code": "read"}]},
                    {"type": "CodeSystem", "interaction": [{"code": "read"}]},
                    {"type": "StructureDefinition", "interaction": [{"code": "read"}]},
                ],
            }
        ],
    }


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict:
    """An error as FHIR reports one (issue type codes: not-found, login, not-supported, ...)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def release_questionnaire_response(response, *, request=None) -> dict:
    """A response as FHIR, recorded in the audit trail: row-level data leaves the site here."""
    audit.record(Action.EXPORT, request=request, practice=response.practice, obj=response, format="fhir")
    return questionnaire_response(response, spec_for_version(response.instrument_version))


def refuse_questionnaire_response(response_id: int, *, request=None) -> None:
    """Record that someone who may not have row-level data asked for a response (only when it exists, and only
    its practice and id: the refusal itself answers 404 either way)."""
    response = Response.objects.filter(pk=response_id).select_related("practice").first()
    if response is not None:
        audit.record(Action.RELEASE_REFUSED, request=request, practice=response.practice, obj=response, kind="fhir")
