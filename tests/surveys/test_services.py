"""Services: every write to survey data, and the one read (wave gaps) that turns two responses into a flag."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from figures import queries
from measurement import scoring
from measurement.instruments import InstrumentError, spec_for_version
from surveys import services
from surveys.models import (
    Answer,
    DomainScore,
    Dyad,
    InstrumentVersion,
    Invitation,
    Item,
    Membership,
    Patient,
    Practice,
    Response,
    Visit,
)
from surveys.services import INSTRUMENTS_DIR
from tests import factories

User = get_user_model()


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def instrument_dir(tmp_path):
    """A private copy of the per-visit 1.0 instrument files that a test may edit, version and reload."""
    for path in INSTRUMENTS_DIR.glob("*-1.0.json"):
        if path.name == "competencies-1.0.json":
            continue
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


# One model element per domain: from 1.1 on every item names its element (measurement.instruments).
ELEMENT_OF_DOMAIN = {"valuing": "presence", "power": "partnering", "abiding": "continuity", "trust": "cared_for",
                     "hope": "better_future", "known": "known_as_person"}


def as_version(data, version):
    """A copy of the patient 1.0 file published as another version, valid for that version."""
    items = [{**item, "element": ELEMENT_OF_DOMAIN[item["domain"]]} for item in data["items"]]
    return {**data, "version": version, "items": items}


def answers_scoring(invitation, scored: dict[str, list[int]], default: int = 3) -> dict[str, str]:
    """Form answers whose *scored* values per domain are the given list (reverse-keyed items are flipped back).

    Domains not named score `default` on every item.
    """
    spec = spec_for_version(invitation.instrument_version)
    low, high = spec.scale.min, spec.scale.max
    answers = {}
    for domain in spec.domains:
        items = spec.items_of(domain.code)
        values = scored.get(domain.code, [default] * len(items))
        assert len(values) == len(items), f"{domain.code} has {len(items)} items"
        for item, value in zip(items, values):
            answers[item.code] = str(low + high - value if item.reverse else value)
    return answers


def patient_spec():
    return spec_for_version(services.current_version("patient"))


def item_by(spec, *, reverse=None, allow_na=None):
    for item in spec.items:
        if (reverse is None or item.reverse == reverse) and (allow_na is None or item.allow_na == allow_na):
            return item
    raise AssertionError("the instrument has no such item")


# --- load_instruments --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_loads_instruments_once_and_then_reports_them_unchanged():
    first = services.load_instruments()
    counts = (InstrumentVersion.objects.count(), Item.objects.count())

    second = services.load_instruments()

    names = ["clinician 1.0", "clinician 1.1", "competencies 1.0", "patient 1.0", "patient 1.1"]
    assert first == [(name, "created") for name in names]
    assert second == [(name, "unchanged") for name in names]
    assert (InstrumentVersion.objects.count(), Item.objects.count()) == counts


def test_a_fresh_install_hands_out_patient_and_clinician_1_1_and_never_the_competencies_form(current_instruments):
    assert (services.current_version("patient").version, services.current_version("clinician").version) == ("1.1", "1.1")
    assert services.current_version("clinician").instrument.slug == "clinician"
    assert InstrumentVersion.objects.get(instrument__slug="competencies").is_current  # current, but not per visit


def test_the_loader_refuses_a_clinician_version_that_does_not_mirror_the_patient_version(db, tmp_path):
    for path in INSTRUMENTS_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    data = read_json(tmp_path / "clinician-1.1.json")
    data["items"][0]["pair"] = data["items"][1]["pair"]  # two mirrors of one patient item, none of another
    write_json(tmp_path / "clinician-1.1.json", data)

    with pytest.raises(InstrumentError, match="does not mirror"):
        services.load_instruments(tmp_path)
    assert not InstrumentVersion.objects.exists()  # checked before anything is written


def test_it_stores_every_domain_and_item_of_the_files(current_instruments):
    for path in INSTRUMENTS_DIR.glob("*.json"):
        data = read_json(path)
        version = InstrumentVersion.objects.get(instrument__slug=data["slug"], version=data["version"])
        assert list(version.domains.values_list("code", flat=True)) == [d["code"] for d in data["domains"]]
        assert list(version.items.values_list("code", "reverse", "allow_na")) == [
            (i["code"], i["reverse"], i["allow_na"]) for i in data["items"]
        ]
        assert version.definition == data


def test_it_updates_a_changed_version_that_has_no_responses(visit_a, instrument_dir):
    # visit_a holds invitations to patient 1.0, but nobody has answered yet.
    path = instrument_dir / "patient-1.0.json"
    data = read_json(path)
    data["items"][0]["text"]["en"] = "My clinician treats me as a person who matters."
    write_json(path, data)

    results = dict(services.load_instruments(instrument_dir))

    assert results == {"clinician 1.0": "unchanged", "patient 1.0": "updated"}
    version = InstrumentVersion.objects.get(instrument__slug="patient", version="1.0")
    assert version.definition == data
    assert version.items.get(code=data["items"][0]["code"]).text["en"] == "My clinician treats me as a person who matters."
    assert version.items.count() == len(data["items"])


def test_it_refuses_to_change_a_version_that_has_responses(visit_a, instrument_dir):
    invitation = factories.patient_invitation(visit_a)
    services.submit_response(invitation, factories.full_answers(invitation))
    before = InstrumentVersion.objects.get(instrument__slug="patient", version="1.0")
    path = instrument_dir / "patient-1.0.json"
    data = read_json(path)
    data["items"][0]["text"]["en"] = "An edit that must go into a new version."
    write_json(path, data)

    with pytest.raises(services.InstrumentLocked):
        services.load_instruments(instrument_dir)

    after = InstrumentVersion.objects.get(pk=before.pk)
    assert after.checksum == before.checksum
    assert after.definition == before.definition
    assert after.items.count() == len(before.definition["items"])


def test_it_makes_the_newest_version_current(instruments, instrument_dir):
    data = read_json(instrument_dir / "patient-1.0.json")
    write_json(instrument_dir / "patient-1.1.json", as_version(data, "1.1"))

    results = dict(services.load_instruments(instrument_dir))

    assert results["patient 1.1"] == "created"
    assert services.current_version("patient").version == "1.1"
    assert not InstrumentVersion.objects.get(instrument__slug="patient", version="1.0").is_current
    assert services.current_version("clinician").version == "1.0"


def test_it_compares_versions_as_numbers_not_text(instruments, instrument_dir):
    data = read_json(instrument_dir / "patient-1.0.json")
    for version in ("1.9", "1.10"):
        write_json(instrument_dir / f"patient-{version}.json", as_version(data, version))

    services.load_instruments(instrument_dir)

    assert services.current_version("patient").version == "1.10"
    assert InstrumentVersion.objects.filter(instrument__slug="patient", is_current=True).count() == 1


def test_new_visits_use_the_current_version(practice_a, clinician_a, instrument_dir):
    data = read_json(instrument_dir / "patient-1.0.json")
    write_json(instrument_dir / "patient-2.0.json", as_version(data, "2.0"))
    services.load_instruments(instrument_dir)

    new_visit = factories.visit(practice_a, clinician_a, "PA-777")

    assert factories.patient_invitation(new_visit).instrument_version.version == "2.0"


# --- practices and members ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_a_practice_once():
    first, created_first = services.create_practice("riverside", "Riverside", 5)
    second, created_second = services.create_practice("riverside", "Riverside", 5)

    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Practice.objects.filter(slug="riverside").count() == 1


@pytest.mark.django_db
def test_it_updates_a_practice_name_and_minimum_n():
    services.create_practice("riverside", "Riverside", 5)

    practice, created = services.create_practice("riverside", "Riverside Family Medicine", 8)

    assert not created
    practice.refresh_from_db()
    assert (practice.name, practice.min_reporting_n) == ("Riverside Family Medicine", 8)


def test_it_adds_a_member_once(practice_a):
    first = services.add_member(practice_a, "dr-lee", "clinician", "pw-one-two-three")
    second = services.add_member(practice_a, "dr-lee", "clinician")

    membership, created, user_created = first
    assert (created, user_created) == (True, True)
    assert second == (membership, False, False)
    assert User.objects.filter(username="dr-lee").count() == 1
    assert Membership.objects.filter(user__username="dr-lee", practice=practice_a).count() == 1
    # A repeat without a password keeps the one already set.
    assert User.objects.get(username="dr-lee").check_password("pw-one-two-three")


def test_a_new_member_without_a_password_cannot_sign_in_yet(practice_a):
    membership, _, _ = services.add_member(practice_a, "dr-new", "manager")

    assert not membership.user.has_usable_password()


def test_one_person_may_hold_two_roles(practice_a):
    services.add_member(practice_a, "dr-both", "clinician")
    services.add_member(practice_a, "dr-both", "manager")

    assert sorted(Membership.objects.filter(user__username="dr-both").values_list("role", flat=True)) == [
        "clinician",
        "manager",
    ]
    assert User.objects.filter(username="dr-both").count() == 1


def test_it_refuses_an_unknown_role(practice_a):
    with pytest.raises(services.ServiceError):
        services.add_member(practice_a, "dr-admin", "admin")

    assert not User.objects.filter(username="dr-admin").exists()


# --- visits and invitations --------------------------------------------------------------------


def test_it_creates_a_visit_with_a_dyad_and_two_invitations(practice_a, clinician_a):
    new_visit = services.create_visit(practice_a, clinician_a, "PA-001", dt.date(2026, 3, 2))

    visit = new_visit.visit
    assert visit.date == dt.date(2026, 3, 2)
    assert (visit.practice, visit.dyad.clinician, visit.dyad.patient.reference) == (practice_a, clinician_a, "PA-001")
    assert sorted(visit.invitations.values_list("respondent", flat=True)) == ["clinician", "patient"]


def test_it_reuses_the_dyad_for_a_second_visit(practice_a, clinician_a, clinician_a2):
    first = services.create_visit(practice_a, clinician_a, "PA-001").visit
    second = services.create_visit(practice_a, clinician_a, "PA-001").visit
    other_clinician = services.create_visit(practice_a, clinician_a2, "PA-001").visit

    assert first.pk != second.pk
    assert first.dyad_id == second.dyad_id
    assert other_clinician.dyad_id != first.dyad_id
    assert other_clinician.dyad.patient_id == first.dyad.patient_id
    assert Dyad.objects.count() == 2
    assert Patient.objects.filter(practice=practice_a, reference="PA-001").count() == 1


def test_the_patient_invitation_keeps_only_the_tokens_hash(visit_a):
    patient = factories.patient_invitation(visit_a)

    assert visit_a.patient_token
    assert patient.token_hash == hashlib.sha256(visit_a.patient_token.encode()).hexdigest()
    assert visit_a.patient_token not in patient.token_hash


def test_the_patient_token_is_long_and_fresh_each_visit(practice_a, clinician_a):
    tokens = {services.create_visit(practice_a, clinician_a, "PA-001").patient_token for _ in range(3)}

    assert len(tokens) == 3
    # secrets.token_urlsafe(32) gives 43 characters.
    assert all(len(token) >= 43 for token in tokens)


def test_the_clinician_invitation_has_no_token(visit_a):
    assert factories.clinician_invitation(visit_a).token_hash is None


def test_invitations_use_the_current_instrument_for_each_respondent(visit_a):
    assert factories.patient_invitation(visit_a).instrument_version == services.current_version("patient")
    assert factories.clinician_invitation(visit_a).instrument_version == services.current_version("clinician")


def test_invitations_expire_after_the_configured_number_of_days(settings, practice_a, clinician_a):
    settings.INVITATION_TTL_DAYS = 3
    before = timezone.now()

    visit = services.create_visit(practice_a, clinician_a, "PA-001").visit

    after = timezone.now()
    for invitation in visit.invitations.all():
        assert before + dt.timedelta(days=3) <= invitation.expires_at <= after + dt.timedelta(days=3)
        assert invitation.used_at is None and invitation.opened_at is None


def test_it_refuses_a_visit_for_someone_who_is_not_a_clinician_there(practice_a, manager_a, clinician_b):
    for person in (manager_a, clinician_b):
        with pytest.raises(services.ServiceError):
            services.create_visit(practice_a, person, "PA-001")

    assert not Visit.objects.exists()
    assert not Patient.objects.exists()
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("reference", ["", "   ", "x" * 65])
def test_it_refuses_a_blank_or_overlong_patient_reference(practice_a, clinician_a, reference):
    with pytest.raises(services.ServiceError):
        services.create_visit(practice_a, clinician_a, reference)

    assert not Visit.objects.exists()


def test_it_opens_an_invitation_once(visit_a):
    invitation = factories.patient_invitation(visit_a)
    stale = Invitation.objects.get(pk=invitation.pk)

    services.mark_opened(invitation)
    first = Invitation.objects.get(pk=invitation.pk).opened_at
    services.mark_opened(invitation)
    services.mark_opened(stale)  # a second tab that loaded before the first one opened it

    assert first is not None
    assert invitation.opened_at == first
    assert Invitation.objects.get(pk=invitation.pk).opened_at == first


# --- submit_response ---------------------------------------------------------------------------


def test_it_stores_the_answers(visit_a):
    invitation = factories.patient_invitation(visit_a)
    answers = answers_scoring(invitation, {}, default=4)

    response = services.submit_response(invitation, answers, comment="  Thank you.  ", language="es")

    stored = dict(response.answers.values_list("item__code", "value"))
    assert stored == {code: int(value) for code, value in answers.items()}
    assert (response.respondent, response.language, response.comment) == ("patient", "es", "Thank you.")
    assert (response.visit, response.dyad, response.practice) == (visit_a.visit, visit_a.visit.dyad, visit_a.visit.practice)
    invitation.refresh_from_db()
    assert invitation.used_at == response.submitted_at


@pytest.mark.parametrize("respondent", ["patient", "clinician"])
def test_it_scores_every_domain_of_the_instrument(visit_a, respondent):
    invitation = visit_a.visit.invitations.get(respondent=respondent)
    spec = spec_for_version(invitation.instrument_version)
    answers = answers_scoring(invitation, {"valuing": [5] * len(spec.items_of("valuing"))}, default=4)

    response = services.submit_response(invitation, answers)

    scores = dict(response.scores.values_list("domain", "score"))
    assert sorted(scores) == sorted(d.code for d in spec.domains)
    assert scores["valuing"] == 100.0
    assert all(scores[d.code] == 75.0 for d in spec.domains if d.code != "valuing")


def test_its_indices_match_the_scoring_module(visit_a):
    invitation = factories.patient_invitation(visit_a)
    spec = spec_for_version(invitation.instrument_version)
    answers = {item.code: str(1 + (n * 7) % 5) for n, item in enumerate(spec.items)}

    response = services.submit_response(invitation, answers)

    parsed = {code: int(value) for code, value in answers.items()}
    expected_scores = scoring.domain_scores(spec.scoring_items, parsed, spec.scale)
    expected = scoring.indices(expected_scores)
    assert dict(response.scores.values_list("domain", "score")) == expected_scores
    response.refresh_from_db()
    assert response.process_index == expected["process_index"]
    assert response.outcome_index == expected["outcome_index"]
    assert response.process_index is not None and response.outcome_index is not None


def test_it_stores_reverse_keyed_answers_raw_but_scores_them_reversed(visit_a):
    invitation = factories.patient_invitation(visit_a)
    spec = spec_for_version(invitation.instrument_version)
    reversed_item = item_by(spec, reverse=True)
    domain_items = spec.items_of(reversed_item.domain)
    # Every item of the domain answered 5: the reverse-keyed one counts as 1.
    answers = answers_scoring(invitation, {}, default=3)
    answers.update({item.code: "5" for item in domain_items})

    response = services.submit_response(invitation, answers)

    assert response.answers.get(item__code=reversed_item.code).value == 5
    n_reversed = sum(item.reverse for item in domain_items)
    mean = (5 * (len(domain_items) - n_reversed) + 1 * n_reversed) / len(domain_items)
    assert response.scores.get(domain=reversed_item.domain).score == pytest.approx(100 * (mean - 1) / 4)
    assert response.scores.get(domain=reversed_item.domain).score < 100


def test_it_stores_not_applicable_as_an_empty_value(visit_a):
    invitation = factories.patient_invitation(visit_a)
    spec = spec_for_version(invitation.instrument_version)
    na_item = item_by(spec, allow_na=True)
    answers = answers_scoring(invitation, {}, default=4)
    answers[na_item.code] = "na"

    response = services.submit_response(invitation, answers)

    assert response.answers.get(item__code=na_item.code).value is None
    assert response.answers.count() == len(spec.items)
    # The N/A item is left out of the mean, not counted as a zero.
    assert response.scores.get(domain=na_item.domain).score == 75.0


def test_it_refuses_a_second_submission(visit_a):
    invitation = factories.patient_invitation(visit_a)
    services.submit_response(invitation, factories.full_answers(invitation, 4))
    again = Invitation.objects.get(pk=invitation.pk)

    with pytest.raises(services.InvitationUnavailable) as excinfo:
        services.submit_response(again, factories.full_answers(again, 2))

    assert excinfo.value.reason == "used"
    assert Response.objects.filter(invitation=invitation).count() == 1
    assert set(Answer.objects.values_list("value", flat=True)) == {4}


def test_it_refuses_a_second_submission_from_a_stale_copy(visit_a):
    # Two tabs: both loaded the invitation before either submitted.
    first_tab = factories.patient_invitation(visit_a)
    second_tab = factories.patient_invitation(visit_a)
    services.submit_response(first_tab, factories.full_answers(first_tab, 4))

    with pytest.raises(services.InvitationUnavailable) as excinfo:
        services.submit_response(second_tab, factories.full_answers(second_tab, 2))

    assert excinfo.value.reason == "used"
    assert Response.objects.count() == 1


def test_the_database_backs_up_the_claim(visit_a):
    # Should the claim ever let a second submission through, the one-to-one response still refuses it.
    invitation = factories.patient_invitation(visit_a)
    services.submit_response(invitation, factories.full_answers(invitation, 4))
    Invitation.objects.filter(pk=invitation.pk).update(used_at=None)

    with pytest.raises(services.InvitationUnavailable) as excinfo:
        services.submit_response(invitation, factories.full_answers(invitation, 2))

    assert excinfo.value.reason == "used"
    assert Response.objects.count() == 1
    assert set(Answer.objects.values_list("value", flat=True)) == {4}


def test_it_refuses_an_expired_invitation_and_saves_nothing(visit_a):
    invitation = factories.patient_invitation(visit_a)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    invitation.refresh_from_db()

    with pytest.raises(services.InvitationUnavailable) as excinfo:
        services.submit_response(invitation, factories.full_answers(invitation))

    assert excinfo.value.reason == "expired"
    assert not Response.objects.exists()
    assert not Answer.objects.exists()
    assert not DomainScore.objects.exists()
    assert Invitation.objects.get(pk=invitation.pk).used_at is None


def test_invalid_answers_save_nothing(visit_a):
    invitation = factories.patient_invitation(visit_a)
    answers = factories.full_answers(invitation)
    answers[next(iter(answers))] = "6"

    with pytest.raises(services.InvalidAnswers):
        services.submit_response(invitation, answers)

    assert not Response.objects.exists()
    assert Invitation.objects.get(pk=invitation.pk).used_at is None


# --- validate_answers --------------------------------------------------------------------------


def errors_for(spec, answers) -> dict[str, str]:
    with pytest.raises(services.InvalidAnswers) as excinfo:
        services.validate_answers(spec, answers)
    return excinfo.value.errors


def complete(spec, value="3"):
    return {item.code: value for item in spec.items}


def complete_ints(spec, value):
    return {item.code: value for item in spec.items}


def test_it_accepts_complete_answers_as_whole_numbers(instruments):
    spec = patient_spec()
    na_item = item_by(spec, allow_na=True)
    answers = {**complete(spec, "2"), na_item.code: "na"}

    clean = services.validate_answers(spec, answers)

    assert clean == {item.code: ("na" if item.code == na_item.code else 2) for item in spec.items}


def test_it_accepts_answers_given_as_integers(instruments):
    spec = patient_spec()

    assert services.validate_answers(spec, complete_ints(spec, 5)) == complete_ints(spec, 5)


def test_it_names_every_missing_item(instruments):
    spec = patient_spec()
    first, second, *rest = [item.code for item in spec.items]
    answers = {code: "3" for code in rest}
    answers[second] = ""

    errors = errors_for(spec, answers)

    assert set(errors) == {first, second}
    assert errors[first] == "needs an answer"


@pytest.mark.parametrize("value", ["6", "0", "-1", "abc", "3.5", "", "\uff15", True])  # \uff15: a full-width 5
def test_it_refuses_an_answer_off_the_scale(instruments, value):
    spec = patient_spec()
    code = spec.items[0].code

    errors = errors_for(spec, {**complete(spec), code: value})

    assert set(errors) == {code}


def test_it_says_what_the_scale_is(instruments):
    spec = patient_spec()
    code = spec.items[0].code

    assert errors_for(spec, {**complete(spec), code: "6"})[code] == "must be a whole number from 1 to 5"


def test_it_refuses_not_applicable_where_the_item_does_not_allow_it(instruments):
    spec = patient_spec()
    item = item_by(spec, allow_na=False)

    errors = errors_for(spec, {**complete(spec), item.code: "na"})

    assert errors == {item.code: "needs an answer on the scale"}


def test_it_refuses_unknown_codes(instruments):
    spec = patient_spec()

    errors = errors_for(spec, {**complete(spec), "P99": "3", "C01": "3"})

    assert set(errors) == {"P99", "C01"}


# --- wave gaps ---------------------------------------------------------------------------------


def gaps_of(visit) -> list:
    """The gaps of a visit's wave as the dyad page reads them."""
    return next(wave.gaps for wave in queries.dyad_waves(visit.dyad) if wave.visit_id == visit.pk)


