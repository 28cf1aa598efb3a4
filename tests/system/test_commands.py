"""The command-line interface of README.md, driven through call_command like an operator would.

Usage errors leave with exit code 2 (CommandError.returncode); calling the commands in-process keeps the test
database, which a `subprocess` run of manage.py could not see.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from demo.seed import DEMO_PASSWORD
from surveys import services
from surveys.models import (
    DomainScore,
    Invitation,
    Membership,
    Patient,
    Practice,
    Response,
    Visit,
)
from tests import factories
from tests.cli import run, usage_error

User = get_user_model()

EXPORT_HEADER = (
    "visit,clinician,patient,respondent,instrument,version,submitted_at,valuing,power,abiding,trust,hope,known,"
    "self_confidence,emotional_self_management,mindfulness,knowledge,process_index,outcome_index"
)
COMPETENCIES = ["self_confidence", "emotional_self_management", "mindfulness", "knowledge"]


# --- create_practice ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_practice_creates_a_practice_once():
    first = run("create_practice", "--slug", "riverside", "--name", "Riverside", "--min-n", "7")
    second = run("create_practice", "--slug", "riverside", "--name", "Riverside")

    assert "Created practice riverside" in first
    assert "riverside" in second and "Created" not in second
    practice = Practice.objects.get()
    assert (practice.slug, practice.name, practice.min_reporting_n) == ("riverside", "Riverside", 5)


@pytest.mark.django_db
def test_create_practice_defaults_the_minimum_n_to_5():
    run("create_practice", "--slug", "riverside", "--name", "Riverside")

    assert Practice.objects.get(slug="riverside").min_reporting_n == 5


@pytest.mark.django_db
def test_create_practice_refuses_a_bad_slug():
    error = usage_error("create_practice", "--slug", "not a slug!", "--name", "Riverside")

    assert "slug" in str(error).lower()
    assert not Practice.objects.exists()


@pytest.mark.django_db
def test_create_practice_refuses_a_minimum_n_below_1():
    usage_error("create_practice", "--slug", "riverside", "--name", "Riverside", "--min-n", "0")

    assert not Practice.objects.exists()


# --- add_member --------------------------------------------------------------------------------


def test_add_member_creates_the_user_when_missing(practice_a):
    out = run("add_member", "--practice", "a", "--username", "dr-lee", "--role", "clinician", "--password", "pw-12345")

    assert "dr-lee" in out
    user = User.objects.get(username="dr-lee")
    assert user.check_password("pw-12345")
    assert list(Membership.objects.filter(user=user).values_list("practice__slug", "role")) == [("a", "clinician")]


def test_add_member_is_idempotent(practice_a):
    run("add_member", "--practice", "a", "--username", "dr-lee", "--role", "manager")
    again = run("add_member", "--practice", "a", "--username", "dr-lee", "--role", "manager")

    assert "Already" in again
    assert User.objects.filter(username="dr-lee").count() == 1
    assert Membership.objects.filter(user__username="dr-lee").count() == 1


def test_add_member_uses_an_existing_account(practice_a, practice_b, clinician_a):
    run("add_member", "--practice", "b", "--username", "clin-a", "--role", "clinician")

    assert User.objects.filter(username="clin-a").count() == 1
    assert sorted(Membership.objects.filter(user=clinician_a).values_list("practice__slug", flat=True)) == ["a", "b"]
    # No --password: the password set earlier still works.
    clinician_a.refresh_from_db()
    assert clinician_a.check_password(factories.PASSWORD)


def test_add_member_refuses_an_unknown_practice_and_writes_nothing(practice_a):
    error = usage_error("add_member", "--practice", "nowhere", "--username", "dr-lee", "--role", "clinician")

    assert "nowhere" in str(error)
    assert not User.objects.filter(username="dr-lee").exists()
    assert not Membership.objects.filter(user__username="dr-lee").exists()


def test_add_member_refuses_an_unknown_role(practice_a):
    with pytest.raises(CommandError):
        run("add_member", "--practice", "a", "--username", "dr-lee", "--role", "admin")

    assert not User.objects.filter(username="dr-lee").exists()


# --- create_visit ------------------------------------------------------------------------------


def create_visit(*extra) -> tuple[str, dict]:
    out = run("create_visit", "--practice", "a", "--clinician", "clin-a", "--patient", "PA-042", *extra)
    lines = out.splitlines()
    assert len(lines) == 1, out
    return out, json.loads(lines[0])


def test_create_visit_prints_one_json_line_with_absolute_links(clinician_a):
    _, printed = create_visit("--date", "2026-03-02")

    assert set(printed) == {"visit", "patient_url", "clinician_url"}
    visit = Visit.objects.get(pk=printed["visit"])
    assert (visit.date, visit.dyad.clinician, visit.dyad.patient.reference) == (dt.date(2026, 3, 2), clinician_a, "PA-042")
    assert printed["patient_url"].startswith(settings.SITE_URL + "/")
    assert printed["clinician_url"] == f"{settings.SITE_URL}/clinician/visits/{visit.pk}/questionnaire/"


def test_create_visit_links_follow_the_site_url(settings, clinician_a):
    settings.SITE_URL = "https://healing.example.org"

    _, printed = create_visit()

    assert printed["patient_url"].startswith("https://healing.example.org/s/")
    assert printed["clinician_url"].startswith("https://healing.example.org/clinician/")


def test_create_visit_dates_the_visit_today_by_default(clinician_a):
    _, printed = create_visit()

    assert Visit.objects.get(pk=printed["visit"]).date == timezone.localdate()


def test_the_patient_link_opens_the_questionnaire(client, clinician_a):
    _, printed = create_visit()
    path = urlsplit(printed["patient_url"]).path
    match = re.fullmatch(r"/s/([A-Za-z0-9_-]{43,})/", path)
    assert match, path

    response = client.get(path)

    assert response.status_code == 200
    invitation = Invitation.objects.get(visit_id=printed["visit"], respondent="patient")
    assert invitation.token_hash == hashlib.sha256(match.group(1).encode()).hexdigest()
    assert invitation.opened_at is not None


def test_the_clinician_link_opens_the_clinicians_questionnaire(client, clinician_a):
    _, printed = create_visit()
    client.force_login(clinician_a)

    response = client.get(urlsplit(printed["clinician_url"]).path)

    assert response.status_code == 200


def test_the_links_carry_no_patient_reference(clinician_a):
    out, _ = create_visit()

    assert out.count("PA-042") == 0


@pytest.mark.parametrize(
    "args, named",
    [
        (["--practice", "nowhere", "--clinician", "clin-a", "--patient", "PA-1"], "nowhere"),
        (["--practice", "a", "--clinician", "dr-nobody", "--patient", "PA-1"], "dr-nobody"),
        (["--practice", "a", "--clinician", "clin-a", "--patient", "PA-1", "--date", "2026-02-30"], "2026-02-30"),
        (["--practice", "a", "--clinician", "clin-a", "--patient", "PA-1", "--date", "02/03/2026"], "02/03/2026"),
        (["--practice", "a", "--clinician", "mgr-a", "--patient", "PA-1"], "mgr-a"),
        (["--practice", "b", "--clinician", "clin-a", "--patient", "PA-1"], "clin-a"),
        (["--practice", "a", "--clinician", "clin-a", "--patient", "   "], "reference"),
        (["--practice", "a", "--clinician", "clin-a", "--patient", "Jane Smith"], "may be a name"),
    ],
    ids=["unknown-practice", "unknown-clinician", "impossible-date", "bad-date-format", "a-manager", "other-practice",
         "blank-patient", "a-name"],
)
def test_create_visit_refuses_bad_input_and_creates_nothing(clinician_a, manager_a, practice_b, args, named):
    error = usage_error("create_visit", *args)

    assert named in str(error)
    assert not Visit.objects.exists()
    assert not Patient.objects.exists()
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_create_visit_refuses_when_no_instruments_are_loaded():
    practice = factories.practice("a")
    factories.member(practice, "clin-a", "clinician")

    error = usage_error("create_visit", "--practice", "a", "--clinician", "clin-a", "--patient", "PA-1")

    assert "load_instruments" in str(error)
    assert not Visit.objects.exists()
    assert not Patient.objects.exists()


# --- export_scores -----------------------------------------------------------------------------


@pytest.fixture
def scored_visits(practice_a, clinician_a, visit_a):
    """Visit A with both responses, and a second visit with only the patient's."""
    for invitation in visit_a.visit.invitations.all():
        services.submit_response(invitation, factories.full_answers(invitation, 4))
    second = factories.visit(practice_a, clinician_a, "PA-002")
    invitation = factories.patient_invitation(second)
    answers = factories.full_answers(invitation, 5)
    answers[next(iter(answers))] = "2"
    services.submit_response(invitation, answers)
    return visit_a.visit, second.visit


