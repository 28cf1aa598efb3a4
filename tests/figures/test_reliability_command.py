"""`manage.py reliability`: the evidence for comparing clinicians, checked against export_scores recomputed by numpy.

One practice, March 2025. Ana has 4 dyads (one answered twice in March: the later answers count; another
answered again in April: its March answers count), Ben 3, Cy 2 (and one more dyad answered only in February,
outside the period), Dee 1 (left out of every figure). Clinicians start from different levels and answers vary
item by item, so ICCs are neither 0 nor 1 and means have many decimals; two dyads answer at the top of the
scale, so some scores sit at the ceiling.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from unittest import mock

import numpy as np
import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent
from demo.seed import seed_demo
from measurement import scoring
from measurement.instruments import spec_for_version
from surveys import services
from tests import factories
from tests.cli import run, usage_error

START, END = dt.date(2025, 3, 1), dt.date(2025, 3, 31)
PERIOD = ["--start", START.isoformat(), "--end", END.isoformat()]
Z_95, Z_998 = 1.959964, 3.090232


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def varied(level: int, rng: random.Random):
    """Each item its own answer around a level (1-5)."""

    def answers(item) -> str:
        return str(min(5, max(1, level + rng.choice((-1, 0, 0, 1)))))

    return answers


def top(item) -> str:
    """The healthiest answer: every domain scores exactly 100."""
    return "1" if item.reverse else "5"


def answered(practice, clinician, reference: str, when: dt.datetime, answer) -> None:
    """A visit on `when`'s day whose patient questionnaire is submitted at `when`, through the services."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        new = factories.visit(practice, clinician, reference, when.date())
        invitation = factories.patient_invitation(new)
        spec = spec_for_version(invitation.instrument_version)
        services.submit_response(invitation, {item.code: answer(item) for item in spec.items})


@pytest.fixture
def practice(instruments):
    practice = factories.practice("riverside")
    ana, ben, cy, dee = (factories.member(practice, name, "clinician") for name in ("ana", "ben", "cy", "dee"))
    rng = random.Random(2025)
    march = [dt.date(2025, 3, day) for day in (3, 5, 10, 12, 17, 19, 24, 26)]

    answered(practice, ana, "P-01", at(march[0]), varied(2, rng))  # replaced by the same dyad's later answers
    answered(practice, ana, "P-01", at(march[4]), varied(4, rng))
    answered(practice, ana, "P-02", at(march[1]), top)
    answered(practice, ana, "P-03", at(march[2]), varied(4, rng))
    answered(practice, ana, "P-04", at(march[3]), varied(4, rng))  # counts: its April answers are after the period
    answered(practice, ana, "P-04", at(dt.date(2025, 4, 2)), varied(1, rng))

    for index, day in enumerate(march[5:8]):
        answered(practice, ben, f"P-1{index}", at(day), varied(3, rng))
    answered(practice, ben, "P-13", at(march[6], hour=15), top)  # a fourth dyad of Ben's, at the ceiling

    answered(practice, cy, "P-20", at(march[1], hour=9), varied(2, rng))
    answered(practice, cy, "P-21", at(march[7], hour=9), varied(2, rng))
    answered(practice, cy, "P-22", at(dt.date(2025, 2, 27)), varied(5, rng))  # before the period

    answered(practice, dee, "P-30", at(march[2], hour=16), varied(5, rng))  # a single dyad: left out
    return practice


# --- the independent recomputation -------------------------------------------------------------------------


def exported_latest(slug: str, start: dt.date = START, end: dt.date = END) -> dict[tuple[str, str], dict]:
    """Each dyad's latest patient row in the period, from `export_scores --format json`."""
    latest: dict[tuple[str, str], dict] = {}
    for row in json.loads(run("export_scores", "--practice", slug, "--format", "json")):
        submitted = dt.datetime.fromisoformat(row["submitted_at"])
        day = submitted.astimezone(timezone.get_current_timezone()).date()
        if row["respondent"] != "patient" or not start <= day <= end:
            continue
        key = (row["clinician"], row["patient"])
        current = latest.get(key)
        # Later submission wins; on a tie the later visit (the analytics order by submitted_at, then id).
        if current is None or (submitted, row["visit"]) > (
            dt.datetime.fromisoformat(current["submitted_at"]), current["visit"]
        ):
            latest[key] = row
    return latest


def by_clinician(latest: dict, domain: str) -> dict[str, np.ndarray]:
    groups: dict[str, list[float]] = {}
    for (clinician, _patient), row in latest.items():
        if row[domain] is not None:
            groups.setdefault(clinician, []).append(row[domain])
    return {clinician: np.array(values) for clinician, values in groups.items()}


