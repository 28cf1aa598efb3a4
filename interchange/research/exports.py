"""Exports researchers use (issue #7 item 4; docs/exports.md): tidy answers, tidy scores, a codebook,
an SPSS file and REDCap data dictionaries, for one practice and period.

The reads live at the top of this file (the web page and `export_research` share them); everything below
them is a pure builder that takes querysets or instrument specs and returns rows or bytes, so the command
line and the web page write the same files.

Codes used across the files:
- An answer of *not applicable* is empty in the CSVs (with answer_na = 1) and `na_code` (9 on our 1..5
  scale) in the SPSS file, declared user-missing there; an item the response did not contain (the other
  instrument's items) is system-missing.
- `scored` is the answer as it counts towards a score: reverse-keyed items mirrored (min + max - answer),
  docs/measurement.md. The SPSS file holds the raw answers, so that its value labels read true.
- Times are submitted_at in ISO 8601 with offset in the CSVs (as export_scores writes them) and UTC in SPSS.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone, translation

from audit import services as audit
from audit.models import Action
from measurement import scoring
from measurement.casemix import COVARIATES as CASEMIX_COVARIATES
from measurement.instruments import InstrumentSpec, spec_for_version
from plumbing import csvfile
from plumbing.period import Period
from surveys import casemix as casemix_labels
from surveys.domains import domain_label, domain_labels
from surveys.models import Answer, CaseMix, Instrument, InstrumentVersion, Patient, Practice, Response
from surveys.selectors import export_responses

from .scores import DOMAIN_COLUMNS, SCORE_COLUMNS, score_rows

ANSWERS_FILE, RESPONSES_FILE, CODEBOOK_FILE, SAV_FILE = "answers.csv", "responses.csv", "codebook.csv", "responses.sav"
ZIP_FILE = "research.zip"
CASEMIX_FILE = "casemix.csv"
"""The patients' optional "About you" answers, one row per response that gave any: in research.zip only, so
platform admins only like every row-level file (docs/exports.md)."""
CASEMIX_COLUMNS = ["visit", "dyad", "clinician", "patient", "submitted_at", *CASEMIX_COVARIATES]
ROW_LEVEL_FILES = (ANSWERS_FILE, RESPONSES_FILE, SAV_FILE, ZIP_FILE)
"""Files holding one row per answer or response: pseudonymous row data, platform admins only (docs/exports.md)."""

ANSWER_COLUMNS = [
    "visit", "dyad", "clinician", "patient", "respondent", "instrument", "version", "submitted_at", "language",
    "item", "domain", "reverse", "answer", "answer_na", "scored",
]
CODEBOOK_COLUMNS = ["file", "column", "meaning", "type", "values_or_unit"]
REDCAP_COLUMNS = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
]
INDEX_COLUMNS = ("process_index", "outcome_index")


# --- reads -----------------------------------------------------------------------------------------
# Unscoped by user: callers have already decided the practice (the view through selectors.practice_for,
# the command as an operator).


def period_responses(practice: Practice, period: Period) -> QuerySet[Response]:
    """The practice's responses submitted in the period (inclusive dates), as export_scores reads them."""
    start, end = period.bounds
    return export_responses(practice).filter(submitted_at__gte=start, submitted_at__lt=end)


def period_answers(practice: Practice, period: Period) -> QuerySet[Answer]:
    """Every stored answer of those responses, in the same order as the responses, then item order."""
    start, end = period.bounds
    return Answer.objects.filter(
        response__practice=practice, response__submitted_at__gte=start, response__submitted_at__lt=end
    ).order_by("response__submitted_at", "response_id", "item__position", "item_id")


def instrument_versions() -> list[InstrumentVersion]:
    """Every loaded instrument version, patient instruments first, oldest version first."""
    versions = InstrumentVersion.objects.select_related("instrument").order_by("instrument__slug", "pk")
    return sorted(versions, key=lambda v: (v.respondent != "patient", v.instrument.slug, v.pk))


def instrument_specs() -> list[InstrumentSpec]:
    return [spec_for_version(version) for version in instrument_versions()]


# --- CSV ----------------------------------------------------------------------------------------------