def export(fmt: str, practice: str = "a") -> str:
    return run("export_scores", "--practice", practice, "--format", fmt)


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_scores_csv_has_the_contract_header(scored_visits):
    assert export("csv").splitlines()[0] == EXPORT_HEADER


def test_export_scores_csv_has_the_header_even_without_responses(practice_a):
    assert export("csv").splitlines() == [EXPORT_HEADER]


def test_export_scores_defaults_to_csv(scored_visits):
    assert run("export_scores", "--practice", "a") == export("csv")


def test_export_scores_has_one_row_per_response(scored_visits):
    rows = csv_rows(export("csv"))

    assert len(rows) == Response.objects.count() == 3
    first, second = scored_visits
    assert sorted((int(r["visit"]), r["respondent"]) for r in rows) == sorted(
        [(first.pk, "patient"), (first.pk, "clinician"), (second.pk, "patient")]
    )
    for row in rows:
        response = Response.objects.get(visit_id=row["visit"], respondent=row["respondent"])
        assert (row["clinician"], row["instrument"], row["version"]) == ("clin-a", row["respondent"], "1.0")
        assert row["patient"] == response.dyad.patient.reference
        assert dt.datetime.fromisoformat(row["submitted_at"]) == response.submitted_at
        for domain, score in response.scores.values_list("domain", "score"):
            assert float(row[domain]) == score
        assert float(row["process_index"]) == response.process_index
        assert float(row["outcome_index"]) == response.outcome_index