def numpy_icc(groups: dict[str, np.ndarray]) -> float | None:
    """ICC(1) by the one-way ANOVA of the groups given, all of them (callers choose which take part)."""
    if len(groups) < 2:
        return None
    everything = np.concatenate(list(groups.values()))
    sizes = np.array([g.size for g in groups.values()], dtype=float)
    n, j = everything.size, len(groups)
    within = sum(np.sum((g - g.mean()) ** 2) for g in groups.values())
    between = np.sum((everything - everything.mean()) ** 2) - within
    msb, msw = between / (j - 1), within / (n - j)
    n0 = (n**2 - np.sum(sizes**2)) / (n * (j - 1))
    return float(np.clip((msb - msw) / (msb + (n0 - 1) * msw), 0.0, 1.0))


def expected_domain(latest: dict, domain: str) -> dict:
    groups = {c: g for c, g in by_clinician(latest, domain).items() if g.size >= 2}
    everything = np.concatenate(list(groups.values()))
    icc = numpy_icc(groups)
    sizes = [g.size for g in groups.values()]
    msw = sum(np.sum((g - g.mean()) ** 2) for g in groups.values()) / (everything.size - len(groups))
    clinicians = []
    for clinician in sorted(groups):
        g = groups[clinician]
        z = (g.mean() - everything.mean()) / (np.sqrt(msw) / np.sqrt(g.size))
        side = "above" if z > 0 else "below"
        clinicians.append({
            "clinician": clinician,
            "n": g.size,
            "mean": float(g.mean()),
            "reliability": float(g.size * icc / (1 + (g.size - 1) * icc)),
            "funnel": "inside" if abs(z) <= Z_95 else f"{side}_998" if abs(z) > Z_998 else f"{side}_95",
        })
    return {
        "domain": domain,
        "icc": icc,
        "design_effect": float(1 + (np.mean(sizes) - 1) * icc),
        "ceiling_share": float(np.mean(everything >= 100 - 1e-9)),
        "clinicians": clinicians,
    }


DOMAIN_FIGURES = ("domain", "icc", "design_effect", "ceiling_share")


def assert_agrees(document: dict, latest: dict) -> None:
    """Every domain's figures and every clinician's row of `reliability --format json` equal the recomputation."""
    for actual in document["domains"]:
        expected = expected_domain(latest, actual["domain"])
        assert_close({k: actual[k] for k in DOMAIN_FIGURES}, {k: expected[k] for k in DOMAIN_FIGURES})
        assert len(actual["clinicians"]) == len(expected["clinicians"])
        for actual_clinician, expected_clinician in zip(actual["clinicians"], expected["clinicians"]):
            assert_close(actual_clinician, expected_clinician)