def csv_bytes(columns: list[str], rows: Iterable[dict], quoting: int = csv.QUOTE_MINIMAL, *, bom: bool = True) -> bytes:
    """A research CSV: opened in spreadsheets as often as in R or SPSS, so UTF-8 with a byte order mark."""
    return csvfile.text(columns, rows, quoting=quoting, bom=bom).encode("utf-8")


# --- answers.csv: one row per stored answer --------------------------------------------------------

_ANSWER_FIELDS = (
    "response__visit_id", "response__dyad_id", "response__dyad__clinician__username",
    "response__dyad__patient__reference", "response__respondent", "response__instrument_version__instrument__slug",
    "response__instrument_version__version", "response__submitted_at", "response__language",
    "item__code", "item__domain__code", "item__reverse", "value",
    "response__instrument_version__scale_min", "response__instrument_version__scale_max",
)


def answer_rows(answers: QuerySet[Answer]) -> Iterator[dict]:
    """Answers as dicts keyed by ANSWER_COLUMNS, read in one streamed query."""
    scales: dict[tuple[int, int], scoring.Scale] = {}
    for (visit, dyad, clinician, patient, respondent, instrument, version, submitted_at, language,
         item, domain, reverse, value, scale_min, scale_max) in answers.values_list(*_ANSWER_FIELDS).iterator(2000):
        scale = scales.get((scale_min, scale_max))
        if scale is None:
            scale = scales[scale_min, scale_max] = scoring.Scale(scale_min, scale_max)
        yield {
            "visit": visit,
            "dyad": dyad,
            "clinician": clinician,
            "patient": patient,
            "respondent": respondent,
            "instrument": instrument,
            "version": version,
            "submitted_at": submitted_at.isoformat(),
            "language": language,
            "item": item,
            "domain": domain,
            "reverse": reverse,
            "answer": value,
            "answer_na": value is None,
            "scored": scoring.scored_value(value, scale, reverse),
        }


def answers_csv(answers: QuerySet[Answer]) -> bytes:
    return csv_bytes(ANSWER_COLUMNS, answer_rows(answers))


# --- responses.csv: export_scores' rows for the period ---------------------------------------------


def responses_csv(responses: Iterable[Response]) -> bytes:
    return csv_bytes(SCORE_COLUMNS, score_rows(responses))


# --- casemix.csv: the optional "About you" answers ---------------------------------------------------


def casemix_csv(practice: Practice, period: Period) -> bytes:
    """One row per response of the period that answered at least one "About you" question, in response order;
    an empty cell is a skipped question."""
    start, end = period.bounds
    rows = CaseMix.objects.filter(
        response__practice=practice, response__submitted_at__gte=start, response__submitted_at__lt=end
    ).order_by("response__submitted_at", "response_id").values_list(
        "response__visit_id", "response__dyad_id", "response__dyad__clinician__username",
        "response__dyad__patient__reference", "response__submitted_at", *CASEMIX_COVARIATES,
    )
    return csv_bytes(CASEMIX_COLUMNS, (
        dict(zip(CASEMIX_COLUMNS, (*row[:4], row[4].isoformat(), *row[5:]))) for row in rows
    ))


# --- the SPSS file -----------------------------------------------------------------------------------

# SPSS documents (DOCUMENT lines) are at most 80 bytes each.
SAV_NOTES = [
    "Healing research export: see docs/exports.md and codebook.csv.",
    "Items hold raw answers; reverse-keyed items are not mirrored.",
    "Not applicable = 9 (99 on a scale reaching 9), declared user-missing.",
    "System-missing: item not in this instrument, or domain score missing.",
    "Domain scores and indices 0-100 at full precision; submitted_at in UTC.",
]
NUMERIC_KINDS = ("id", "item", "score")
SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}


def na_code(scale_max: int) -> int:
    """The code for *not applicable* where a number is needed: 9, or 99 on a scale that reaches 9."""
    return 9 if scale_max < 9 else 99


def _scale_points(spec: InstrumentSpec) -> list[tuple[int, str]]:
    """(value, English label) for every point of the scale."""
    return list(zip(range(spec.scale.min, spec.scale.max + 1), spec.scale_labels["en"]))


def _english(text: dict) -> str:
    return text.get("en") or next(iter(text.values()), "")


