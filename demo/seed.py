"""Deterministic demo data with realistic score distributions and completion rates.

Written in bulk so the same code seeds a 100,000-visit benchmark database in well under the 90 s of
docs/performance.md: rows are plain tuples whose ids are taken from the tables' sequences up front (so answers can
point at responses before either is written), and on PostgreSQL each table's rows go in with one COPY
per batch. Building 4 million model instances for bulk_create took two thirds of the old seed's time.
The answers come from a generative model with the shape of real primary-care data (demo/answers.py: small
clinician differences, a ceiling, consistent items, no trend); the scores from the same scoring functions as real
submissions.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections, transaction
from django.utils import timezone

from demo.answers import ItemLayout, PracticeModel
from measurement import casemix, gaps, scoring
from measurement.gaps import item_pair_gaps, mirrored_pairs
from measurement.instruments import spec_for_version
from surveys import latest
from surveys.models import (
    Answer,
    CaseMix,
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
from surveys.services import current_version, load_instruments
from surveys.tokens import hash_token, new_token

DEMO_PASSWORD = "healing-demo"
# Display names for demo staff, so pages and reports read as they would in a practice: people by name, the user
# name only where someone signs in. Made up; any likeness is chance.
STAFF_NAMES = [
    ("Ana", "Morales"), ("Ben", "Okafor"), ("Chloe", "Nguyen"), ("David", "Herrera"), ("Elif", "Demir"),
    ("Femi", "Adeyemi"), ("Grace", "Lindqvist"), ("Hugo", "Castillo"), ("Ines", "Duarte"), ("Jonas", "Weber"),
    ("Kiran", "Patel"), ("Lucia", "Romero"), ("Marcus", "Bell"), ("Nadia", "Haddad"), ("Omar", "Siddiqui"),
    ("Priya", "Raman"), ("Quinn", "Walsh"), ("Rosa", "Jimenez"), ("Sam", "Fischer"), ("Tomas", "Novak"),
]


def staff_name(number: int) -> tuple[str, str]:
    """The (first, last) name of the number-th demo staff member (0-based), repeating with a suffix past the list."""
    first, last = STAFF_NAMES[number % len(STAFF_NAMES)]
    return first, last if number < len(STAFF_NAMES) else f"{last} {number // len(STAFF_NAMES) + 1}"


PRACTICE_NAMES = [
    "Riverside Family Medicine",
    "Northgate Community Clinic",
    "Valle Verde Health Center",
    "Hillcrest Primary Care",
    "Lakeside Family Practice",
    "Eastbrook Health Partners",
]
# Visits per transaction: big enough that COPY dominates, small enough to keep memory flat and the bar moving.
BATCH = 5000

# The columns each table is written with, as model attribute names (rows are tuples in this order).
PATIENT_FIELDS = ("id", "practice_id", "reference", "created_at")
DYAD_FIELDS = ("id", "practice_id", "clinician_id", "patient_id", "created_at")
VISIT_FIELDS = ("id", "practice_id", "dyad_id", "date", "created_at")
INVITATION_FIELDS = (
    "id", "visit_id", "respondent", "instrument_version_id", "token_hash", "created_at", "expires_at",
    "opened_at", "used_at", "contact_email", "contact_phone",
)
RESPONSE_FIELDS = (
    "id", "invitation_id", "visit_id", "dyad_id", "practice_id", "respondent", "instrument_version_id", "language",
    "comment", "started_at", "submitted_at", "process_index", "outcome_index", "shared_with_clinician",
)
ANSWER_FIELDS = ("response_id", "item_id", "value")
CASEMIX_FIELDS = ("response_id", *casemix.COVARIATES)


@dataclass
class DemoResult:
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, practice)
    visits_created: int = 0
    first_practice: Practice | None = None
    first_clinician: object = None


class BulkWriter:
    """Writes rows whose ids were chosen up front: COPY on PostgreSQL, bulk_create elsewhere (SQLite, small seeds)."""

    def __init__(self, using: str = "default"):
        self.connection = connections[using]
        self.copy = self.connection.vendor == "postgresql"
        self._next_id: dict[str, int] = {}

    def ids(self, model, count: int) -> list[int]:
        """`count` fresh primary keys for `model`, reserved from its sequence (PostgreSQL) or past its largest id."""
        if count <= 0:
            return []
        table = model._meta.db_table
        with self.connection.cursor() as cursor:
            if self.copy:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.connection.ops.quote_name(table)}")
            start = max(cursor.fetchone()[0] + 1, self._next_id.get(table, 1))
        self._next_id[table] = start + count
        return list(range(start, start + count))

    def write(self, model, fields: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if not self.copy:
            model.objects.bulk_create([model(**dict(zip(fields, row))) for row in rows], batch_size=500)
            return
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
        with self.connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


class Planned(NamedTuple):
    """A response the seed will write: what its answers are drawn from, and the facts its score rows copy."""

    side: Side
    invitation_id: int
    visit_id: int
    dyad_id: int
    practice_id: int
    clinician_id: int
    patient_id: int
    # Positions in the practice's PracticeModel: whose views the answers are drawn from.
    clinician_index: int
    patient_index: int
    dyad_index: int
    started_at: dt.datetime
    submitted_at: dt.datetime

    @property
    def respondent(self) -> str:
        return self.side.respondent


class Record(NamedTuple):
    """What `latest.score_rows` needs of a response the seed writes."""

    id: int
    practice_id: int
    respondent: str
    submitted_at: dt.datetime


@dataclass
class Batch:
    """One transaction's rows, all planned before any is written; response ids are given once all are planned."""

    dyad_rows: list[tuple]
    visit_rows: list[tuple]
    invitation_rows: list[tuple]
    pending: list[Planned]
    response_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Side:
    """One respondent's instrument, with what the seeder needs of each item precomputed."""

    respondent: str
    version_id: int
    spec: object
    items: tuple  # (code, item id, domain, reverse, allow_na)
    scoring_items: tuple
    layout: ItemLayout

    @classmethod
    def current(cls, respondent: str) -> Side:
        version = current_version(respondent)
        spec = spec_for_version(version)
        item_ids = dict(Item.objects.filter(version=version).values_list("code", "id"))
        items = tuple((i.code, item_ids[i.code], i.domain, i.reverse, i.allow_na) for i in spec.items)
        layout = ItemLayout.of([(i.code, i.domain, i.reverse, i.allow_na) for i in spec.items], spec.scale)
        return cls(respondent, version.pk, spec, items, spec.scoring_items, layout)


