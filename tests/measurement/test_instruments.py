"""The instrument JSON files keep the contract of docs/instruments.md.

Plain Python on purpose (no Django, no database): the files are the source of truth, so a broken edit should
fail here before anything tries to load it. The parser (measurement.instruments) is plain Python too.

The 1.1 versions (patient and clinician, mirrored item by item) and the competencies self-assessment are checked
here as content: every element covered in both languages, one-to-one pairs, balanced keying, no frequency words.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from measurement.instruments import (
    ELEMENT_DOMAINS,
    InstrumentError,
    check_pairs,
    checksum_of,
    instrument_files,
    parse_instrument,
    read_instrument_file,
)

INSTRUMENTS_DIR = Path(__file__).resolve().parents[2] / "surveys" / "instruments"
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


# --- instruments 1.1 and the competencies self-assessment ------------------------------------------------------

DRAFTS_DIR = INSTRUMENTS_DIR
DRAFTS = ["patient-1.1.json", "clinician-1.1.json", "competencies-1.0.json"]
PATIENT_ELEMENTS = sorted(element for element, domain in ELEMENT_DOMAINS.items() if domain not in COMPETENCIES)
MIDPOINT = {"en": "Neither agree nor disagree", "es": "Ni de acuerdo ni en desacuerdo"}

# Frequency words turn an agree/disagree item into two questions (how much and how often). The one exception:
# continuity *is* a frequency (the same clinician most of the time), so its items say "usually" / "por lo
# general"; without it "I see this same clinician" reads as "always" and regular patients would disagree.
FREQUENCY_WORDS = {
    "en": ["sometimes", "often", "usually", "always", "never", "rarely", "seldom", "frequently", "most of the time"],
    "es": ["a veces", "a menudo", "siempre", "nunca", "muchas veces", "rara vez", "con frecuencia",
           "frecuentemente", "por lo general"],
}
FREQUENCY_ALLOWED = {"continuity": {"usually", "por lo general"}}


def load_draft(name):
    return json.loads((DRAFTS_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def patient_draft():
    return read_instrument_file(DRAFTS_DIR / "patient-1.1.json")[1]


@pytest.fixture(scope="module")
def clinician_draft():
    return read_instrument_file(DRAFTS_DIR / "clinician-1.1.json")[1]


@pytest.fixture(scope="module")
def competencies_draft():
    return read_instrument_file(DRAFTS_DIR / "competencies-1.0.json")[1]


@pytest.fixture(scope="module", params=DRAFTS)
def draft(request):
    return load_draft(request.param)


def test_the_loader_reads_them_with_the_1_0_files():
    assert {path.name for path in instrument_files(INSTRUMENTS_DIR)} >= set(DRAFTS) | {"patient-1.0.json", "clinician-1.0.json"}


@pytest.mark.parametrize(
    "name, header",
    [
        ("patient-1.1.json", ("patient", "1.1", "patient")),
        ("clinician-1.1.json", ("clinician", "1.1", "clinician")),
        ("competencies-1.0.json", ("competencies", "1.0", "clinician")),
    ],
)
def test_each_draft_parses_with_its_header(name, header):
    data, spec = read_instrument_file(DRAFTS_DIR / name)
    assert (spec.slug, spec.version, spec.respondent) == header
    assert all(item.element for item in spec.items)
    assert set(data) == set(load("patient-1.0.json")), "same top-level keys as the 1.0 files"


def test_draft_items_use_the_1_0_keys_plus_element_and_pair(draft):
    for item in draft["items"]:
        assert set(item) - {"element", "pair"} == {"code", "domain", "reverse", "allow_na", "text"}, item["code"]


def test_patient_draft_covers_the_six_domains_with_three_items_each_and_fits_a_phone(patient_draft):
    assert [(d.code, d.kind) for d in patient_draft.domains] == SHARED_DOMAINS
    for code, _kind in SHARED_DOMAINS:
        assert len(patient_draft.items_of(code)) >= 3, code
    assert 18 <= len(patient_draft.items) <= 24


def test_per_visit_clinician_draft_has_the_six_domains_and_no_competencies(clinician_draft):
    assert [(d.code, d.kind) for d in clinician_draft.domains] == SHARED_DOMAINS
    assert not {item.domain for item in clinician_draft.items} & set(COMPETENCIES)


def test_competencies_draft_has_the_four_competencies_with_two_items_each(competencies_draft):
    assert [(d.code, d.kind) for d in competencies_draft.domains] == [(code, "competency") for code in COMPETENCIES]
    for code in COMPETENCIES:
        items = competencies_draft.items_of(code)
        assert len(items) >= 2, code
        assert {item.element for item in items} == {code}


@pytest.mark.parametrize("side", ["patient_draft", "clinician_draft"])
def test_every_element_of_the_six_domains_has_an_item_in_each_language(side, request):
    spec = request.getfixturevalue(side)
    for element in PATIENT_ELEMENTS:
        items = [item for item in spec.items if item.element == element]
        assert items, f"{spec.slug}: no item measures {element}"
        for lang in LANGUAGES:
            assert any(item.text.get(lang, "").strip() for item in items), f"{element}: no {lang} text"


def test_every_competency_has_an_item_in_each_language(competencies_draft):
    for element in COMPETENCIES:
        for lang in LANGUAGES:
            assert any(i.text[lang].strip() for i in competencies_draft.items if i.element == element), element


def test_clinician_items_mirror_patient_items_one_to_one(patient_draft, clinician_draft):
    mirrors = check_pairs(patient_draft, clinician_draft)
    assert set(mirrors) == {item.code for item in patient_draft.items}
    assert sorted(mirrors.values()) == sorted(item.code for item in clinician_draft.items)
    clinician_items = {item.code: item for item in clinician_draft.items}
    for patient_item in patient_draft.items:
        mirror = clinician_items[mirrors[patient_item.code]]
        # The same content from the other side: same domain, element, keying and "does not apply".
        assert (mirror.domain, mirror.element, mirror.reverse, mirror.allow_na) == (
            patient_item.domain, patient_item.element, patient_item.reverse, patient_item.allow_na,
        ), mirror.code


def test_both_sides_ask_the_same_number_of_items_per_domain(patient_draft, clinician_draft):
    count = lambda spec: Counter(item.domain for item in spec.items)  # noqa: E731
    assert count(patient_draft) == count(clinician_draft)


def test_check_pairs_names_every_broken_pair(patient_draft, clinician_draft):
    data = load_draft("clinician-1.1.json")
    data["items"][0]["pair"] = "P99"  # unknown patient item
    data["items"][1]["pair"] = "P05"  # a power item mirrored from valuing
    data["items"][2]["pair"] = "P04"  # P04 mirrored twice
    with pytest.raises(InstrumentError) as caught:
        check_pairs(patient_draft, parse_instrument(data))
    message = str(caught.value)
    for expected in ("'P99' is not an item", "P05 is in domain 'power'", "P04 is already mirrored",
                     "patient item P22 has no clinician mirror", "patient item P23 has no clinician mirror"):
        assert expected in message
    with pytest.raises(InstrumentError, match="in that order"):
        check_pairs(clinician_draft, patient_draft)


def test_patient_draft_reverse_keys_between_a_quarter_and_half_across_domains(patient_draft):
    reverse = [item for item in patient_draft.items if item.reverse]
    assert 0.25 <= len(reverse) / len(patient_draft.items) <= 0.50
    assert len({item.domain for item in reverse}) >= 4


def test_draft_items_carry_no_frequency_words(draft):
    for item in draft["items"]:
        allowed = FREQUENCY_ALLOWED.get(item["element"], set())
        for lang, words in FREQUENCY_WORDS.items():
            text = item["text"][lang].lower()
            for word in words:
                if word not in allowed:
                    assert not re.search(rf"\b{re.escape(word)}\b", text), f"{item['code']} ({lang}): {word!r}"


def test_draft_midpoint_is_neither_agree_nor_disagree(draft):
    labels = draft["scale"]["labels"]
    for lang in LANGUAGES:
        assert labels[lang][len(labels[lang]) // 2] == MIDPOINT[lang]
        assert "Neutral" not in labels[lang]


def test_draft_spanish_does_not_gender_the_clinician_or_the_patient(draft):
    # "este profesional de salud" (21 times in 1.0) and "este paciente" assume a man.
    for where, text in texts_of(draft):
        spanish = text["es"].lower()
        for phrase in ("este profesional", "el profesional", "este paciente", "el paciente"):
            assert phrase not in spanish, f"{where}: {phrase!r}"


def test_draft_item_codes_are_unique_and_keep_their_1_0_meaning(draft):
    codes = [item["code"] for item in draft["items"]]
    assert len(codes) == len(set(codes))
    old = {}
    if draft["slug"] in ("patient", "clinician"):
        old = {item["code"]: item for item in load(f"{draft['slug']}-1.0.json")["items"]}
    for item in draft["items"]:
        if item["code"] in old:
            # Same code, same meaning: the English source text, domain and keying are those of 1.0.
            before = old[item["code"]]
            assert (item["text"]["en"], item["domain"], item["reverse"]) == (
                before["text"]["en"], before["domain"], before["reverse"],
            ), item["code"]


def test_draft_general_rules_of_the_1_0_files_still_hold(draft):
    for where, text in texts_of(draft):
        for lang in LANGUAGES:
            assert isinstance(text.get(lang), str) and text[lang].strip(), f"{where}: missing {lang}"
    assert (draft["scale"]["min"], draft["scale"]["max"]) == (1, 5)
    assert sum(item["allow_na"] for item in draft["items"]) <= 4
    assert sum(item["reverse"] for item in draft["items"]) >= 2
    for item in draft["items"]:
        assert isinstance(item["reverse"], bool) and isinstance(item["allow_na"], bool), item["code"]


def test_the_item_map_documents_every_draft_item():
    doc = (INSTRUMENTS_DIR.parent.parent / "docs" / "instruments.md").read_text(encoding="utf-8")
    for name in DRAFTS:
        for item in load_draft(name)["items"]:
            assert f"| {item['code']} |" in doc, f"{name}: {item['code']} is missing from docs/instruments.md"
