"""The instrument JSON files keep the contract of DESIGN §2.

Plain Python on purpose (no Django, no database): the files are the source of truth, so a broken edit should
fail here before anything tries to load it. The parser (surveys.questionnaires) is plain Python too.

"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from surveys.questionnaires import (
    ELEMENT_DOMAINS,
    InstrumentError,
    check_pairs,
    checksum_of,
    parse_instrument,
    read_instrument_file,
)

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


# --- version 1.1: elements and pairs, checked by the parser ----------------------------------------------------

# The checksums of the 1.0 files as loaded into databases that already hold answers: parsing them must not change.
CHECKSUMS_1_0 = {
    "patient-1.0.json": "49dd226ca0e4d40e7f28b0825dc8967d86261e2bb077e72287ad82b90304ad35",
    "clinician-1.0.json": "292c801ee100b08b844a339c2b3515eee7729d990501a7f43412b040f88e92ef",
}


def minimal(version="1.1", respondent="patient", **item):
    """A one-domain instrument document with one item, for parser tests."""
    return {
        "slug": respondent,
        "version": version,
        "respondent": respondent,
        "title": {"en": "T", "es": "T"},
        "scale": {"min": 1, "max": 5, "labels": {lang: list("12345") for lang in LANGUAGES}},
        "domains": [{"code": item.pop("domain_code", "valuing"), "kind": item.pop("kind", "process"),
                     "label": {"en": "V", "es": "V"}}],
        "items": [{"code": "X01", "domain": "valuing", "text": {"en": "x", "es": "x"}, **item}],
    }


@pytest.mark.parametrize("name", sorted(CHECKSUMS_1_0))
def test_1_0_files_parse_as_before_with_the_same_checksum_and_no_elements(name):
    data, spec = read_instrument_file(INSTRUMENTS_DIR / name)
    assert spec.checksum == checksum_of(data) == CHECKSUMS_1_0[name]
    assert all(item.element is None and item.pair is None for item in spec.items)


def test_element_map_covers_every_domain_of_the_model():
    assert set(ELEMENT_DOMAINS.values()) == {code for code, _ in SHARED_DOMAINS} | set(COMPETENCIES)


def test_from_1_1_every_item_names_its_element():
    with pytest.raises(InstrumentError, match="needs an element"):
        parse_instrument(minimal())
    assert parse_instrument(minimal(element="presence")).items[0].element == "presence"


@pytest.mark.parametrize("element", ["listening", "", None, ["presence"]])
def test_an_unknown_element_is_refused(element):
    with pytest.raises(InstrumentError, match="element"):
        parse_instrument(minimal(element=element))


def test_an_element_of_another_domain_is_refused():
    with pytest.raises(InstrumentError, match="belongs to domain 'trust'"):
        parse_instrument(minimal(element="vulnerability"))


def test_before_1_1_elements_are_optional_but_checked_when_present():
    assert parse_instrument(minimal(version="1.0")).items[0].element is None
    with pytest.raises(InstrumentError, match="belongs to domain"):
        parse_instrument(minimal(version="1.0", element="better_future"))
    half = minimal(version="1.0", element="presence")
    half["items"].append({"code": "X02", "domain": "valuing", "text": {"en": "y", "es": "y"}})
    with pytest.raises(InstrumentError, match="X02: needs an element"):
        parse_instrument(half)


@pytest.mark.parametrize("pair", ["", "  ", 7])
def test_a_pair_is_a_non_empty_item_code(pair):
    with pytest.raises(InstrumentError, match="pair must be a non-empty item code"):
        parse_instrument(minimal(respondent="clinician", element="presence", pair=pair))


def test_per_visit_clinician_items_name_their_pair_from_1_1():
    assert parse_instrument(minimal(respondent="clinician", element="presence", pair="P22")).items[0].pair == "P22"
    with pytest.raises(InstrumentError, match="names the patient item it mirrors"):
        parse_instrument(minimal(respondent="clinician", element="presence"))


def test_patient_and_competency_items_carry_no_pair():
    with pytest.raises(InstrumentError, match="only clinician items"):
        parse_instrument(minimal(element="presence", pair="C01"))
    competency = minimal(respondent="clinician", domain_code="mindfulness", kind="competency", element="mindfulness")
    competency["items"][0]["domain"] = "mindfulness"
    assert parse_instrument(competency).items[0].pair is None
    competency["items"][0]["pair"] = "P22"
    with pytest.raises(InstrumentError, match="competency item has no patient item"):
        parse_instrument(competency)