def _fit(text: str, limit: int) -> str:
    """Cut to SPSS's byte limits (variable labels 255, value labels 120) without splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _spss_name(text: str) -> str:
    """A valid SPSS variable name: a letter first, then letters, digits and underscores, at most 64 bytes."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not name or not name[0].isalpha() or name.upper() in SPSS_RESERVED:
        name = f"v_{name}"
    return name[:64]


@dataclass
class SavVariable:
    name: str
    label: str
    kind: str  # id, text, datetime, item, score
    meaning: str = ""
    value_labels: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)
    # For items: which (instrument slug, item code) answers land in this variable.
    sources: set = field(default_factory=set)
    # For text: the SPSS width in bytes, the same in every period's file (see text_width).
    width: int = 0


BLANK_LABEL = "(no value)"
"""The label of a text variable's blank value: SPSS has no missing strings, a blank is how none is stored."""


def text_width(model, field_name: str) -> int:
    """The most bytes a text field can hold: SPSS string widths count bytes, UTF-8 takes up to 4 a character.

    Widths fixed by the schema, not by the data, so files of different periods (an empty one included) have
    the same variables of the same widths, and SPSS or PSPP can stack them with ADD FILES.
    """
    return 4 * model._meta.get_field(field_name).max_length


def sav_variables(specs: Iterable[InstrumentSpec]) -> list[SavVariable]:
    """The SPSS file's variables: the same for every period, so files of different periods stack.

    Items of every loaded instrument version, one variable per item code and instrument (codes are stable
    across versions when the meaning is unchanged, docs/instruments.md); labels and scale labels from the newest
    version. A code used by two instruments gets the instrument's slug in front of it.
    """
    specs = list(specs)
    User = get_user_model()
    base = [
        SavVariable("visit", "Visit id", "id", "The visit's id; with respondent, the key of a response in every file."),
        SavVariable("dyad", "Dyad id (one clinician with one patient)", "id", "The dyad's id."),
        SavVariable("clinician", "Clinician (username)", "text", "The clinician's username.",
                    width=text_width(User, User.USERNAME_FIELD)),
        SavVariable("patient", "Patient reference (pseudonymous)", "text", "The practice's patient reference code.",
                    width=text_width(Patient, "reference")),
        SavVariable("respondent", "Respondent", "text", "Who answered: patient or clinician.",
                    width=text_width(Response, "respondent")),
        SavVariable("instrument", "Instrument", "text", "The instrument's slug.", width=text_width(Instrument, "slug")),
        SavVariable("version", "Instrument version", "text", "The instrument's version.",
                    width=text_width(InstrumentVersion, "version")),
        SavVariable("submitted_at", "Submitted at (UTC)", "datetime", "When the questionnaire was submitted, in UTC."),
        SavVariable("language", "Language answered in", "text", "en or es.", width=text_width(Response, "language")),
    ]
    newest: dict[tuple[str, str], tuple[InstrumentSpec, object]] = {}
    instruments_of: dict[str, set[str]] = {}
    for spec in specs:  # oldest first, so the newest version's wording wins
        for item in spec.items:
            newest[(spec.slug, item.code)] = (spec, item)
            instruments_of.setdefault(item.code, set()).add(spec.slug)
    items: dict[str, SavVariable] = {}
    for (slug, code), (spec, item) in newest.items():
        name = _spss_name(code if len(instruments_of[code]) == 1 else f"{slug}_{code}")
        na = na_code(spec.scale.max)
        labels = {float(value): _fit(label, 120) for value, label in _scale_points(spec)}
        labels[float(na)] = _fit(_english(spec.na_label), 120)
        keyed = " (reverse-keyed)" if item.reverse else ""
        variable = items.setdefault(name, SavVariable(name, "", "item"))
        variable.label = _fit(f"{code}{keyed}: {_english(item.text)}", 255)
        variable.meaning = (
            f"{slug} item {code} ({_english(item.text)}), domain {item.domain}{keyed}: the raw answer "
            f"({spec.scale.min}..{spec.scale.max}); {na} = {_english(spec.na_label).lower()} (user-missing)"
        )
        variable.value_labels, variable.missing = labels, [float(na)]
        variable.sources.add((slug, code))
    with translation.override("en"):
        scores = [
            SavVariable(code, f"{domain_label(code)} (domain score, 0-100)", "score", _domain_meaning(code))
            for code in DOMAIN_COLUMNS
        ] + [
            SavVariable(code, f"{domain_label(code)} (0-100)", "score", _index_meaning(code)) for code in INDEX_COLUMNS
        ]
    names = [v.name for v in base + list(items.values()) + scores]
    if len({n.upper() for n in names}) != len(names):
        raise ValueError("two SPSS variables would share a name; rename an item code")
    return base + list(items.values()) + scores


