"""The instrument JSON files keep the contract of docs/instruments.md.

Plain Python on purpose (no Django, no database): the files are the source of truth, so a broken edit should
fail here before anything tries to load it.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

INSTRUMENTS_DIR = Path(__file__).resolve().parent.parent / "surveys" / "instruments"
LANGUAGES = ("en", "es")
SHARED_DOMAINS = [
    ("valuing", "process"),
    ("power", "process"),
    ("abiding", "process"),
    ("trust", "outcome"),
    ("hope", "outcome"),
    ("known", "outcome"),
]
COMPETENCIES = ["self_confidence", "emotional_self_management", "mindfulness", "knowledge"]


def load(name):
    return json.loads((INSTRUMENTS_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def patient():
    return load("patient-1.0.json")


@pytest.fixture(scope="module")
def clinician():
    return load("clinician-1.0.json")


@pytest.fixture(scope="module", params=["patient-1.0.json", "clinician-1.0.json"])
def instrument(request):
    return load(request.param)


def items_per_domain(instrument):
    return Counter(item["domain"] for item in instrument["items"])


def texts_of(instrument):
    """Every bilingual text in the file, with a name saying where it lives."""
    yield "title", instrument["title"]
    yield "intro", instrument["intro"]
    yield "not_applicable", instrument["scale"]["not_applicable"]
    yield "comment label", instrument["comment"]["label"]
    for domain in instrument["domains"]:
        yield f"domain {domain['code']} label", domain["label"]
        yield f"domain {domain['code']} description", domain["description"]
    for item in instrument["items"]:
        yield f"item {item['code']} text", item["text"]


def test_patient_header_names_slug_version_and_respondent(patient):
    assert (patient["slug"], patient["version"], patient["respondent"]) == ("patient", "1.0", "patient")


def test_clinician_header_names_slug_version_and_respondent(clinician):
    assert (clinician["slug"], clinician["version"], clinician["respondent"]) == ("clinician", "1.0", "clinician")


def test_patient_covers_the_six_domains_with_three_items_each(patient):
    assert [(d["code"], d["kind"]) for d in patient["domains"]] == SHARED_DOMAINS
    counts = items_per_domain(patient)
    for code, _kind in SHARED_DOMAINS:
        assert counts[code] >= 3, f"{code} has {counts[code]} items"


def test_patient_has_no_competency_domains(patient):
    assert not [d["code"] for d in patient["domains"] if d["kind"] == "competency"]
    assert not set(COMPETENCIES) & {item["domain"] for item in patient["items"]}


def test_patient_stays_short_enough_for_a_phone(patient):
    # About three minutes: a handful of statements per domain, not a long battery.
    assert len(patient["items"]) <= 24


def test_clinician_covers_the_six_domains_and_four_competencies_with_two_items_each(clinician):
    domains = {d["code"]: d["kind"] for d in clinician["domains"]}
    for code, kind in SHARED_DOMAINS:
        assert domains.get(code) == kind
    for code in COMPETENCIES:
        assert domains.get(code) == "competency"
    assert len(domains) == len(SHARED_DOMAINS) + len(COMPETENCIES)
    counts = items_per_domain(clinician)
    for code in domains:
        assert counts[code] >= 2, f"{code} has {counts[code]} items"


def test_clinician_shares_the_patient_domain_codes_so_gaps_can_be_computed(patient, clinician):
    clinician_codes = {d["code"] for d in clinician["domains"]}
    assert {d["code"] for d in patient["domains"]} <= clinician_codes


def test_each_instrument_has_at_least_two_reverse_keyed_items(instrument):
    reverse = [item["code"] for item in instrument["items"] if item["reverse"]]
    assert len(reverse) >= 2


def test_reverse_keyed_items_are_spread_over_different_domains(instrument):
    domains = {item["domain"] for item in instrument["items"] if item["reverse"]}
    assert len(domains) >= 2


def test_item_codes_are_unique(instrument):
    codes = [item["code"] for item in instrument["items"]]
    assert len(codes) == len(set(codes))


def test_item_codes_run_in_order_with_the_respondent_prefix(instrument):
    prefix = instrument["respondent"][0].upper()
    codes = [item["code"] for item in instrument["items"]]
    assert codes == [f"{prefix}{n:02d}" for n in range(1, len(codes) + 1)]


def test_domain_codes_are_unique_and_kinds_known(instrument):
    codes = [d["code"] for d in instrument["domains"]]
    assert len(codes) == len(set(codes))
    assert {d["kind"] for d in instrument["domains"]} <= {"process", "outcome", "competency"}


def test_every_item_points_at_a_declared_domain(instrument):
    codes = {d["code"] for d in instrument["domains"]}
    for item in instrument["items"]:
        assert item["domain"] in codes, item["code"]


def test_every_item_flags_reverse_and_not_applicable_as_booleans(instrument):
    for item in instrument["items"]:
        assert isinstance(item["reverse"], bool), item["code"]
        assert isinstance(item["allow_na"], bool), item["code"]


def test_not_applicable_is_offered_sparingly(instrument):
    # "Does not apply" is for items that can truly not fit (a crisis, advocacy); elsewhere it invites skipping.
    assert sum(item["allow_na"] for item in instrument["items"]) <= 4


def test_every_text_has_english_and_spanish(instrument):
    for where, text in texts_of(instrument):
        for lang in LANGUAGES:
            value = text.get(lang)
            assert isinstance(value, str) and value.strip(), f"{where}: missing {lang}"


def test_scale_labels_name_every_point_in_both_languages(instrument):
    scale = instrument["scale"]
    points = scale["max"] - scale["min"] + 1
    assert (scale["min"], scale["max"]) == (1, 5)
    for lang in LANGUAGES:
        labels = scale["labels"][lang]
        assert len(labels) == points
        assert all(isinstance(label, str) and label.strip() for label in labels)
