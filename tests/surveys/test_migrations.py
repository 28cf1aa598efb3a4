"""Migrations 0004, 0010 and 0011 fill the read model for scores saved before it existed (surveys/latest.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from surveys.latest import latest_response_ids, month_of, next_months

BEFORE = [("surveys", "0003_performance_indexes")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_scores_get_their_copies_pairs_months_and_flags(instruments):
    latest_state = MigrationExecutor(connection).loader.graph.leaf_nodes()
    apps = migrate(BEFORE)
    try:
        model = apps.get_model
        practice = model("surveys", "Practice").objects.create(slug="old", name="Old practice")
        clinician = model("auth", "User").objects.create(username="dr-old")
        patient = model("surveys", "Patient").objects.create(practice=practice, reference="OLD-1")
        dyad = model("surveys", "Dyad").objects.create(practice=practice, clinician=clinician, patient=patient)
        versions = {v.respondent: v for v in model("surveys", "InstrumentVersion").objects.filter(is_current=True)}
        now = timezone.now()
        moments = [now - dt.timedelta(days=70), now - dt.timedelta(days=69), now - dt.timedelta(days=2)]
        responses = {}
        for number, moment in enumerate(moments):
            visit = model("surveys", "Visit").objects.create(practice=practice, dyad=dyad, date=moment.date())
            for respondent, score in (("patient", 40.0 + number), ("clinician", 80.0 + number)):
                if respondent == "clinician" and number == 1:
                    continue  # a wave the clinician never answered
                invitation = model("surveys", "Invitation").objects.create(
                    visit=visit, respondent=respondent, instrument_version=versions[respondent],
                    token_hash=f"{number}{respondent}" if respondent == "patient" else None,
                    expires_at=now + dt.timedelta(days=14),
                )
                response = model("surveys", "Response").objects.create(
                    invitation=invitation, visit=visit, dyad=dyad, practice=practice, respondent=respondent,
                    instrument_version=versions[respondent], submitted_at=moment,
                )
                model("surveys", "DomainScore").objects.create(response=response, domain="trust", score=score)
                responses[(number, respondent)] = response.pk
    finally:
        migrate(latest_state)

    from surveys.models import DomainScore, Response

    rows = {(row.response_id): row for row in DomainScore.objects.all()}
    for (number, respondent), pk in responses.items():
        row = rows[pk]
        assert (row.practice_id, row.clinician_id, row.respondent) == (practice.pk, clinician.pk, respondent)
        assert row.submitted_at == moments[number] and row.month == month_of(moments[number])
        other = 80.0 + number if respondent == "patient" else 40.0 + number
        assert row.paired_score == (None if number == 1 else other)
    assert {pk for pk, row in rows.items() if row.is_latest} == {responses[(2, "patient")], responses[(2, "clinician")]}
    # By month: the definition's answer (tests/surveys/test_latest.py checks the function against it).
    _latest, monthly = latest_response_ids(Response.objects.values_list("id", "dyad_id", "respondent", "submitted_at"))
    assert {pk for pk, row in rows.items() if row.is_month_latest} == monthly
    assert responses[(0, "clinician")] in monthly and responses[(1, "patient")] in monthly
    # Migration 0011: each row's dyad's next month with a response of the same side.
    following = next_months(Response.objects.values_list("id", "dyad_id", "respondent", "submitted_at"))
    assert {pk: row.next_month for pk, row in rows.items()} == following
    assert following[responses[(1, "patient")]] == month_of(moments[2])
    # Migration 0010: the band of each paired wave, by the domain rule here (no answers to pair item by item).
    assert {pk: row.paired_band for pk, row in rows.items()} == {
        pk: None if number == 1 else "higher" for (number, _respondent), pk in responses.items()
    }