def _domain_meaning(code: str) -> str:
    who = " (clinician responses only)" if code in scoring.COMPETENCY_DOMAINS else ""
    return (
        f"Domain score{who}: 100*(mean-min)/(max-min) of the domain's scored, applicable answers; "
        "missing when fewer than half its items (rounded up) have a scored answer (docs/measurement.md)"
    )


def _index_meaning(code: str) -> str:
    domains = scoring.PROCESS_DOMAINS if code == "process_index" else scoring.OUTCOME_DOMAINS
    return f"Mean of {', '.join(domains)}; missing if any of them is missing"


def answers_by_response(answers: QuerySet[Answer]) -> dict[int, dict[str, object]]:
    """response id -> item code -> raw value (None: does not apply); unanswered items are absent. Read once per
    export and shared by the SPSS file and the REDCap data files."""
    answered: dict[int, dict[str, object]] = {}
    for response_id, code, value in answers.values_list("response_id", "item__code", "value").iterator(2000):
        answered.setdefault(response_id, {})[code] = value
    return answered


def sav_table(
    responses: Iterable[Response], answered: dict[int, dict[str, object]], variables: list[SavVariable]
) -> dict[str, list]:
    """Column name -> values, one entry per response (floats for numbers, None for system-missing).
    `answered` is answers_by_response of the same responses' answers."""
    by_source = {source: v.name for v in variables if v.kind == "item" for source in v.sources}
    na_of = {v.name: v.missing[0] for v in variables if v.kind == "item"}

    def item_values(response: Response) -> dict[str, float]:
        slug = response.instrument_version.instrument.slug
        named = ((by_source[(slug, code)], value) for code, value in answered.get(response.pk, {}).items())
        return {name: na_of[name] if value is None else float(value) for name, value in named}

    responses = list(responses)
    columns: dict[str, list] = {v.name: [] for v in variables}
    for response, row in zip(responses, score_rows(responses)):
        values = {
            **row,
            **item_values(response),
            "dyad": response.dyad_id,
            "language": response.language,
            "submitted_at": response.submitted_at.astimezone(dt.UTC).replace(tzinfo=None),
        }
        for variable in variables:
            value = values.get(variable.name)
            numeric = value is not None and variable.kind in NUMERIC_KINDS
            columns[variable.name].append(float(value) if numeric else value)
    return columns


def sav_bytes(table: dict[str, list], variables: list[SavVariable], *, file_label: str = "") -> bytes:
    """Write the table as an SPSS .sav with variable labels, value labels and user-missing codes."""
    # Imported here: pandas and pyreadstat take a moment to load and only this file needs them.
    import pandas as pd
    import pyreadstat

    dtypes = {"id": "float64", "item": "float64", "score": "float64", "text": "str", "datetime": "datetime64[us]"}
    frame = pd.DataFrame({v.name: pd.Series(table[v.name], dtype=dtypes[v.kind]) for v in variables})
    items = [v for v in variables if v.kind == "item"]
    formats = {v.name: "F12.0" for v in variables if v.kind == "id"}
    formats |= {v.name: f"F{len(str(int(v.missing[0])))}.0" for v in items}
    formats |= {v.name: "F5.1" for v in variables if v.kind == "score"}  # stored at full precision, shown to 0.1
    measures = {v.name: {"item": "ordinal", "score": "scale"}.get(v.kind, "nominal") for v in variables}
    measures["submitted_at"] = "scale"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / SAV_FILE
        pyreadstat.write_sav(
            frame,
            str(path),
            file_label=file_label[:64],
            column_labels={v.name: v.label for v in variables},
            # A text variable's width is fixed by its blank value's label: pyreadstat sizes a string variable by
            # the longest of its values and labels, and ignores variable_format for strings.
            variable_value_labels={v.name: v.value_labels for v in items}
            | {v.name: {" " * v.width: BLANK_LABEL} for v in variables if v.kind == "text"},
            missing_ranges={v.name: v.missing for v in items},
            variable_format=formats,
            variable_measure=measures,
            note=SAV_NOTES,
        )
        return path.read_bytes()