def test_export_scores_leaves_competencies_empty_for_patients(scored_visits):
    for row in csv_rows(export("csv")):
        if row["respondent"] == "patient":
            assert [row[c] for c in COMPETENCIES] == ["", "", "", ""]
        else:
            assert all(row[c] != "" for c in COMPETENCIES)


def test_export_scores_leaves_missing_scores_empty(scored_visits):
    # A domain with too few scored answers is stored empty, and so is the index it belongs to. (Our instruments
    # cannot lose a domain through the form, so the missing score is written directly.)
    response = Response.objects.get(visit=scored_visits[1])
    DomainScore.objects.filter(response=response, domain="power").update(score=None)
    Response.objects.filter(pk=response.pk).update(process_index=None)

    row = next(r for r in csv_rows(export("csv")) if int(r["visit"]) == scored_visits[1].pk)

    assert (row["power"], row["process_index"]) == ("", "")
    assert row["valuing"] != "" and row["outcome_index"] != ""


def test_export_scores_json_gives_the_same_values(scored_visits):
    from_csv = csv_rows(export("csv"))
    from_json = json.loads(export("json"))

    assert len(from_json) == len(from_csv) == 3
    for as_csv, as_json in zip(from_csv, from_json):
        assert list(as_json) == EXPORT_HEADER.split(",")
        for key, value in as_json.items():
            if value is None:
                assert as_csv[key] == ""
            elif isinstance(value, float):
                assert float(as_csv[key]) == value
            else:
                assert as_csv[key] == str(value)
    assert all(row[c] is None for row in from_json if row["respondent"] == "patient" for c in COMPETENCIES)


