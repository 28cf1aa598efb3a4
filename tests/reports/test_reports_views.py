"""The reports pages: who may ask, watch and download; another practice's or clinician's report answers 404."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from io import BytesIO

import pytest
from django.urls import include, path, reverse
from django.utils import timezone

from plumbing import workers
from reports import services
from reports.models import Report
from tests import factories
from tests.reports.helpers import period

urlpatterns = [path("", include("front.report_urls")), path("", include("healing.urls"))]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def practice_report(build, scored_practice):  # noqa: F811
    return build(scored_practice)


@pytest.fixture
def clinician_report(build, scored_practice, clinician_a):  # noqa: F811
    return build(scored_practice, kind=Report.Kind.CLINICIAN, clinician=clinician_a)


@pytest.fixture
def queued_report(scored_practice, django_capture_on_commit_callbacks):  # noqa: F811
    """A practice report asked for with no worker to build it: it stays queued."""
    start, end = period()
    with django_capture_on_commit_callbacks(execute=False):
        return services.request_report(scored_practice, start, end)


def signed_in(client, user):
    client.force_login(user)
    return client


def download(report, fmt):
    return reverse("report_download", args=[report.practice.slug, report.pk, fmt])


def detail(report):
    return reverse("report_detail", args=[report.practice.slug, report.pk])


# --- asking for a report ------------------------------------------------------------------------------


def test_the_reports_page_asks_for_anonymous_sign_in(client, scored_practice):  # noqa: F811
    response = client.get(reverse("reports", args=["a"]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_manager_asks_for_a_report_and_is_taken_to_its_progress(client, eager, scored_practice, manager_a,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    start, end = period()
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(client, manager_a).post(
            reverse("reports", args=["a"]), {"kind": "practice", "start": start, "end": end}
        )
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(report)
    assert report.requested_by == manager_a and report.status == Report.Status.DONE

    page = client.get(detail(report)).content.decode()
    assert download(report, "html") in page and download(report, "zip") in page


def test_a_manager_asks_for_a_clinician_report(client, eager, scored_practice, manager_a, clinician_a):  # noqa: F811
    start, end = period()
    signed_in(client, manager_a).post(
        reverse("reports", args=["a"]), {"kind": "clinician", "clinician": clinician_a.pk, "start": start, "end": end}
    )
    report = Report.objects.get()
    assert (report.kind, report.clinician) == (Report.Kind.CLINICIAN, clinician_a)


def test_the_form_refuses_a_reversed_period(client, scored_practice, manager_a):  # noqa: F811
    start, end = period()
    response = signed_in(client, manager_a).post(
        reverse("reports", args=["a"]), {"kind": "practice", "start": end, "end": start}
    )
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_a_clinician_asks_only_for_their_own_report(client, eager, scored_practice, clinician_a, clinician_a2):  # noqa: F811
    start, end = period()
    signed_in(client, clinician_a).post(
        reverse("reports", args=["a"]),
        {"kind": "practice", "clinician": clinician_a2.pk, "start": start, "end": end},  # ignored: not theirs to pick
    )
    report = Report.objects.get()
    assert (report.kind, report.clinician) == (Report.Kind.CLINICIAN, clinician_a)


def test_another_practices_manager_gets_404(client, scored_practice, manager_b, practice_report):  # noqa: F811
    signed_in(client, manager_b)
    for url in (reverse("reports", args=["a"]), detail(practice_report), download(practice_report, "html"),
                reverse("report_status", args=["a", practice_report.pk])):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("report_retry", args=["a", practice_report.pk])).status_code == 404


def test_a_report_id_under_another_practice_gets_404(client, scored_practice, practice_b, manager_a, manager_b,  # noqa: F811
                                                      practice_report):
    # manager_a may see practice a's report, but not through practice b's URL (and has no role in b).
    signed_in(client, manager_a)
    assert client.get(reverse("report_detail", args=["b", practice_report.pk])).status_code == 404


# --- progress -------------------------------------------------------------------------------------------


def test_the_status_fragment_polls_until_the_report_is_finished(client, queued_report, manager_a):
    report = queued_report
    signed_in(client, manager_a)
    status_url = reverse("report_status", args=["a", report.pk])

    queued = client.get(status_url)
    assert f'hx-get="{status_url}"' in queued.content.decode() and 'hx-trigger="every 2s"' in queued.content.decode()
    assert "no-cache" in queued["Cache-Control"]

    Report.objects.filter(pk=report.pk).update(status=Report.Status.FAILED, error="The build failed: boom")
    failed = client.get(status_url).content.decode()
    assert "hx-trigger" not in failed
    assert "The build failed: boom" in failed and reverse("report_retry", args=["a", report.pk]) in failed


def test_a_queued_report_says_when_no_worker_has_been_seen_for_a_minute(client, queued_report, manager_a):
    report = queued_report
    signed_in(client, manager_a)
    status_url, list_url = reverse("report_status", args=["a", report.pk]), reverse("reports", args=["a"])
    waiting = "No report worker is running"

    workers.record_heartbeat("celery@alive", timezone.now() - dt.timedelta(seconds=10))
    assert waiting not in client.get(status_url).content.decode()
    assert waiting not in client.get(list_url).content.decode()

    workers.record_heartbeat("celery@alive", timezone.now() - dt.timedelta(seconds=61))  # it stopped beating
    assert waiting in client.get(status_url).content.decode()
    assert waiting in client.get(list_url).content.decode()

    Report.objects.filter(pk=report.pk).update(status=Report.Status.DONE)  # nothing waits: nothing to say
    assert waiting not in client.get(status_url).content.decode()
    assert waiting not in client.get(list_url).content.decode()


def test_the_pages_load_htmx_from_a_file_and_have_no_inline_script_or_style(client, practice_report, manager_a):
    signed_in(client, manager_a)
    for url in (reverse("reports", args=["a"]), detail(practice_report)):
        page = client.get(url).content.decode()
        assert "vendor/htmx/htmx.min.js" in page
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url  # every script is a file
        assert " style=" not in page, url


def test_a_manager_retries_a_failed_report(client, eager, queued_report, manager_a,
                                           django_capture_on_commit_callbacks):
    report = queued_report
    Report.objects.filter(pk=report.pk).update(status=Report.Status.FAILED, error="boom")
    signed_in(client, manager_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("report_retry", args=["a", report.pk]))

    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.status, report.attempt, report.error) == (Report.Status.DONE, 2, "")


def test_a_running_report_is_not_retried(client, queued_report, manager_a):
    report = queued_report
    signed_in(client, manager_a).post(reverse("report_retry", args=["a", report.pk]))
    report.refresh_from_db()
    assert report.attempt == 1


# --- downloads ------------------------------------------------------------------------------------------


def test_a_manager_downloads_the_files_as_attachments(client, practice_report, manager_a):
    signed_in(client, manager_a)

    html = client.get(download(practice_report, "html"))
    assert html.status_code == 200
    assert html["Content-Disposition"].startswith("attachment;")
    assert services.report_file(practice_report, "html").name in html["Content-Disposition"]
    assert html["Content-Type"].startswith("text/html")
    assert "no-store" in html["Cache-Control"]
    assert b"".join(html.streaming_content).startswith(b"<!doctype html>")

    archive = client.get(download(practice_report, "zip"))
    assert archive["Content-Disposition"].startswith("attachment;")
    names = zipfile.ZipFile(BytesIO(b"".join(archive.streaming_content))).namelist()
    assert "codebook.csv" in names and "domains.csv" in names


def test_an_unfinished_report_or_an_unknown_format_has_no_download(client, scored_practice, manager_a, practice_report,  # noqa: F811
                                                                   django_capture_on_commit_callbacks):
    signed_in(client, manager_a)
    assert client.get(download(practice_report, "pdf")).status_code == 404
    Report.objects.filter(pk=practice_report.pk).update(status=Report.Status.RUNNING)
    assert client.get(download(practice_report, "html")).status_code == 404


def test_a_clinician_downloads_their_own_report(client, clinician_report, clinician_a):
    signed_in(client, clinician_a)
    assert client.get(download(clinician_report, "html")).status_code == 200
    assert client.get(download(clinician_report, "zip")).status_code == 200


def test_a_clinician_cannot_see_the_practice_report_or_a_colleagues(client, build, scored_practice, clinician_a,  # noqa: F811
                                                                    clinician_a2, practice_report):
    colleague = build(scored_practice, kind=Report.Kind.CLINICIAN, clinician=clinician_a2)
    signed_in(client, clinician_a)
    for report in (practice_report, colleague):
        assert client.get(download(report, "html")).status_code == 404
        assert client.get(detail(report)).status_code == 404
    listing = client.get(reverse("reports", args=["a"])).content.decode()
    assert detail(practice_report) not in listing and detail(colleague) not in listing


def test_files_are_not_served_from_a_public_url(client, practice_report, settings):
    relative = practice_report.html_file
    for prefix in (settings.STATIC_URL, settings.MEDIA_URL, "reports/", "var/reports/"):
        assert client.get("/" + prefix.strip("/") + "/" + relative).status_code == 404


def test_a_platform_admin_sees_every_practices_reports(client, practice_report):
    admin = factories.member(practice_report.practice, "someone", "clinician")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    assert signed_in(client, admin).get(download(practice_report, "zip")).status_code == 200


def test_requests_and_downloads_are_audit_logged(client, practice_report, manager_a):
    from audit.models import Action, AuditEvent

    signed_in(client, manager_a).get(download(practice_report, "zip"))

    requested = AuditEvent.objects.get(action=Action.REPORT_REQUEST)
    assert (requested.object_id, requested.practice_id) == (str(practice_report.pk), practice_report.practice_id)
    downloaded = AuditEvent.objects.get(action=Action.REPORT_DOWNLOAD)
    assert (downloaded.actor, downloaded.object_id, downloaded.detail["format"]) == (manager_a, str(practice_report.pk), "zip")


def test_a_person_may_ask_for_a_limited_number_of_new_reports_a_day(client, settings, scored_practice, clinician_a):
    settings.REPORT_REQUESTS_PER_DAY = 2
    url = reverse("reports", args=["a"])
    signed_in(client, clinician_a)
    for year in (2024, 2025):
        assert client.post(url, {"start": f"{year}-01-01", "end": f"{year}-03-31"}).status_code == 302
    refused = client.post(url, {"start": "2023-01-01", "end": "2023-03-31"})
    assert refused.status_code == 400
    assert "2 reports in the last 24 hours" in refused.content.decode()
    assert Report.objects.count() == 2
    # Asking again for a report that exists costs nothing; the command line is not limited.
    assert client.post(url, {"start": "2024-02-01", "end": "2024-02-02"}).status_code == 302
    services.request_report(scored_practice, dt.date(2023, 1, 1), dt.date(2023, 3, 31), actor_name="command line")
    assert Report.objects.count() == 3