def assert_close(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        else:
            assert actual[key] == value, key


# --- the JSON -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("end", [END, None], ids=["a past month", "a period reaching today"])
def test_it_prints_the_figures_export_scores_gives_when_recomputed_independently(practice, end):
    # A past period picks each dyad's latest response with a window; one reaching today reads the flags kept
    # on submit (there, P-04's April answers are its latest). Both must give export_scores' answer.
    end = end or timezone.localdate()
    document = json.loads(
        run("reliability", "--practice", "riverside", "--start", str(START), "--end", str(end), "--format", "json")
    )
    latest = exported_latest("riverside", START, end)

    assert list(document) == ["practice", "start", "end", "domains"]
    assert (document["practice"], document["start"], document["end"]) == ("riverside", "2025-03-01", end.isoformat())
    assert [d["domain"] for d in document["domains"]] == list(scoring.SHARED_DOMAINS)
    for actual in document["domains"]:
        assert list(actual) == [*DOMAIN_FIGURES, "clinicians"]
    assert_agrees(document, latest)


@pytest.mark.django_db
def test_it_counts_each_dyads_latest_response_in_the_period_only(practice):
    document = json.loads(run("reliability", "--practice", "riverside", *PERIOD, "--format", "json"))

    for domain in document["domains"]:
        assert {c["clinician"]: c["n"] for c in domain["clinicians"]} == {"ana": 4, "ben": 4, "cy": 2}


@pytest.mark.django_db
def test_it_leaves_a_clinician_with_one_dyad_out_of_the_icc_and_the_clinicians(practice):
    document = json.loads(run("reliability", "--practice", "riverside", *PERIOD, "--format", "json"))
    latest = exported_latest("riverside")

    assert any(clinician == "dee" for clinician, _patient in latest)  # Dee has a dyad in the period...
    for domain in document["domains"]:
        assert "dee" not in {c["clinician"] for c in domain["clinicians"]}  # ...but is in no list
        every_group = by_clinician(latest, domain["domain"])
        without_dee = {c: g for c, g in every_group.items() if c != "dee"}
        assert domain["icc"] == pytest.approx(numpy_icc(without_dee), abs=1e-12)
    # and with Dee's single value as a group, the ICC would have come out otherwise
    assert any(
        not np.isclose(domain["icc"], numpy_icc(by_clinician(latest, domain["domain"])), rtol=0, atol=1e-9)
        for domain in document["domains"]
    )


@pytest.mark.django_db
def test_it_finds_clinicians_that_differ_and_scores_at_the_ceiling(practice):
    document = json.loads(run("reliability", "--practice", "riverside", *PERIOD, "--format", "json"))

    assert any(0.0 < domain["icc"] < 1.0 for domain in document["domains"])
    assert all(domain["ceiling_share"] >= 0.2 for domain in document["domains"])  # 2 of 10 dyads answered at the top


@pytest.mark.django_db
def test_it_gives_empty_figures_for_a_period_without_responses(practice):
    january = ["--start", "2024-01-01", "--end", "2024-01-31"]
    document = json.loads(run("reliability", "--practice", "riverside", *january, "--format", "json"))

    assert document["domains"] == [
        {"domain": domain, "icc": None, "design_effect": None, "ceiling_share": None, "clinicians": []}
        for domain in scoring.SHARED_DOMAINS
    ]


@pytest.mark.django_db
def test_it_records_each_run_as_an_audit_event(practice):
    run("reliability", "--practice", "riverside", *PERIOD, "--format", "json")

    event = AuditEvent.objects.get(action=Action.EXPORT)
    assert event.practice == practice and event.actor_name == "command line"


# --- the text -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_prints_a_table_that_says_which_clinicians_are_not_reliable_enough(practice):
    text = run("reliability", "--practice", "riverside", *PERIOD)
    document = json.loads(run("reliability", "--practice", "riverside", *PERIOD, "--format", "json"))

    assert text.startswith("Comparing clinicians of riverside, 2025-03-01 to 2025-03-31")
    for domain in document["domains"]:
        assert f"{domain['domain']}: ICC {domain['icc']:.2f}, design effect {domain['design_effect']:.2f}" in text
        needed = next(
            n for n in range(1, 100_000) if n * domain["icc"] / (1 + (n - 1) * domain["icc"]) >= 0.70
        ) if domain["icc"] else None
        for clinician in domain["clinicians"]:
            row = next(
                line for line in text.splitlines()
                if line.split()[:2] == [clinician["clinician"], str(clinician["n"])]
                and f"{clinician['mean']:.1f}" in line and f"{clinician['reliability']:.2f}" in line
            )
            assert clinician["funnel"] in row
            if clinician["reliability"] < 0.70:
                assert "not reliable enough to compare clinicians" in row
                if needed:
                    assert f"{needed} patients would make it reliable" in row
            else:
                assert "not reliable" not in row
    assert "Left out (fewer than 2 dyads): dee" in text


# --- usage errors -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_exits_with_code_2_for_an_unknown_practice():
    error = usage_error("reliability", "--practice", "nowhere", *PERIOD)

    assert "Unknown practice 'nowhere'" in str(error)


@pytest.mark.django_db
def test_it_exits_with_code_2_when_the_end_is_before_the_start(practice):
    error = usage_error("reliability", "--practice", "riverside", "--start", "2025-03-31", "--end", "2025-03-01")

    assert "end date must be on or after the start date" in str(error)
    assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()


@pytest.mark.django_db
def test_it_exits_with_code_2_for_a_date_that_is_not_a_date(practice):
    error = usage_error("reliability", "--practice", "riverside", "--start", "2025-02-30", "--end", "2025-03-31")

    assert "Bad date '2025-02-30'" in str(error)


@pytest.mark.django_db
def test_it_agrees_with_export_scores_recomputed_independently_on_seed_demo_data(instruments):
    """The same check on the demo data a practice first sees: realistic clustering (small ICCs), ceilings,
    dyads answered more than once, and a half-year that ends in the past."""
    seed_demo(practices=1, clinicians=4, visits=1200, seed=7, today=dt.date(2026, 7, 10))
    start, end = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
    document = json.loads(
        run("reliability", "--practice", "demo-1", "--start", str(start), "--end", str(end), "--format", "json")
    )
    latest = exported_latest("demo-1", start, end)

    assert len(latest) > 200  # enough dyads for every figure to be computed
    for actual in document["domains"]:
        assert actual["icc"] is not None and 0 < actual["ceiling_share"] < 1
        assert len(actual["clinicians"]) == 4
    assert_agrees(document, latest)
