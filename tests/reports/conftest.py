"""Fixtures of the report tests: tasks run eagerly, a `build` that requests a report and runs what it queues, and
a practice with one clinician shown and one suppressed."""

from __future__ import annotations

import random

import pytest

from reports import services
from tests.reports.helpers import answered_dyad, period, varied_dyad


@pytest.fixture
def eager(settings, eager_tasks):
    """Tasks run in-process; report files go to the test's REPORTS_DIR (conftest.private_reports_dir)."""
    settings.SITE_URL = "https://healing.example"
    return settings.REPORTS_DIR


@pytest.fixture
def build(eager, django_capture_on_commit_callbacks):
    """Request a report and run every task it queues, as a worker would (after commit)."""

    def run(practice, **kwargs):
        start, end = kwargs.pop("start", None), kwargs.pop("end", None)
        default_start, default_end = period()
        with django_capture_on_commit_callbacks(execute=True):
            report = services.request_report(practice, start or default_start, end or default_end, **kwargs)
        report.refresh_from_db()
        return report

    return run


@pytest.fixture
def scored_practice(practice_a, clinician_a, clinician_a2, manager_a):
    """Clinician A with 6 dyads (shown, few responses), clinician A2 with 2 (suppressed: below 5)."""
    manager_a.email = "manager-a@example.org"
    manager_a.save()
    for i, value in enumerate([2, 3, 4, 5, 4, 3]):
        answered_dyad(practice_a, clinician_a, f"A-{i}", value, clinician_value=4 if i % 2 else 5)
    rng = random.Random(11)  # unround means, so a leak of them would show
    for i in range(2):
        varied_dyad(practice_a, clinician_a2, f"A2-{i}", rng, clinician_value=3)
    return practice_a