def test_a_wave_has_no_gaps_until_both_have_answered(visit_a):
    visit = visit_a.visit
    assert gaps_of(visit) == []

    patient = factories.patient_invitation(visit_a)
    services.submit_response(patient, factories.full_answers(patient))

    assert gaps_of(visit) == []


def test_a_wave_gap_is_clinician_minus_patient_and_flagged_from_25_points(visit_a):
    patient = factories.patient_invitation(visit_a)
    clinician = factories.clinician_invitation(visit_a)
    # Every patient domain scores 50 (all items count 3).
    services.submit_response(patient, answers_scoring(patient, {}, default=3), shared=True)
    services.submit_response(
        clinician,
        answers_scoring(
            clinician,
            {
                "valuing": [5, 5, 5],  # 100: +50
                "power": [4, 4, 4],  # 75: +25, exactly on the threshold
                "abiding": [3, 3, 3],  # 50: no gap
                "trust": [2, 2, 2],  # 25: -25
                "hope": [1, 1],  # 0: -50
                "known": [4, 3, 3],  # 58.3: +8.3
            },
            default=5,
        ),
    )

    gaps = gaps_of(visit_a.visit)

    assert [g.domain for g in gaps] == list(scoring.SHARED_DOMAINS)
    by_domain = {g.domain: g for g in gaps}
    expected = {"valuing": 50, "power": 25, "abiding": 0, "trust": -25, "hope": -50, "known": 25 / 3}
    for domain, gap in expected.items():
        assert by_domain[domain].gap == pytest.approx(gap)
        assert by_domain[domain].patient == 50.0
        assert by_domain[domain].clinician == pytest.approx(50 + gap)
    assert {g.domain for g in gaps if g.flagged} == {"valuing", "power", "trust", "hope"}


def test_competencies_are_left_out_of_the_gaps(visit_a):
    patient = factories.patient_invitation(visit_a)
    clinician = factories.clinician_invitation(visit_a)
    services.submit_response(patient, factories.full_answers(patient), shared=True)
    services.submit_response(clinician, factories.full_answers(clinician))

    domains = {g.domain for g in gaps_of(visit_a.visit)}

    assert domains == set(scoring.SHARED_DOMAINS)
