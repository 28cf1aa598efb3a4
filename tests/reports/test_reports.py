"""Reports: the build pipeline, idempotency, suppression in every file, and the request_report command.

Tasks run eagerly here (in-process, as CELERY_TASK_ALWAYS_EAGER does); tests/test_worker_*.py run the same
pipeline in real worker processes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.urls import include, path
from django.utils import timezone

from figures import queries
from healing.celery import app as celery_app
from measurement import scoring
from plumbing.period import Period
from reports import builders, services, tasks
from reports.models import Report, ReportPart
from tests import factories
from tests.reports.helpers import (
    CAUTION,
    answered_dyad,
    export_means,
    period,
    read_html,
    read_zip,
    section_of,
    varied_dyad,
)

# The reports URLs, whether or not healing/urls.py includes them yet (notifications reverse them).
urlpatterns = [path("", include("front.report_urls")), path("", include("healing.urls"))]
pytestmark = pytest.mark.urls(__name__)

# --- the pipeline ---------------------------------------------------------------------------------------


def test_it_builds_a_practice_report_in_the_background(build, scored_practice, clinician_a, clinician_a2, mailoutbox):
    report = build(scored_practice)

    assert report.status == Report.Status.DONE
    assert (report.claims, report.builds, report.attempt) == (1, 1, 1)
    assert (report.parts_done, report.parts_total) == (2, 2)
    assert report.progress == 100
    assert sorted(ReportPart.objects.filter(report=report).values_list("clinician_id", flat=True)) == sorted(
        [clinician_a.pk, clinician_a2.pk]
    )
    assert not ReportPart.objects.filter(report=report, payload__isnull=False).exists()  # bulk dropped once written
    html, zip_path = services.report_file(report, "html"), services.report_file(report, "zip")
    assert html.name == f"healing-a-practice-{report.start}-to-{report.end}.html"
    assert zip_path.suffix == ".zip"
    spanish = services.report_file(report, "html", language="es")
    assert spanish.name == f"healing-a-practice-{report.start}-to-{report.end}.es.html"
    assert sorted(p.name for p in html.parent.iterdir()) == sorted([html.name, spanish.name, zip_path.name])


def test_it_emails_the_managers_a_link_once(build, scored_practice, mailoutbox):
    report = build(scored_practice)

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["manager-a@example.org"]
    assert f"https://healing.example/practice/a/reports/{report.pk}/" in mailoutbox[0].body
    assert services.notify_report_ready(report.pk, report.attempt) is False
    assert len(mailoutbox) == 1


def test_the_practice_means_match_the_export(build, scored_practice):
    report = build(scored_practice)

    rows = read_zip(report)["domains.csv"]
    practice_rows = {r["domain"]: r for r in rows if r["scope"] == "practice" and r["respondent"] == "patient"}
    expected = export_means("a", report.start, report.end)
    assert set(expected) == set(scoring.SHARED_DOMAINS)
    for domain, mean in expected.items():
        assert float(practice_rows[domain]["mean"]) == pytest.approx(mean, abs=1e-9)
        assert practice_rows[domain]["n"] == "8"


def test_a_small_clinicians_figures_are_in_no_file(build, scored_practice, clinician_a2):
    report = build(scored_practice)
    own = queries.domain_summaries(scored_practice, Period(report.start, report.end, clinician_id=clinician_a2.pk))
    assert own["valuing"].n == 2

    files = read_zip(report)
    for name in ("domains.csv", "trend.csv", "distribution.csv", "gaps.csv"):
        rows = [r for r in files[name] if r["clinician"] == "clin-a2"]
        assert rows, name
        for row in rows:
            assert row["suppressed"] == "1"
            assert "fewer than 5 dyads" in row["note"]
            for column in ("n", "mean", "sd", "ci_low", "ci_high", "count", "pairs", "mean_gap", "flagged",
                           "lower_beyond_error", "within_error", "higher_beyond_error", "judged_by_item_pairs"):
                assert row.get(column, "") == "", (name, column)
    html = read_html(report)
    section = section_of(html, clinician_a2)
    assert "fewer than 5 dyads" in section
    unround = [s.mean for s in own.values() if len(repr(s.mean)) > 8]
    assert unround
    for mean in unround:
        assert repr(mean) not in html  # not in any figure's data either
    assert f"{own['valuing'].mean:.1f}" not in section


def test_figures_under_30_carry_the_caution_note(build, scored_practice, clinician_a):
    # A third clinician with 5 dyads joins clin-a2's hidden group, so clin-a's 6 may be shown (complementary rule).
    third = factories.member(scored_practice, "clin-a3", "clinician")
    for i in range(5):
        answered_dyad(scored_practice, third, f"A3-{i}", 4)
    report = build(scored_practice)

    rows = [r for r in read_zip(report)["domains.csv"] if r["clinician"] == "clin-a" and r["respondent"] == "patient"]
    assert {r["n"] for r in rows} == {"6"}
    assert all(r["few_responses"] == "1" and r["note"] == CAUTION for r in rows)
    assert CAUTION in section_of(read_html(report), clinician_a)


def test_the_html_is_self_contained_and_prints(build, scored_practice):
    html = read_html(build(scored_practice))

    assert html.count("plotly.js v") == 1  # the library's banner: inlined once
    assert "<script src" not in html and "<link" not in html
    assert "@media print" in html
    assert 'id="methods"' in html and "100 × (mean − scale minimum)" in html and CAUTION in html
    assert "Plotly.newPlot" in html


def test_the_printed_report_opens_with_a_summary_page_and_keeps_its_tables_whole(build, scored_practice):
    html = read_html(build(scored_practice))
    main = html[html.index("<main>"):]

    assert main.index('id="summary"') < main.index('id="domains"') < main.index('id="clinician-sections"')
    summary = main[main.index('id="summary"'):main.index("</section>")]
    assert "<strong>8</strong> dyads with a patient questionnaire" in summary  # 6 dyads of clin-a, 2 of clin-a2
    assert re.search(r"<strong>\d+</strong> of 12 clinician figures are not shown", summary)
    assert 'class="summary"' in summary  # the practice's domain means, before any chart
    # Print rules: the summary is a page of its own; after it nothing forces a page break, so no page is left
    # half empty; a table is never split, so no row is left alone on a page.
    assert "section.summary-page { break-after: page" in html
    assert "table.summary { break-inside: avoid" in html and "table.summary thead { display: table-header-group" in html
    assert "article.clinician { break-before: page" not in html


def test_a_hidden_rolling_quarter_is_written_on_the_trend_where_its_hole_is():
    figure = {"n": 40, "sd": 10.0, "ci_low": 66.0, "ci_high": 74.0, "centre": 70.0, "lower_limit": 65.0,
              "upper_limit": 75.0}
    shown = {**figure, "quarter_ending": "2025-01", "suppressed": False, "mean": 70.0, "beyond_limits": False}
    called = {**figure, "quarter_ending": "2025-03", "suppressed": False, "mean": 80.0, "beyond_limits": True}
    hidden = {**{k: None for k in figure}, "quarter_ending": "2025-02", "suppressed": True, "mean": None,
              "beyond_limits": None}
    trend = [{**row, "domain": domain} for row in (shown, hidden, called) for domain in builders.SHARED]

    html = builders._trend_figure(trend, "Trend", "t-trend")

    assert "hidden: too few dyads" in html and "2025-02-01" in html
    assert "beyond the limits" in html  # the called point is ringed and says so


def test_the_zip_has_a_codebook_for_every_column(build, scored_practice):
    files = read_zip(build(scored_practice))

    documented = {(r["file"], r["column"]) for r in files["codebook.csv"]}
    assert set(files) == set(builders.CSV_COLUMNS) | {"codebook.csv"}
    for name, columns in builders.CSV_COLUMNS.items():
        assert {(name, c) for c in columns} <= documented
    assert all(r["meaning"] and r["unit_or_values"] for r in files["codebook.csv"])


def test_alpha_waits_for_30_complete_responses(build, practice_a, clinician_a):
    rng = random.Random(4)
    for i in range(29):
        varied_dyad(practice_a, clinician_a, f"R-{i}", rng)
    first = {r["domain"]: r for r in read_zip(build(practice_a))["reliability.csv"] if r["respondent"] == "patient"}
    assert first["valuing"]["alpha"] == "" and first["valuing"]["complete_responses"] == "29"
    assert "30" in first["valuing"]["note"]

    varied_dyad(practice_a, clinician_a, "R-29", rng)
    report = build(practice_a, force=True)
    rows = {r["domain"]: r for r in read_zip(report)["reliability.csv"] if r["respondent"] == "patient"}
    assert rows["valuing"]["complete_responses"] == "30"
    assert -1 < float(rows["valuing"]["alpha"]) <= 1


def test_a_clinician_report_holds_only_that_clinicians_figures(build, scored_practice, clinician_a, clinician_a2):
    report = build(scored_practice, kind=Report.Kind.CLINICIAN, clinician=clinician_a)

    assert report.status == Report.Status.DONE and report.parts_total == 1
    files = read_zip(report)
    clinicians = {r["clinician"] for rows in files.values() for r in rows if "clinician" in r}
    assert clinicians <= {"", "clin-a"}
    html = read_html(report)
    assert "clin-a2" not in html
    assert "clin-a" in services.report_file(report, "html").name


# --- idempotency -------------------------------------------------------------------------------------


def test_asking_twice_gives_the_same_report_and_queues_nothing(eager, scored_practice, django_capture_on_commit_callbacks):
    start, end = period()
    with django_capture_on_commit_callbacks() as first:
        report = services.request_report(scored_practice, start, end)
    with django_capture_on_commit_callbacks() as second:
        again = services.request_report(scored_practice, start, end)

    assert again.pk == report.pk
    assert len(first) == 1 and len(second) == 0
    assert Report.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_make_one_report_and_queue_it_once(scored_practice):
    import threading

    from django.db import connection

    start, end = period()
    barrier, queued, results = threading.Barrier(6), [], []

    def ask():
        try:
            barrier.wait()
            results.append(services.request_report(scored_practice, start, end).pk)
        finally:
            connection.close()

    with mock.patch("reports.services._enqueue", side_effect=lambda report: queued.append(report.pk)):
        threads = [threading.Thread(target=ask) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(results) == 6 and len(set(results)) == 1
    assert Report.objects.count() == 1 and queued == results[:1]


def test_the_database_allows_one_report_per_practice_kind_and_period(scored_practice, clinician_a):
    start, end = period()
    fields = {"practice": scored_practice, "start": start, "end": end, "requested_at": timezone.now()}
    Report.objects.create(**fields)
    Report.objects.create(kind=Report.Kind.CLINICIAN, clinician=clinician_a, **fields)
    for extra in ({}, {"kind": Report.Kind.CLINICIAN, "clinician": clinician_a}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Report.objects.create(**extra, **fields)


def test_the_database_refuses_a_reversed_period_or_a_practice_report_with_a_clinician(scored_practice, clinician_a):
    start, end = period()
    for bad in (
        {"start": end, "end": start},
        {"start": start, "end": end, "clinician": clinician_a},
        {"start": start, "end": end, "kind": Report.Kind.CLINICIAN},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Report.objects.create(practice=scored_practice, requested_at=timezone.now(), **bad)


def test_forcing_rebuilds_the_same_row_and_the_same_files(build, scored_practice, mailoutbox):
    report = build(scored_practice)
    html = services.report_file(report, "html")

    rebuilt = build(scored_practice, force=True)

    assert rebuilt.pk == report.pk
    assert (rebuilt.status, rebuilt.attempt, rebuilt.builds, rebuilt.claims) == (Report.Status.DONE, 2, 2, 2)
    assert services.report_file(rebuilt, "html") == html
    assert len(list(html.parent.iterdir())) == 3  # the HTML in English and in Spanish, and the ZIP
    assert len(mailoutbox) == 2  # one per build


def test_a_second_start_message_does_nothing(eager, scored_practice):
    start, end = period()
    report = Report.objects.create(practice=scored_practice, start=start, end=end, requested_at=timezone.now())
    with mock.patch("reports.services._fan_out") as fan_out:
        assert services.start_report(report.pk, 1, claim="task-1") is True
        assert services.start_report(report.pk, 1, claim="task-2") is False  # a duplicate: another id
        assert services.start_report(report.pk, 1, claim="task-1") is True  # redelivered after a crash: same id
        assert services.start_report(report.pk, 2, claim="task-1") is False  # an attempt that is not current
    report.refresh_from_db()
    assert report.claims == 2 and ReportPart.objects.filter(report=report).count() == 2


def test_a_duplicated_part_is_built_once(eager, scored_practice, clinician_a):
    start, end = period()
    report = Report.objects.create(practice=scored_practice, start=start, end=end, requested_at=timezone.now())
    with mock.patch("reports.services._fan_out"):
        services.start_report(report.pk, 1, claim="start")
    with mock.patch("reports.builders.clinician_part_in_each_language",
                       wraps=builders.clinician_part_in_each_language) as part, \
            mock.patch("reports.services._queue_assembly") as assemble:
        assert services.build_part(report.pk, 1, clinician_a.pk, claim="p-1") is True
        assert services.build_part(report.pk, 1, clinician_a.pk, claim="p-2") is False
        assert services.build_part(report.pk, 1, clinician_a.pk, claim="p-1") is False  # done already
    assert part.call_count == 1
    assert assemble.call_count == 0  # one of two parts: nothing to gather yet
    report.refresh_from_db()
    assert report.parts_done == 1


def test_a_part_redelivered_after_the_last_count_queues_the_assembly_again(eager, scored_practice, clinician_a, clinician_a2):
    start, end = period()
    report = Report.objects.create(practice=scored_practice, start=start, end=end, requested_at=timezone.now())
    with mock.patch("reports.services._fan_out"), mock.patch("reports.services._queue_assembly") as assemble:
        services.start_report(report.pk, 1, claim="start")
        services.build_part(report.pk, 1, clinician_a.pk, claim="p-a")
        services.build_part(report.pk, 1, clinician_a2.pk, claim="p-a2")
        assert assemble.call_count == 0  # on_commit inside the test's transaction: not run, as if lost in a crash
        services.build_part(report.pk, 1, clinician_a2.pk, claim="p-a2")  # the redelivered message
        assert assemble.call_count == 1


def test_a_redelivered_assembly_writes_one_set_of_files(build, scored_practice, eager):
    report = build(scored_practice)
    assert services.assemble_report(report.pk, report.attempt, claim=report.assembled_by) is False
    files = list(Path(eager).rglob("*"))
    assert sorted("".join(p.suffixes[-2:]) for p in files if p.is_file()) == [".es.html", ".html", ".zip"]


def test_stale_temporary_files_of_a_killed_build_are_removed(build, scored_practice, settings):
    report = build(scored_practice)
    directory = services.report_file(report, "html").parent
    leftover = directory / ".leftover.html.0123.tmp"
    leftover.write_text("half a report")
    settings.CELERY_TASK_TIME_LIMIT = 0

    build(scored_practice, force=True)

    assert not leftover.exists()


def test_a_newer_attempt_turns_old_tasks_into_no_ops(build, scored_practice, clinician_a):
    report = build(scored_practice)
    build(scored_practice, force=True)
    assert services.build_part(report.pk, 1, clinician_a.pk, claim="old") is False
    assert services.assemble_report(report.pk, 1, claim="old") is False
    assert services.mark_failed(report.pk, 1, "late failure of an old attempt") is False


# --- failures and retries ------------------------------------------------------------------------------


def test_a_failed_build_says_why_and_can_be_retried(build, scored_practice):
    with mock.patch("reports.builders.clinician_part", side_effect=ValueError("no such chart")):
        report = build(scored_practice)
    assert report.status == Report.Status.FAILED
    assert "ValueError: no such chart" in report.error
    assert services.may_retry(report)

    again = build(scored_practice)  # asking again for a failed report rebuilds it

    assert again.pk == report.pk and again.status == Report.Status.DONE and again.error == ""


def test_transient_database_errors_are_retried(build, scored_practice):
    real = services.build_part
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    with mock.patch("reports.services.build_part", side_effect=flaky):
        report = build(scored_practice)

    assert report.status == Report.Status.DONE
    assert len(calls) == 3  # two parts, one of them twice


def test_when_retries_run_out_the_report_fails_with_the_reason(build, scored_practice):
    with mock.patch("reports.services.assemble_report", side_effect=InterfaceError("connection already closed")):
        report = build(scored_practice)
    assert report.status == Report.Status.FAILED
    assert "database was unavailable" in report.error


def test_report_tasks_retry_transient_faults_and_survive_a_lost_worker():
    for task in (tasks.build_report, tasks.build_report_part, tasks.assemble_report):
        assert set(task.autoretry_for) >= {OperationalError, InterfaceError}
        assert task.retry_backoff and task.max_retries >= 3
        assert task.acks_late and task.reject_on_worker_lost


def test_celery_settings_suit_long_idempotent_tasks(settings):
    conf = celery_app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert conf.broker_transport_options["visibility_timeout"] >= conf.task_time_limit
    assert conf.task_routes["reports.tasks.*"]["queue"] == "reports"
    assert {q.name for q in conf.task_queues} >= {"celery", "reports", "email"}


# --- schedules -----------------------------------------------------------------------------------------


def test_beat_runs_the_report_schedule_on_the_first():
    entry = celery_app.conf.beat_schedule["monthly-reports"]
    assert entry["task"] == tasks.build_monthly_reports.name
    assert entry["schedule"].day_of_month == {1}


def test_the_monthly_run_asks_once_for_every_practice_and_clinician(eager, scored_practice, practice_b, clinician_b,
                                                                    django_capture_on_commit_callbacks, settings):
    settings.REPORTS_MONTHLY_CLINICIAN_REPORTS = True
    with django_capture_on_commit_callbacks() as queued:
        reports = services.request_monthly_reports(today=dt.date(2026, 3, 15))
    with django_capture_on_commit_callbacks() as queued_again:
        services.request_monthly_reports(today=dt.date(2026, 3, 31))

    # In March the latest closed quarter is the last of 2025: the run of the 15th asks for it, that of the 31st
    # finds it there.
    assert {(r.start, r.end) for r in reports} == {(dt.date(2025, 10, 1), dt.date(2025, 12, 31))}
    assert sorted((r.practice.slug, r.kind, r.clinician.username if r.clinician else "") for r in reports) == [
        ("a", "clinician", "clin-a"), ("a", "clinician", "clin-a2"), ("a", "practice", ""),
        ("b", "clinician", "clin-b"), ("b", "practice", ""),
    ]
    assert len(queued) == 5 and len(queued_again) == 0


def test_the_monthly_task_builds_the_practice_reports(build, scored_practice, practice_b,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.build_monthly_reports.delay()
    assert sorted(Report.objects.values_list("practice__slug", "kind", "status")) == [
        ("a", "practice", "done"), ("b", "practice", "done"),
    ]




# --- the command ----------------------------------------------------------------------------------------


def run(*args) -> dict:
    out = io.StringIO()
    call_command("request_report", *args, stdout=out, stderr=io.StringIO())
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def period_args() -> list[str]:
    start, end = period()
    return ["--start", start.isoformat(), "--end", end.isoformat()]


def test_the_command_queues_a_report(scored_practice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        result = run("--practice", "a", *period_args())
    assert result == {"report": Report.objects.get().pk, "status": "queued"}
    assert len(queued) == 1


# --wait polls the database, so the tasks queued on commit must really run: real transactions here.
@pytest.mark.django_db(transaction=True)
def test_the_command_waits_for_the_files(eager, scored_practice):
    result = run("--practice", "a", *period_args(), "--wait")
    assert result["status"] == "done"
    assert Path(result["html"]).is_absolute() and Path(result["html"]).is_file()
    assert Path(result["zip"]).is_file() and result["zip"].endswith(".zip")


@pytest.mark.django_db(transaction=True)
def test_the_command_builds_a_clinician_report_and_forces_a_rebuild(eager, scored_practice):
    args = ["--practice", "a", *period_args(), "--kind", "clinician", "--clinician", "clin-a", "--wait"]
    first = run(*args)
    forced = run(*args, "--force")
    assert forced["report"] == first["report"] and forced["status"] == "done"
    assert Report.objects.get().attempt == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--practice", "nope", "--start", "2026-01-01", "--end", "2026-01-31"], "Unknown practice"),
        (["--practice", "a", "--start", "2026-13-01", "--end", "2026-01-31"], "Bad date"),
        (["--practice", "a", "--start", "2026-02-01", "--end", "2026-01-31"], "on or after the start date"),
        (["--practice", "a", "--start", "2026-01-01", "--end", "2026-01-31", "--kind", "clinician"], "--clinician"),
        (["--practice", "a", "--start", "2026-01-01", "--end", "2026-01-31", "--kind", "clinician",
          "--clinician", "ghost"], "Unknown user"),
        (["--practice", "a", "--start", "2026-01-01", "--end", "2026-01-31", "--kind", "clinician",
          "--clinician", "mgr-a"], "not a clinician"),
    ],
)
def test_the_command_refuses_bad_requests_with_exit_code_2(scored_practice, args, message):
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    assert excinfo.value.returncode == 2
    assert message in str(excinfo.value)
    assert not Report.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_reports_a_failure(eager, scored_practice):
    with mock.patch("reports.builders.clinician_part", side_effect=RuntimeError("disk full")), \
            pytest.raises(CommandError) as excinfo:
        run("--practice", "a", *period_args(), "--wait", "--timeout", "60")
    assert "disk full" in str(excinfo.value)


# --- complementary suppression in every file -----------------------------------------------------------
# A practice figure minus the shown clinicians' figures must not give back a hidden one (docs/measurement.md), so the
# reports apply scoring.complementary_suppression per domain and per (month, domain), as the dashboards do.

FIGURE_FILES = ("domains.csv", "trend.csv", "distribution.csv", "gaps.csv")
NUMBER_COLUMNS = ("n", "mean", "sd", "ci_low", "ci_high", "count", "pairs", "mean_gap", "flagged",
                  "lower_beyond_error", "within_error", "higher_beyond_error", "judged_by_item_pairs")


def dyads(practice, clinician, count: int, rng: random.Random) -> None:
    for i in range(count):
        varied_dyad(practice, clinician, f"{clinician.username}-{i}", rng, clinician_value=3)


def rows_of(files: dict, scope: str, username: str = "") -> dict[str, list[dict]]:
    return {name: [r for r in files[name] if r["scope"] == scope and r["clinician"] == username]
            for name in FIGURE_FILES}


def assert_hidden(rows: dict[str, list[dict]]) -> None:
    for name, file_rows in rows.items():
        assert file_rows, name
        for row in file_rows:
            assert row["suppressed"] == "1", (name, row)
            assert "fewer than 5 dyads" in row["note"]
            for column in NUMBER_COLUMNS:
                assert row.get(column, "") == "", (name, column)


def assert_shown(rows: dict[str, list[dict]]) -> None:
    for name, file_rows in rows.items():
        assert file_rows, name
        assert all(row["suppressed"] == "0" for row in file_rows), name
    assert all(r["mean"] for r in rows["domains.csv"])


def unround_means(practice, report, clinician=None) -> list[float]:
    """Means that, if leaked, would show at full precision (not also some single dyad's score in the scatter)."""
    whole = Period(report.start, report.end)
    singles = {p.patient for p in queries.concordance(practice, whole)}
    summaries = queries.domain_summaries(
        practice, Period(report.start, report.end, clinician_id=clinician.pk if clinician else None))
    means = [s.mean for s in summaries.values() if len(repr(s.mean)) > 8 and s.mean not in singles]
    assert means
    return means


def without_scripts(html: str) -> str:
    return re.sub(r"<script.*?</script>", "", html, flags=re.S)  # plotly.js holds digits of every kind


def heatmap_row(html: str, name: str) -> str:
    start = html.index(f'<tr><th scope="row">{name}</th>')
    return html[start: html.index("</tr>", start)]


def test_with_two_clinicians_the_bigger_one_is_hidden_with_the_small_one(build, practice_a, clinician_a, clinician_a2):
    rng = random.Random(5)
    dyads(practice_a, clinician_a, 3, rng)  # below 5: hidden
    dyads(practice_a, clinician_a2, 6, rng)  # above 5, but practice minus clin-a2 would give clin-a back
    report = build(practice_a)

    files = read_zip(report)
    assert_hidden(rows_of(files, "clinician", "clin-a"))
    assert_hidden(rows_of(files, "clinician", "clin-a2"))
    assert_shown(rows_of(files, "practice"))  # 9 dyads from two clinicians: safe to show
    html = read_html(report)
    for clinician in (clinician_a, clinician_a2):
        assert "fewer than 5 dyads" in section_of(html, clinician)
        assert "hidden" in heatmap_row(html, clinician.username) and "(n " not in heatmap_row(html, clinician.username)
        for mean in unround_means(practice_a, report, clinician):
            assert repr(mean) not in html
            assert f"{mean:.1f}" not in section_of(html, clinician)

    # Managers open clinician reports too: clin-a2's own report must not undo the practice report's hiding.
    own = build(practice_a, kind=Report.Kind.CLINICIAN, clinician=clinician_a2)
    assert_hidden(rows_of(read_zip(own), "clinician", "clin-a2"))


def test_a_single_small_clinician_hides_the_practice_figure(build, practice_a, clinician_a):
    dyads(practice_a, clinician_a, 3, random.Random(6))
    report = build(practice_a)

    files = read_zip(report)
    assert_hidden(rows_of(files, "clinician", "clin-a"))
    practice_rows = rows_of(files, "practice")
    assert_hidden(practice_rows)  # the practice figure is clin-a's figure
    assert {r["respondent"] for r in practice_rows["domains.csv"]} == {"patient", "clinician"}
    html = read_html(report)
    for mean in unround_means(practice_a, report):
        assert repr(mean) not in html
        assert f"{mean:.1f}" not in without_scripts(html)

    own = build(practice_a, kind=Report.Kind.CLINICIAN, clinician=clinician_a)
    assert_hidden({"domains.csv": [r for r in read_zip(own)["domains.csv"] if r["scope"] == "practice"]})


def test_with_a_third_clinician_only_the_small_and_the_smallest_other_are_hidden(
    build, practice_a, clinician_a, clinician_a2
):
    rng = random.Random(7)
    third = factories.member(practice_a, "clin-a3", "clinician")
    dyads(practice_a, clinician_a, 3, rng)
    dyads(practice_a, clinician_a2, 6, rng)  # the smallest other: hidden with clin-a (9 dyads together)
    dyads(practice_a, third, 8, rng)
    report = build(practice_a)

    files = read_zip(report)
    assert_hidden(rows_of(files, "clinician", "clin-a"))
    assert_hidden(rows_of(files, "clinician", "clin-a2"))
    shown = rows_of(files, "clinician", "clin-a3")
    assert_shown(shown)
    assert {r["n"] for r in shown["domains.csv"] if r["respondent"] == "patient"} == {"8"}
    assert_shown(rows_of(files, "practice"))
    html = read_html(report)
    assert "(n 8)" in heatmap_row(html, "clin-a3")
    assert "fewer than 5 dyads" not in section_of(html, third)


def test_the_report_compares_clinicians_as_a_funnel_plot_of_the_figures_it_may_show(build, scored_practice,
                                                                                      clinician_a, clinician_a2):
    third = factories.member(scored_practice, "clin-a3", "clinician")
    for i in range(5):
        answered_dyad(scored_practice, third, f"A3-{i}", 4)
    report = build(scored_practice)
    html = read_html(report)
    start = html.index('<section id="funnel-plot">')
    section = html[start:html.index("</section>", start)]
    assert "Clinicians compared" in section and "99.8" in section
    points = re.findall(r'"text":\[([^\]]*)\]', section)
    drawn = " ".join(points)
    assert builders.display_name(clinician_a) in drawn
    assert builders.display_name(clinician_a2) not in drawn and "clin-a3" not in drawn  # hidden figures are not drawn
    heatmap = html[html.index('<section id="clinicians">'):html.index('<section id="funnel-plot">')]
    assert "not reliable enough to compare clinicians" in heatmap


def test_gaps_csv_spreads_1_1_waves_by_item_pairs_and_keeps_the_domain_rule_count(
    build, current_instruments, practice_a, clinician_a
):
    # One step apart twice (never flagged), two steps higher twice, two steps lower twice.
    for i, (mine, theirs) in enumerate([(5, 4), (5, 4), (5, 3), (5, 3), (2, 4), (2, 4)]):
        factories.answered_wave(practice_a, clinician_a, f"W-{i}", mine, theirs)

    report = build(practice_a)

    rows = [r for r in read_zip(report)["gaps.csv"] if r["clinician"] == "clin-a"]
    assert [r["domain"] for r in rows] == list(scoring.SHARED_DOMAINS)
    for row in rows:
        assert (row["pairs"], row["judged_by_item_pairs"]) == ("6", "6")
        assert (row["lower_beyond_error"], row["within_error"], row["higher_beyond_error"]) == ("2", "2", "2")
        assert row["flagged"] == "6"  # the contract's |gap| >= 25, still given
    section = section_of(read_html(report), clinician_a)
    assert "item pairs, beyond measurement error (instrument 1.1)" in section