# --- the codebook ------------------------------------------------------------------------------------

_ANSWER_CODEBOOK = [
    ("visit", "The visit's id; with respondent, the key of a response in every file", "integer", "id"),
    ("dyad", "The dyad's id: one clinician with one patient", "integer", "id"),
    ("clinician", "The clinician's username", "text", ""),
    ("patient", "The practice's own patient reference (pseudonymous, never a name)", "text", ""),
    ("respondent", "Who answered", "text", "patient | clinician"),
    ("instrument", "The instrument's slug", "text", "patient | clinician"),
    ("version", "The instrument's version", "text", "e.g. 1.0"),
    ("submitted_at", "When the questionnaire was submitted", "datetime", "ISO 8601 with UTC offset"),
    ("language", "The language the questionnaire was answered in", "text", "en | es"),
    ("item", "The item's code (stable across versions when its meaning is unchanged)", "text", "e.g. P01"),
    ("domain", "The domain the item counts towards", "text", " | ".join(DOMAIN_COLUMNS)),
    ("reverse", "Whether the item is reverse-keyed (agreeing means a weaker relationship)", "0/1", "1 = reverse-keyed"),
    ("answer", "The answer as given, on the instrument's scale", "integer",
     "1..5 (1 Strongly disagree, 2 Disagree, 3 Neutral, 4 Agree, 5 Strongly agree); empty = not applicable"),
    ("answer_na", "Whether the answer was 'Does not apply'", "0/1", "1 = not applicable"),
    ("scored", "The answer as it counts towards the domain score: reverse-keyed items mirrored (min + max - answer)",
     "integer", "1..5; empty when not applicable"),
]


def codebook_rows(variables: list[SavVariable]) -> list[dict]:
    """What every column of answers.csv, responses.csv, responses.sav and casemix.csv means."""
    rows = [dict(zip(CODEBOOK_COLUMNS, (ANSWERS_FILE, *entry))) for entry in _ANSWER_CODEBOOK]
    shared = {column: entry for column, *entry in _ANSWER_CODEBOOK}
    described = {v.name: v for v in variables}
    for column in SCORE_COLUMNS:
        if column in shared:
            entry = shared[column]
        else:
            entry = (described[column].meaning, "number", "0..100 at full precision; empty = missing")
        rows.append(dict(zip(CODEBOOK_COLUMNS, (RESPONSES_FILE, column, *entry))))
    sav_types = {"id": "numeric", "text": "string", "datetime": "SPSS datetime", "item": "numeric", "score": "numeric"}
    for variable in variables:
        if variable.kind == "item":
            values = "; ".join(f"{int(value)} = {label}" for value, label in variable.value_labels.items())
            values += f"; user-missing {int(variable.missing[0])}; system-missing = not in this instrument"
        elif variable.kind == "score":
            values = "0..100 at full precision (shown to 0.1); system-missing = missing"
        elif variable.kind == "datetime":
            values = "UTC"
        else:
            values = f"A{variable.width} in every file; blank = {BLANK_LABEL}"
        entry = (SAV_FILE, variable.name, variable.meaning, sav_types[variable.kind], values)
        rows.append(dict(zip(CODEBOOK_COLUMNS, entry)))
    for column in CASEMIX_COLUMNS:
        if column in shared:
            entry = shared[column]
        else:
            with translation.override("en"):  # the codebook is in English, as the item texts in it
                question = str(casemix_labels.QUESTIONS[column])
            entry = (f"Optional question, not scored: {question}", "text",
                     " | ".join(CASEMIX_COVARIATES[column]) + "; empty = skipped or 'Prefer not to say'")
        rows.append(dict(zip(CODEBOOK_COLUMNS, (CASEMIX_FILE, column, *entry))))
    return rows