def test_export_scores_keeps_to_its_practice(scored_visits, practice_b, clinician_b):
    other = factories.visit(practice_b, clinician_b, "PB-001")
    invitation = factories.patient_invitation(other)
    services.submit_response(invitation, factories.full_answers(invitation))

    assert {row["clinician"] for row in csv_rows(export("csv", "a"))} == {"clin-a"}
    assert [row["clinician"] for row in csv_rows(export("csv", "b"))] == ["clin-b"]


def test_export_scores_refuses_an_unknown_practice(practice_a):
    assert "nowhere" in str(usage_error("export_scores", "--practice", "nowhere"))


# --- seed_demo ---------------------------------------------------------------------------------

SMALL_DEMO = ["--practices", "1", "--clinicians", "2", "--visits", "40"]
# Demo dates count back from today and submissions stop at "now": pin both so two runs can be compared.
FIXED_NOW = dt.datetime(2026, 3, 15, 14, 30, tzinfo=dt.timezone.utc)


def demo_contents() -> list[tuple]:
    """Everything the seed decides, without database ids (PostgreSQL sequences do not roll back) or
    random-by-design secrets (token hashes, password salts)."""
    rows = []
    for invitation in Invitation.objects.select_related(
        "visit__dyad__clinician", "visit__dyad__patient", "visit__practice", "instrument_version"
    ).prefetch_related("response__answers__item", "response__scores"):
        visit = invitation.visit
        response = getattr(invitation, "response", None)
        rows.append(
            (
                visit.practice.slug,
                visit.dyad.clinician.username,
                visit.dyad.patient.reference,
                visit.date.isoformat(),
                invitation.respondent,
                str(invitation.instrument_version),
                invitation.created_at.isoformat(),
                invitation.opened_at.isoformat() if invitation.opened_at else "",
                invitation.used_at.isoformat() if invitation.used_at else "",
                None
                if response is None
                else (
                    response.language,
                    response.submitted_at.isoformat(),
                    tuple(sorted((a.item.code, a.value if a.value is not None else -1) for a in response.answers.all())),
                    tuple(sorted((s.domain, s.score if s.score is not None else -1.0) for s in response.scores.all())),
                ),
            )
        )
    people = sorted(Membership.objects.values_list("user__username", "practice__slug", "role"))
    return [tuple(people), *sorted(rows, key=repr)]


def seeded_contents(*args) -> tuple[str, list[tuple]]:
    """Run seed_demo in a savepoint, read what it wrote, and roll it back: the next run starts from the same state."""
    with mock.patch("django.utils.timezone.now", return_value=FIXED_NOW), transaction.atomic():
        out = run("seed_demo", *args)
        contents = demo_contents()
        transaction.set_rollback(True)
    return out, contents


@pytest.mark.django_db
def test_seed_demo_is_deterministic():
    _, first = seeded_contents(*SMALL_DEMO, "--seed", "3")
    assert not Visit.objects.exists()  # the first run really was rolled back
    _, second = seeded_contents(*SMALL_DEMO, "--seed", "3")
    _, other_seed = seeded_contents(*SMALL_DEMO, "--seed", "4")

    assert len(first) == 1 + 40 * 2  # the memberships, then two invitations per visit
    assert sum(1 for row in first[1:] if row[-1] is not None) > 0
    assert first == second
    assert other_seed != first


