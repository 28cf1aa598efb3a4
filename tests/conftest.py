"""Fixtures shared by the suite: loaded instruments, and the standing people of two practices."""

import shutil

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import translation

from surveys.services import INSTRUMENTS_DIR, load_instruments
from tests import factories


def pytest_collection_modifyitems(config, items):
    # Concurrency tests need row locks: they run on PostgreSQL (as CI does) and say why when skipped.
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI runs these)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def fresh_cache():
    # Rate-limit counters live in the cache (LocMemCache in tests): no test inherits another's requests.
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the site's default language: a request through LocaleMiddleware (a client that chose
    Spanish) leaves its language active in the thread, and the next test's reports would come out in Spanish."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def private_reports_dir(settings, tmp_path):
    """Report files (built by tests, by an erasure's rebuild, by a replica test) go to the test's own folder,
    never to the checkout's var/reports."""
    settings.REPORTS_DIR = tmp_path / "reports"
    return settings.REPORTS_DIR


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process when queued. Set on the app itself: once Celery has read its configuration,
    changing settings.CELERY_TASK_ALWAYS_EAGER no longer reaches it."""
    from healing.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's real cost buys nothing in tests and makes each account ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def instruments_1_0_dir(tmp_path_factory):
    """A folder holding only the 1.0 instrument files."""
    folder = tmp_path_factory.mktemp("instruments-1.0")
    for path in INSTRUMENTS_DIR.glob("*-1.0.json"):
        if path.name != "competencies-1.0.json":
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def instruments(db, instruments_1_0_dir):
    """Patient and clinician 1.0. Most tests pin their answers to 1.0's items (codes, reverse keying, item counts),
    and 1.0 answers keep being scored by 1.0's rules now that 1.1 is current; tests of what a fresh install
    loads (1.1 current, the competencies self-assessment) use `current_instruments`."""
    load_instruments(instruments_1_0_dir)


@pytest.fixture
def current_instruments(db):
    """Every instrument file, as `manage.py load_instruments` loads them: patient and clinician 1.1 current."""
    load_instruments()


@pytest.fixture
def practice_a(instruments):
    return factories.practice("a")


@pytest.fixture
def practice_b(instruments):
    return factories.practice("b")


@pytest.fixture
def clinician_a(practice_a):
    return factories.member(practice_a, "clin-a", "clinician")


@pytest.fixture
def clinician_a2(practice_a):
    return factories.member(practice_a, "clin-a2", "clinician")


@pytest.fixture
def clinician_b(practice_b):
    return factories.member(practice_b, "clin-b", "clinician")


@pytest.fixture
def manager_a(practice_a):
    return factories.member(practice_a, "mgr-a", "manager")


@pytest.fixture
def manager_b(practice_b):
    return factories.member(practice_b, "mgr-b", "manager")


@pytest.fixture
def visit_a(practice_a, clinician_a):
    """A fresh visit of clinician A with patient PA-001; `.patient_token` is the patient's link token."""
    return factories.visit(practice_a, clinician_a, "PA-001")


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def competencies(db, tmp_path):
    """The clinicians' periodic competencies self-assessment, loaded beside whatever else the test loads."""
    shutil.copy(INSTRUMENTS_DIR / "competencies-1.0.json", tmp_path / "competencies-1.0.json")
    load_instruments(tmp_path)