def practice_slug(number: int) -> str:
    return f"demo-{number}"


def seed_demo(
    practices: int = 2,
    clinicians: int = 4,
    visits: int = 600,
    seed: int = 7,
    *,
    today: dt.date | None = None,
    progress=None,
) -> DemoResult:
    """Create demo practices, people and a year of visits; practices that already have visits are left alone.

    `progress(done, total)` is called after each batch with the visits written so far in this run.
    """
    rng = random.Random(seed)
    load_instruments()
    sides = (Side.current(Respondent.PATIENT), Side.current(Respondent.CLINICIAN))
    today = today or timezone.localdate()
    password = make_password(DEMO_PASSWORD)  # hashed once: hashing per user would dominate seeding
    User = get_user_model()
    result = DemoResult()
    writer = BulkWriter()

    User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True, "password": password})
    result.logins.append(("admin", "platform admin", "all practices"))
    visits_per_practice = [visits // practices + (1 if i < visits % practices else 0) for i in range(practices)]
    to_seed = []
    for number in range(1, practices + 1):
        name = PRACTICE_NAMES[(number - 1) % len(PRACTICE_NAMES)]
        if number > len(PRACTICE_NAMES):
            name = f"{name} {number}"
        practice, _ = Practice.objects.get_or_create(slug=practice_slug(number), defaults={"name": name})
        first_staff = (number - 1) * (clinicians + 1)
        manager = _member(User, practice, f"manager{number}", Role.MANAGER, password, staff_name(first_staff))
        result.logins.append((manager.username, "manager", practice.slug))
        staff = [
            _member(User, practice, f"clinician{number}{chr(ord('a') + c)}" if clinicians <= 26 else f"clinician{number}-{c + 1}",
                    Role.CLINICIAN, password, staff_name(first_staff + 1 + c))
            for c in range(clinicians)
        ]
        result.logins.extend((c.username, "clinician", practice.slug) for c in staff[:2])
        if result.first_practice is None:
            result.first_practice, result.first_clinician = practice, staff[0]
        if not practice.visits.exists():
            to_seed.append((practice, staff, visits_per_practice[number - 1]))

    total = sum(n for _practice, _staff, n in to_seed)
    for practice, staff, n_visits in to_seed:
        done = result.visits_created
        result.visits_created += _seed_practice_visits(
            rng, writer, practice, staff, n_visits, today, sides,
            (lambda written, _total, done=done: progress(done + written, total)) if progress else None,
        )
    return result


def add_demo_visits(practice: Practice, visits: int, seed: int = 7, today: dt.date | None = None) -> int:
    """More demo visits for a practice that already has its demo clinicians (benchmarks, scale tests)."""
    rng = random.Random(seed)
    sides = (Side.current(Respondent.PATIENT), Side.current(Respondent.CLINICIAN))
    staff = [m.user for m in Membership.objects.filter(practice=practice, role=Role.CLINICIAN).select_related("user").order_by("user__username")]
    return _seed_practice_visits(
        rng, BulkWriter(), practice, staff, visits, today or timezone.localdate(), sides, None,
        reference_prefix=f"{practice.slug.upper()}-S{seed}-",
    )


def _member(User, practice, username, role, password, name: tuple[str, str]):
    first, last = name
    user, _ = User.objects.get_or_create(
        username=username, defaults={"password": password, "first_name": first, "last_name": last}
    )
    Membership.objects.get_or_create(user=user, practice=practice, role=role)
    return user


def _seed_practice_visits(rng, writer, practice, staff, n_visits, today, sides, progress, reference_prefix=None) -> int:
    completion = rng.uniform(0.5, 0.72)  # this practice's patient completion rate
    staff_ids = [c.pk for c in staff]
    clinician_diligence = {pk: rng.uniform(0.6, 0.95) for pk in staff_ids}
    ttl = dt.timedelta(days=settings.INVITATION_TTL_DAYS)
    now = timezone.now()
    latest_visit_time = now - dt.timedelta(minutes=30)
    prefix = reference_prefix or practice.slug.upper() + "-P"

    patient_ids = writer.ids(Patient, max(1, n_visits // 3))
    with transaction.atomic(using=writer.connection.alias):
        writer.write(Patient, PATIENT_FIELDS, [(pk, practice.pk, f"{prefix}{i:05d}", now) for i, pk in enumerate(patient_ids, 1)])
    # The answers' own random stream (numpy), drawn from the plan's: still one --seed for everything.
    # Case mix moves each patient's own views (patient_shift); their "About you" answers come from the same draws.
    about_you, shift = patient_casemix(rng.getrandbits(64), len(patient_ids))
    model = PracticeModel(
        np.random.default_rng(rng.getrandbits(64)), len(staff_ids), len(patient_ids),
        tuple(dict.fromkeys(domain for side in sides for domain in side.layout.domains)), patient_shift=shift,
    )
    clinician_index = {pk: i for i, pk in enumerate(staff_ids)}
    patient_index = {pk: i for i, pk in enumerate(patient_ids)}
    primary = {pk: rng.choice(staff_ids) for pk in patient_ids}
    dyad_ids: dict[tuple[int, int], int] = {}
    dyad_index: dict[tuple[int, int], int] = {}
    # First the whole practice's visits and who answered when, so each dyad's latest response (surveys.latest)
    # is known before any score row is written; then the answers and the rows, a batch per transaction.
    batches = []
    for start in range(0, n_visits, BATCH):
        size = min(BATCH, n_visits - start)
        plan, new_dyads = [], []
        for _ in range(size):
            patient = rng.choice(patient_ids)
            clinician = primary[patient] if rng.random() < 0.85 else rng.choice(staff_ids)
            key = (clinician, patient)
            if key not in dyad_index:
                dyad_index[key] = len(dyad_index)
                new_dyads.append(key)
            plan.append((key, today - dt.timedelta(days=rng.randrange(0, 365))))
        dyad_ids.update(zip(new_dyads, writer.ids(Dyad, len(new_dyads))))
        model.add_dyads(len(new_dyads))
        visit_ids = writer.ids(Visit, size)
        invitation_ids = iter(writer.ids(Invitation, 2 * size))

        visit_rows, invitation_rows, pending = [], [], []
        for visit_id, (key, date) in zip(visit_ids, plan):
            dyad_id = dyad_ids[key]
            visit_rows.append((visit_id, practice.pk, dyad_id, date, now))
            visit_time = timezone.make_aware(dt.datetime.combine(date, dt.time(9))) + dt.timedelta(minutes=rng.randrange(0, 480))
            visit_time = min(visit_time, latest_visit_time)
            for side, rate in ((sides[0], completion), (sides[1], clinician_diligence[key[0]])):
                opened = visit_time + dt.timedelta(hours=rng.uniform(0.5, 48)) if rng.random() < rate + 0.12 else None
                done = opened is not None and rng.random() < rate / (rate + 0.12)
                submitted = opened + dt.timedelta(seconds=rng.uniform(100, 480)) if done else None
                if submitted and submitted > now:
                    opened = submitted = None
                invitation_id = next(invitation_ids)
                is_patient = side.respondent == Respondent.PATIENT
                invitation_rows.append(
                    (
                        invitation_id, visit_id, side.respondent, side.version_id,
                        hash_token(new_token()) if is_patient else None,
                        visit_time, visit_time + ttl, opened, submitted, "", "",
                    )
                )
                if submitted:
                    pending.append(
                        Planned(
                            side, invitation_id, visit_id, dyad_id, practice.pk, key[0], key[1],
                            clinician_index[key[0]], patient_index[key[1]], dyad_index[key], opened, submitted,
                        )
                    )
        dyad_rows = [(dyad_ids[key], practice.pk, key[0], key[1], now) for key in new_dyads]
        batches.append(Batch(dyad_rows, visit_rows, invitation_rows, pending))

    response_ids = iter(writer.ids(Response, sum(len(batch.pending) for batch in batches)))
    for batch in batches:
        batch.response_ids = [next(response_ids) for _ in batch.pending]
    planned_rows = [
        (pk, planned.dyad_id, planned.respondent, planned.submitted_at)
        for batch in batches
        for pk, planned in zip(batch.response_ids, batch.pending)
    ]
    flags = latest.latest_response_ids(planned_rows)
    following = latest.next_months(planned_rows)
    created = 0
    for batch in batches:
        response_rows, answer_rows, score_rows = _responses(
            rng, model, sides, batch.response_ids, batch.pending, *flags, following
        )
        with transaction.atomic(using=writer.connection.alias):
            writer.write(Dyad, DYAD_FIELDS, batch.dyad_rows)
            writer.write(Visit, VISIT_FIELDS, batch.visit_rows)
            writer.write(Invitation, INVITATION_FIELDS, batch.invitation_rows)
            writer.write(Response, RESPONSE_FIELDS, response_rows)
            writer.write(Answer, ANSWER_FIELDS, answer_rows)
            writer.write(DomainScore, latest.SCORE_FIELDS, score_rows)
            writer.write(CaseMix, CASEMIX_FIELDS, casemix_rows(batch.response_ids, batch.pending, about_you))
        created += len(batch.visit_rows)
        if progress:
            progress(created, n_visits)
    return created


def _shares(dyad_id: int) -> bool:
    """Whether a demo patient chose to share their answers with their clinician: about two in five, the same
    patient every time, and without drawing from the random stream (so seeds keep giving the same answers)."""
    return dyad_id * 7919 % 5 < 2


def _answers(model: PracticeModel, sides, pending: list[Planned]) -> list[list[int | None]]:
    """Every planned response's raw answers, in `pending` order: drawn a side at a time, in one go per side."""
    answers: list = [None] * len(pending)
    for side in sides:
        mine = [i for i, planned in enumerate(pending) if planned.side is side]
        drawn = model.answers(
            side.layout, side.respondent == Respondent.PATIENT,
            [pending[i].clinician_index for i in mine], [pending[i].patient_index for i in mine],
            [pending[i].dyad_index for i in mine],
        )
        for i, values in zip(mine, drawn):
            answers[i] = values
    return answers


def _responses(rng, model: PracticeModel, sides, response_ids, pending: list[Planned], latest_ids: set[int],
               month_latest_ids: set[int], following: dict):
    """Answers drawn from the practice's model (demo/answers.py), scored like a real submission; each score
    row paired with the other respondent's score of its visit (and the wave's gap band), flagged as its dyad's latest
    where it is, and given its dyad's next month with a response (`following`, latest.next_months)."""
    response_rows, answer_rows, scored = [], [], []
    item_ids = {side.respondent: [item_id for _code, item_id, *_rest in side.items] for side in sides}
    for response_id, planned, values in zip(response_ids, pending, _answers(model, sides, pending)):
        side = planned.side
        ids = item_ids[side.respondent]
        answer_rows.extend(zip([response_id] * len(ids), ids, values))
        answers = {code: scoring.NA if value is None else value for code, value in zip(side.layout.codes, values)}
        scores = scoring.domain_scores(side.scoring_items, answers, side.spec.scale)
        index = scoring.indices(scores)
        response_rows.append(
            (
                response_id, planned.invitation_id, planned.visit_id, planned.dyad_id, planned.practice_id,
                side.respondent, side.version_id, "es" if rng.random() < 0.2 else "en", "", planned.started_at,
                planned.submitted_at, index["process_index"], index["outcome_index"],
                side.respondent == "patient" and _shares(planned.dyad_id),
            )
        )
        scored.append((response_id, planned, scores, answers))
    by_visit = {(planned.visit_id, planned.respondent): (scores, answers) for _id, planned, scores, answers in scored}
    bands = _wave_bands(sides, by_visit)
    score_rows = []
    for response_id, planned, scores, _given in scored:
        record = Record(response_id, planned.practice_id, planned.respondent, planned.submitted_at)
        theirs = by_visit.get((planned.visit_id, latest.other_side(planned.respondent)), ({}, None))[0]
        score_rows.extend(
            latest.score_rows(
                record, scores, planned.clinician_id, theirs, bands.get(planned.visit_id),
                latest=response_id in latest_ids, month_latest=response_id in month_latest_ids,
                next_month=following[response_id],
            )
        )
    return response_rows, answer_rows, score_rows


def _wave_bands(sides, by_visit: dict) -> dict[int, dict[str, str]]:
    """{visit id: the wave's gap bands} for the visits both sides answered, judged as a submission judges them
    (surveys.latest.wave_bands) from the answers in hand: the seed's current versions pair item by item from 1.1."""
    side_of = {side.respondent: side for side in sides}
    clinician, patient = side_of.get(Respondent.CLINICIAN), side_of.get(Respondent.PATIENT)
    if clinician is None or patient is None:
        return {}
    pairs = mirrored_pairs(clinician.spec, patient.spec)
    bands = {}
    for (visit_id, respondent), (patient_scores, patient_answers) in by_visit.items():
        if respondent != Respondent.PATIENT or (visit_id, Respondent.CLINICIAN) not in by_visit:
            continue
        clinician_scores, clinician_answers = by_visit[(visit_id, Respondent.CLINICIAN)]
        measures = None if pairs is None else item_pair_gaps(pairs, clinician_answers, patient_answers, patient.spec.scale)
        bands[visit_id] = gaps.wave_bands(clinician_scores, patient_scores, measures)
    return bands


# How much a patient's case mix moves their own views (latent units; a patient's own effect has an SD of about
# 0.67): older patients and patients in better health rate their care higher, as CAHPS finds.
CASEMIX_EFFECT = 0.25


def patient_casemix(salt: int, patients: int) -> tuple[list[tuple | None], np.ndarray]:
    """Each demo patient's "About you" answers (None: the section skipped) and what their case mix adds to their
    own views, one value per patient for `PracticeModel(patient_shift=...)`.

    The answers and the effect come from the same draws, so the case-mix adjustment has a real effect to find:
    age and self-rated general and mental health raise a patient's views, years with the clinician a little,
    education not at all. About a quarter skip the whole section (their case mix still acts, unreported) and
    one answer in twenty is skipped. Each patient has their own generator, seeded by the practice's salt (drawn
    from the seed's stream) and their position, so the same --seed gives the same answers."""
    answers: list[tuple | None] = []
    shift = np.zeros(patients)
    for index in range(patients):
        draw = random.Random(f"casemix:{salt}:{index}")
        age = draw.gauss(0, 1)
        health = draw.gauss(0, 1)  # higher: better health
        mental = 0.6 * health + 0.8 * draw.gauss(0, 1)
        years = 0.4 * age + draw.gauss(0, 1)
        shift[index] = CASEMIX_EFFECT * (0.5 * age + 0.6 * health + 0.3 * mental + 0.2 * years)
        if draw.random() < 0.25:
            answers.append(None)
            continue
        given = (
            _band(casemix.AGE_BANDS, age, (-0.8, -0.1, 0.6, 1.3)),
            _band(casemix.EDUCATION, draw.gauss(0, 1), (-1.9, -1.3, -0.3, 0.5, 1.2)),
            _band(casemix.HEALTH, -health, (-1.1, -0.2, 0.7, 1.5)),  # HEALTH runs from excellent to poor
            _band(casemix.HEALTH, -mental, (-0.9, 0.0, 0.8, 1.6)),
            _band(casemix.TIME_WITH_CLINICIAN, years, (-1.4, -0.3, 0.9)),
        )
        given = tuple(None if draw.random() < 0.05 else answer for answer in given)
        answers.append(given if any(given) else None)
    return answers, shift


def casemix_rows(response_ids, pending: list[Planned], answers: list[tuple | None]) -> list[tuple]:
    """The CaseMix rows of the batch's patient responses: each patient gives the same answers at every visit."""
    rows = []
    for response_id, planned in zip(response_ids, pending):
        if planned.respondent == Respondent.PATIENT and answers[planned.patient_index] is not None:
            rows.append((response_id, *answers[planned.patient_index]))
    return rows


def _band(levels: tuple[str, ...], value: float, cuts: tuple[float, ...]) -> str:
    """The level whose interval between `cuts` holds `value` (len(cuts) == len(levels) - 1)."""
    return levels[sum(1 for cut in cuts if value > cut)]