@pytest.mark.django_db
def test_seed_demo_creates_what_it_was_asked_for():
    out = run("seed_demo", *SMALL_DEMO, "--seed", "3")

    assert "Seeded 40 visits" in out
    assert Practice.objects.get().slug == "demo-1"
    assert Visit.objects.count() == 40
    assert Membership.objects.filter(role="clinician").count() == 2
    assert Membership.objects.filter(role="manager").count() == 1
    # Every response is scored like a real submission: one score per domain of its instrument.
    for response in Response.objects.prefetch_related("scores", "instrument_version__domains"):
        assert {s.domain for s in response.scores.all()} == {d.code for d in response.instrument_version.domains.all()}
    # Staff have display names, as in a practice: pages and reports name people, not user names.
    names = [(m.user.username, m.user.get_full_name()) for m in Membership.objects.select_related("user").order_by("user__username")]
    assert names == [("clinician1a", "Ben Okafor"), ("clinician1b", "Chloe Nguyen"), ("manager1", "Ana Morales")]


@pytest.mark.django_db
def test_seed_demo_prints_the_demo_logins_with_the_password():
    out = run("seed_demo", *SMALL_DEMO, "--seed", "3")

    assert f"password: {DEMO_PASSWORD}" in out
    for username in ("admin", "manager1", "clinician1a", "clinician1b"):
        assert re.search(rf"^\s+{username}\s", out, re.MULTILINE), username
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)


@pytest.mark.django_db
def test_seed_demo_if_empty_does_not_add_visits_when_some_exist():
    run("seed_demo", *SMALL_DEMO, "--seed", "3")

    out = run("seed_demo", *SMALL_DEMO, "--seed", "9", "--if-empty")

    assert "already has visits" in out
    assert Visit.objects.count() == 40
    assert f"password: {DEMO_PASSWORD}" in out


def test_seed_demo_if_empty_counts_any_practices_visits(visit_a):
    run("seed_demo", *SMALL_DEMO, "--if-empty")

    assert Visit.objects.count() == 1


@pytest.mark.django_db
def test_seed_demo_if_empty_seeds_an_empty_database():
    out = run("seed_demo", *SMALL_DEMO, "--if-empty")

    assert "Seeded 40 visits" in out
    assert Visit.objects.count() == 40


@pytest.mark.django_db
def test_seed_demo_leaves_a_seeded_practice_alone():
    run("seed_demo", *SMALL_DEMO, "--seed", "3")

    run("seed_demo", *SMALL_DEMO, "--seed", "3")

    assert Visit.objects.count() == 40


@pytest.mark.django_db
def test_seed_demo_refuses_zero_visits():
    usage_error("seed_demo", "--practices", "1", "--clinicians", "2", "--visits", "0")

    assert not Practice.objects.exists()


# --- load_instruments --------------------------------------------------------------------------


@pytest.mark.django_db
def test_load_instruments_prints_created_then_unchanged():
    first = run("load_instruments")
    second = run("load_instruments")

    names = ["clinician 1.0", "clinician 1.1", "competencies 1.0", "patient 1.0", "patient 1.1"]
    assert first.splitlines() == [f"{name}: created" for name in names]
    assert second.splitlines() == [f"{name}: unchanged" for name in names]


def test_load_instruments_refuses_to_edit_an_answered_version(visit_a, tmp_path):
    invitation = factories.patient_invitation(visit_a)
    services.submit_response(invitation, factories.full_answers(invitation))
    data = dict(invitation.instrument_version.definition)
    data["title"] = {"en": "Edited", "es": "Editado"}
    (tmp_path / "patient-1.0.json").write_text(json.dumps(data), encoding="utf-8")

    error = usage_error("load_instruments", "--dir", str(tmp_path))

    assert "new version" in str(error)


def test_load_instruments_refuses_a_broken_file(instruments, tmp_path):
    (tmp_path / "patient-1.1.json").write_text("{not json", encoding="utf-8")

    assert "patient-1.1.json" in str(usage_error("load_instruments", "--dir", str(tmp_path)))


@pytest.mark.parametrize("username", ["<script>", '=HYPERLINK("http://x.example","y")', "a" * 151])
def test_add_member_refuses_a_user_name_django_would_refuse(practice_a, username):
    error = usage_error("add_member", "--practice", practice_a.slug, "--username", username, "--role", "clinician")
    assert "Not a valid user name" in str(error)
    assert not get_user_model().objects.filter(username=username).exists()