def codebook_csv(variables: list[SavVariable]) -> bytes:
    return csv_bytes(CODEBOOK_COLUMNS, codebook_rows(variables))


# --- REDCap data dictionaries ------------------------------------------------------------------------


def redcap_name(text: str) -> str:
    """REDCap's rule for variable and form names: lower-case letters, digits and underscores, a letter first."""
    name = re.sub(r"[^a-z0-9_]", "_", text.lower())
    return name if name[:1].isalpha() else f"v_{name}"


def redcap_filename(spec: InstrumentSpec) -> str:
    return f"redcap-{spec.slug}-{spec.version}.csv"


def redcap_choices(spec: InstrumentSpec, allow_na: bool) -> str:
    """`1, Strongly disagree | 2, Disagree | ...`, with the not-applicable code where the item allows it."""
    clean = lambda label: label.replace("|", "/").strip()  # noqa: E731 - a pipe would split the choice
    choices = [f"{value}, {clean(label)}" for value, label in _scale_points(spec)]
    if allow_na:
        choices.append(f"{na_code(spec.scale.max)}, {clean(_english(spec.na_label))}")
    return " | ".join(choices)


REDCAP_RECORD_ID = "record_id"
REDCAP_COMPLETE = 2
"""REDCap's form status for a finished form (0 incomplete, 1 unverified, 2 complete)."""


def redcap_form(spec: InstrumentSpec) -> str:
    return redcap_name(f"{spec.slug}_{spec.version}")


def redcap_rows(spec: InstrumentSpec) -> list[dict]:
    """The record id first (REDCap's rule for a project's first field), then one row per item in questionnaire
    order; the domain's label heads its first item."""
    form = redcap_form(spec)
    record_id = {
        **dict.fromkeys(REDCAP_COLUMNS, ""),
        "Variable / Field Name": REDCAP_RECORD_ID,
        "Form Name": form,
        "Field Type": "text",
        "Field Label": "Record ID (Healing visit id)",
        "Field Annotation": "The visit's id: a visit's patient and clinician forms share it, as in every Healing file",
    }
    rows, headed = [record_id], set()
    for item in spec.items:
        keyed = "; reverse-keyed" if item.reverse else ""
        rows.append({
            **dict.fromkeys(REDCAP_COLUMNS, ""),
            "Variable / Field Name": redcap_name(item.code),
            "Form Name": form,
            "Section Header": "" if item.domain in headed else domain_labels(item.domain)["en"],
            "Field Type": "radio",
            "Field Label": _english(item.text),
            "Choices, Calculations, OR Slider Labels": redcap_choices(spec, item.allow_na),
            "Required Field?": "y",
            # Annotations are not shown to respondents; a Field Note would be.
            "Field Annotation": f"Healing {spec.slug} {spec.version} item {item.code}; domain {item.domain}{keyed}",
        })
        headed.add(item.domain)
    return rows


def redcap_csv(spec: InstrumentSpec) -> bytes:
    # Every cell quoted, as REDCap writes its own dictionaries.
    return csv_bytes(REDCAP_COLUMNS, redcap_rows(spec), csv.QUOTE_ALL, bom=False)  # uploaded to REDCap as it is


def redcap_data_filename(spec: InstrumentSpec) -> str:
    return f"redcap-data-{spec.slug}-{spec.version}.csv"


def redcap_data_columns(spec: InstrumentSpec) -> list[str]:
    """The dictionary's fields in its order, then the form's status field that REDCap adds to every form."""
    return [REDCAP_RECORD_ID, *(redcap_name(item.code) for item in spec.items), f"{redcap_form(spec)}_complete"]


