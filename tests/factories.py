"""Small builders for test data, going through the services like real callers."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import time_machine
from django.utils import timezone

from measurement.instruments import spec_for_version
from plumbing.period import released_quarter
from surveys import services

PASSWORD = "correct horse battery staple"


def practice(slug: str, min_n: int = 5):
    return services.create_practice(slug, f"Practice {slug.upper()}", min_n)[0]


def member(practice, username: str, role: str):
    return services.add_member(practice, username, role, PASSWORD)[0].user


def visit(practice, clinician, patient_reference: str, date: dt.date | None = None) -> services.NewVisit:
    return services.create_visit(practice, clinician, patient_reference, date)


def full_answers(invitation, value: int | str = 4) -> dict[str, str]:
    """Every item of the invitation's instrument answered with `value`, as a form would post it."""
    spec = spec_for_version(invitation.instrument_version)
    return {item.code: str(value) for item in spec.items}


def scoring_every_item(invitation, value: int) -> dict[str, str]:
    """Form answers whose *scored* value is `value` on every item: reverse-keyed items are answered the other way
    round, so every domain scores the same and item-pair gaps are the same on every pair."""
    spec = spec_for_version(invitation.instrument_version)
    low, high = spec.scale.min, spec.scale.max
    return {item.code: str(low + high - value if item.reverse else value) for item in spec.items}


def answered_wave(practice, clinician, reference: str, clinician_value: int, patient_value: int, *, shared=False):
    """A visit of the latest closed quarter whose two questionnaires score `clinician_value` and `patient_value`
    on every item (`scoring_every_item`)."""
    with in_closed_quarter():
        new = visit(practice, clinician, reference)
        patient, own = patient_invitation(new), clinician_invitation(new)
        services.submit_response(patient, scoring_every_item(patient, patient_value), shared=shared)
        services.submit_response(own, scoring_every_item(own, clinician_value))
    return new.visit


def patient_invitation(new_visit: services.NewVisit):
    return new_visit.visit.invitations.get(respondent="patient")


def clinician_invitation(new_visit: services.NewVisit):
    return new_visit.visit.invitations.get(respondent="clinician")


@contextmanager
def in_closed_quarter():
    """What is made inside happens on a day of the latest closed quarter: the one pages and reports show, since
    a quarter under way is never released (docs/privacy.md). The clock runs on from that day."""
    today = timezone.localdate()
    quarter = released_quarter(today, today)
    zone = timezone.get_current_timezone()
    moment = dt.datetime.combine(quarter.start + dt.timedelta(days=30), dt.time(12), tzinfo=zone)
    with time_machine.travel(moment, tick=True):
        yield


def correlated_answers(practice, clinician, patient_reference: str, rng, language: str = "en") -> dict:
    """A new visit's patient questionnaire sent with answers that go together item by item (one level per
    patient, give or take one, reverse-worded items answered the other way round), with P08 "does not apply" now and then: data for alpha, omega and item shares."""
    invitation = patient_invitation(visit(practice, clinician, patient_reference))
    spec = spec_for_version(invitation.instrument_version)
    level = rng.randint(2, 4)
    answers = {}
    for item in spec.items:
        value = min(spec.scale.max, max(spec.scale.min, level + rng.choice((-1, 0, 0, 1))))
        # A reverse-worded item is answered the other way round, as a patient who means the same would.
        answers[item.code] = str(spec.scale.min + spec.scale.max - value if item.reverse else value)
    if "P08" in answers and rng.random() < 0.2:
        answers["P08"] = "na"
    services.submit_response(invitation, answers, language=language)
    return answers
