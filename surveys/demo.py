"""Deterministic demo data with realistic score distributions and completion rates.

Written in bulk (no per-row saves) so the same code seeds a 100,000-visit benchmark database.
The scores come from the same scoring functions as real submissions.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from . import scoring
from .models import (
    Answer,
    DomainScore,
    Dyad,
    Invitation,
    Item,
    Membership,
    Patient,
    Practice,
    Respondent,
    Response,
    Role,
    Visit,
)
from .questionnaires import spec_for_version
from .services import current_version, load_instruments
from .tokens import hash_token, new_token

DEMO_PASSWORD = "healing-demo"
PRACTICE_NAMES = [
    "Riverside Family Medicine",
    "Northgate Community Clinic",
    "Valle Verde Health Center",
    "Hillcrest Primary Care",
    "Lakeside Family Practice",
    "Eastbrook Health Partners",
]
# How patients tend to rate each domain relative to their overall view (on the 1-5 scale).
DOMAIN_OFFSET = {
    "valuing": 0.15, "power": -0.25, "abiding": -0.1, "trust": 0.3, "hope": -0.15, "known": -0.35,
    "self_confidence": 0.1, "emotional_self_management": -0.1, "mindfulness": -0.3, "knowledge": 0.2,
}
BATCH = 2000


@dataclass
class DemoResult:
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, practice)
    visits_created: int = 0
    first_practice: Practice | None = None
    first_clinician: object = None


def practice_slug(number: int) -> str:
    return f"demo-{number}"


def _answer(rng: random.Random, latent: float, domain: str, reverse: bool, allow_na: bool, scale: scoring.Scale):
    if allow_na and rng.random() < 0.12:
        return scoring.NA
    value = latent + DOMAIN_OFFSET.get(domain, 0.0) + rng.gauss(0, 0.55)
    value = min(scale.max, max(scale.min, round(value)))
    return scale.min + scale.max - value if reverse else value


def seed_demo(
    practices: int = 2,
    clinicians: int = 4,
    visits: int = 600,
    seed: int = 7,
    *,
    today: dt.date | None = None,
    progress=None,
) -> DemoResult:
    """Create demo practices, people and a year of visits; practices that already have visits are left alone."""
    rng = random.Random(seed)
    load_instruments()
    patient_version = current_version(Respondent.PATIENT)
    clinician_version = current_version(Respondent.CLINICIAN)
    patient_spec, clinician_spec = spec_for_version(patient_version), spec_for_version(clinician_version)
    item_ids = {
        version.pk: dict(Item.objects.filter(version=version).values_list("code", "id"))
        for version in (patient_version, clinician_version)
    }
    today = today or timezone.localdate()
    password = make_password(DEMO_PASSWORD)  # hashed once: hashing per user would dominate seeding
    User = get_user_model()
    result = DemoResult()

    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "password": password}
    )
    result.logins.append(("admin", "platform admin", "all practices"))
    visits_per_practice = [visits // practices + (1 if i < visits % practices else 0) for i in range(practices)]
    for number in range(1, practices + 1):
        name = PRACTICE_NAMES[(number - 1) % len(PRACTICE_NAMES)]
        if number > len(PRACTICE_NAMES):
            name = f"{name} {number}"
        practice, _ = Practice.objects.get_or_create(slug=practice_slug(number), defaults={"name": name})
        manager = _member(User, practice, f"manager{number}", Role.MANAGER, password)
        result.logins.append((manager.username, "manager", practice.slug))
        staff = [
            _member(User, practice, f"clinician{number}{chr(ord('a') + c)}" if clinicians <= 26 else f"clinician{number}-{c + 1}", Role.CLINICIAN, password)
            for c in range(clinicians)
        ]
        result.logins.extend((c.username, "clinician", practice.slug) for c in staff[:2])
        if result.first_practice is None:
            result.first_practice, result.first_clinician = practice, staff[0]
        if practice.visits.exists():
            continue
        result.visits_created += _seed_practice_visits(
            rng, practice, staff, visits_per_practice[number - 1], today,
            (patient_version, patient_spec), (clinician_version, clinician_spec), item_ids, progress,
        )
    return result


def add_demo_visits(practice: Practice, visits: int, seed: int = 7, today: dt.date | None = None) -> int:
    """More demo visits for a practice that already has its demo clinicians (benchmarks, scale tests)."""
    rng = random.Random(seed)
    sides = []
    for respondent in (Respondent.PATIENT, Respondent.CLINICIAN):
        version = current_version(respondent)
        sides.append((version, spec_for_version(version)))
    item_ids = {version.pk: dict(Item.objects.filter(version=version).values_list("code", "id")) for version, _ in sides}
    staff = [m.user for m in Membership.objects.filter(practice=practice, role=Role.CLINICIAN).select_related("user")]
    return _seed_practice_visits(
        rng, practice, staff, visits, today or timezone.localdate(), sides[0], sides[1], item_ids, None,
        reference_prefix=f"{practice.slug.upper()}-S{seed}-",
    )


def _member(User, practice, username, role, password):
    user, _ = User.objects.get_or_create(username=username, defaults={"password": password})
    Membership.objects.get_or_create(user=user, practice=practice, role=role)
    return user


def _seed_practice_visits(
    rng, practice, staff, n_visits, today, patient_side, clinician_side, item_ids, progress, reference_prefix=None
):
    patient_version, patient_spec = patient_side
    clinician_version, clinician_spec = clinician_side
    completion = rng.uniform(0.5, 0.72)  # this practice's patient completion rate
    clinician_quality = {c.pk: rng.gauss(3.9, 0.35) for c in staff}
    clinician_diligence = {c.pk: rng.uniform(0.6, 0.95) for c in staff}
    n_patients = max(1, n_visits // 3)
    patients = Patient.objects.bulk_create(
        Patient(practice=practice, reference=f"{reference_prefix or practice.slug.upper() + '-P'}{i:05d}")
        for i in range(1, n_patients + 1)
    )
    primary = {p.pk: rng.choice(staff) for p in patients}
    dyads: dict[tuple[int, int], Dyad] = {}
    dyad_bond: dict[tuple[int, int], float] = {}
    ttl = dt.timedelta(days=settings.INVITATION_TTL_DAYS)
    now = timezone.now()
    created = 0
    for start in range(0, n_visits, BATCH):
        size = min(BATCH, n_visits - start)
        plan = []
        for _ in range(size):
            patient = rng.choice(patients)
            clinician = primary[patient.pk] if rng.random() < 0.85 else rng.choice(staff)
            key = (clinician.pk, patient.pk)
            if key not in dyads:
                dyads[key] = Dyad(practice=practice, clinician=clinician, patient=patient)
                dyad_bond[key] = rng.gauss(0, 0.45)
            date = today - dt.timedelta(days=rng.randrange(0, 365))
            plan.append((key, date))
        with transaction.atomic():
            Dyad.objects.bulk_create([d for d in dyads.values() if d.pk is None], batch_size=BATCH)
            visit_rows = Visit.objects.bulk_create(
                [Visit(practice=practice, dyad=dyads[key], date=date) for key, date in plan], batch_size=BATCH
            )
            invitations, pending = [], []
            for visit, (key, date) in zip(visit_rows, plan):
                visit_time = timezone.make_aware(dt.datetime.combine(date, dt.time(9))) + dt.timedelta(minutes=rng.randrange(0, 480))
                visit_time = min(visit_time, now - dt.timedelta(minutes=30))
                latent = clinician_quality[key[0]] + dyad_bond[key]
                for respondent, version, spec, rate in (
                    (Respondent.PATIENT, patient_version, patient_spec, completion),
                    (Respondent.CLINICIAN, clinician_version, clinician_spec, clinician_diligence[key[0]]),
                ):
                    opened = visit_time + dt.timedelta(hours=rng.uniform(0.5, 48)) if rng.random() < rate + 0.12 else None
                    done = opened is not None and rng.random() < rate / (rate + 0.12)
                    submitted = opened + dt.timedelta(seconds=rng.uniform(100, 480)) if done else None
                    if submitted and submitted > now:
                        opened = submitted = None
                    invitation = Invitation(
                        visit=visit,
                        respondent=respondent,
                        instrument_version=version,
                        token_hash=hash_token(new_token()) if respondent == Respondent.PATIENT else None,
                        created_at=visit_time,
                        expires_at=visit_time + ttl,
                        opened_at=opened,
                        used_at=submitted,
                    )
                    invitations.append(invitation)
                    if submitted:
                        # Clinicians see the relationship a little more (or less) warmly than their patients.
                        view = latent + (rng.gauss(0.15, 0.4) if respondent == Respondent.CLINICIAN else 0)
                        pending.append((invitation, version, spec, view, submitted))
            Invitation.objects.bulk_create(invitations, batch_size=BATCH)
            _write_responses(rng, pending, item_ids)
        created += size
        if progress:
            progress(created, n_visits)
    return created


def _write_responses(rng, pending, item_ids):
    responses, answer_sets, score_sets = [], [], []
    for invitation, version, spec, latent, submitted in pending:
        answers = {
            item.code: _answer(rng, latent, item.domain, item.reverse, item.allow_na, spec.scale) for item in spec.items
        }
        scores = scoring.domain_scores(spec.scoring_items, answers, spec.scale)
        index = scoring.indices(scores)
        visit = invitation.visit
        responses.append(
            Response(
                invitation=invitation,
                visit=visit,
                dyad_id=visit.dyad_id,
                practice_id=visit.practice_id,
                respondent=invitation.respondent,
                instrument_version=version,
                language="es" if rng.random() < 0.2 else "en",
                started_at=invitation.opened_at,
                submitted_at=submitted,
                process_index=index["process_index"],
                outcome_index=index["outcome_index"],
            )
        )
        answer_sets.append((version.pk, answers))
        score_sets.append(scores)
    Response.objects.bulk_create(responses, batch_size=BATCH)
    Answer.objects.bulk_create(
        (
            Answer(response=response, item_id=item_ids[version_id][code], value=None if value == scoring.NA else value)
            for response, (version_id, answers) in zip(responses, answer_sets)
            for code, value in answers.items()
        ),
        batch_size=BATCH * 5,
    )
    DomainScore.objects.bulk_create(
        (
            DomainScore(response=response, domain=domain, score=score)
            for response, scores in zip(responses, score_sets)
            for domain, score in scores.items()
        ),
        batch_size=BATCH * 5,
    )