def redcap_data_csv(spec: InstrumentSpec, responses: Iterable[Response], answered: dict[int, dict[str, object]]) -> bytes:
    """REDCap's flat import file for one instrument version, against its dictionary: one row per response of that
    version, the record id first, each item's choice code (not applicable as its own code, never blank), blank
    when unanswered, and the form marked complete. No BOM: it is imported as it is."""
    na = na_code(spec.scale.max)
    rows = []
    for response in responses:
        version = response.instrument_version
        if (version.instrument.slug, version.version) != (spec.slug, spec.version):
            continue
        values = answered.get(response.pk, {})
        row = {REDCAP_RECORD_ID: response.visit_id, f"{redcap_form(spec)}_complete": REDCAP_COMPLETE}
        for item in spec.items:
            if item.code in values:
                value = values[item.code]
                row[redcap_name(item.code)] = na if value is None else int(value)
        rows.append(row)
    return csv_bytes(redcap_data_columns(spec), rows, bom=False)


# --- everything for a period ---------------------------------------------------------------------------


def sav_label(practice: Practice, period: Period) -> str:
    return f"Healing {practice.slug} {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}"


def sav_file(practice: Practice, period: Period, variables: list[SavVariable] | None = None, responses=None,
             answered: dict[int, dict[str, object]] | None = None) -> bytes:
    """responses.sav for the period."""
    variables = variables if variables is not None else sav_variables(instrument_specs())
    responses = responses if responses is not None else period_responses(practice, period)
    answered = answered if answered is not None else answers_by_response(period_answers(practice, period))
    table = sav_table(responses, answered, variables)
    return sav_bytes(table, variables, file_label=sav_label(practice, period))


def research_files(practice: Practice, period: Period) -> dict[str, bytes]:
    """Every file of the research export, by name: what the ZIP holds and the command writes."""
    specs = instrument_specs()
    variables = sav_variables(specs)
    responses = list(period_responses(practice, period))
    answered = answers_by_response(period_answers(practice, period))  # read once: the SPSS and REDCap files
    files = {
        ANSWERS_FILE: answers_csv(period_answers(practice, period)),
        RESPONSES_FILE: responses_csv(responses),
        CODEBOOK_FILE: codebook_csv(variables),
        SAV_FILE: sav_file(practice, period, variables, responses, answered),
    }
    files |= {redcap_filename(spec): redcap_csv(spec) for spec in specs}
    files |= {redcap_data_filename(spec): redcap_data_csv(spec, responses, answered) for spec in specs}
    files[CASEMIX_FILE] = casemix_csv(practice, period)
    return files


def zip_bytes(files: dict[str, bytes], when: dt.datetime | None = None) -> bytes:
    stamp = timezone.localtime(when or timezone.now()).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def download_name(practice: Practice, period: Period, name: str) -> str:
    """answers.csv -> a-answers-2026-01-01-2026-03-31.csv: downloads of several periods do not overwrite."""
    stem, _, suffix = name.rpartition(".")
    return f"{practice.slug}-{stem}-{period.start:%Y-%m-%d}-{period.end:%Y-%m-%d}.{suffix}"


# --- releases: what a person downloads, recorded in the audit trail ---------------------------------------


def release_file(name: str, practice: Practice, period: Period, *, request=None):
    """The research file `name` for the period: bytes, or (answers.csv, the largest) an iterator of CSV lines that
    is streamed and never held whole. The caller has checked who may have row-level files."""
    audit.record(Action.EXPORT, request=request, practice=practice, kind=name,
                 start=period.start.isoformat(), end=period.end.isoformat())
    if name == ANSWERS_FILE:
        return csvfile.lines(ANSWER_COLUMNS, answer_rows(period_answers(practice, period)), bom=True)
    if name == RESPONSES_FILE:
        return responses_csv(period_responses(practice, period))
    if name == SAV_FILE:
        return sav_file(practice, period)
    return zip_bytes(research_files(practice, period))


def release_codebook(practice: Practice, *, request=None) -> bytes:
    audit.record(Action.EXPORT, request=request, practice=practice, kind=CODEBOOK_FILE)
    return codebook_csv(sav_variables(instrument_specs()))


def release_redcap_dictionary(spec: InstrumentSpec, practice: Practice, *, request=None) -> bytes:
    audit.record(Action.EXPORT, request=request, practice=practice, kind=redcap_filename(spec))
    return redcap_csv(spec)


def refuse_file(name: str, practice: Practice, *, request=None) -> None:
    """Record that someone who may not have row-level data asked for a row-level file."""
    audit.record(Action.RELEASE_REFUSED, request=request, practice=practice, kind=name)
