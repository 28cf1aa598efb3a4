"""Report runs: one row per practice, kind (+ clinician) and period, rebuilt in place when forced.

The row is the unit of idempotency: every task carries (report id, attempt) and claims its piece of work
with a conditional UPDATE, so a retried, redelivered or duplicated task finds the work done or taken.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from surveys.models import Practice


class Report(models.Model):
    class Kind(models.TextChoices):
        PRACTICE = "practice", "Practice report"
        CLINICIAN = "clinician", "Clinician report"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRACTICE)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="clinician_reports",
        help_text="The clinician of a clinician report; empty for a practice report.",
    )
    start = models.DateField()
    end = models.DateField(help_text="Inclusive.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Bumped by a forced rebuild: tasks of an earlier attempt find their attempt gone and do nothing.
    attempt = models.PositiveIntegerField(default=1)
    parts_total = models.PositiveIntegerField(default=0, help_text="Clinician sections to build.")
    parts_done = models.PositiveIntegerField(default=0)
    # The Celery task ids holding the two report-level claims; a redelivered task keeps its id and may resume.
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    assembled_by = models.CharField(max_length=64, blank=True, editable=False)
    claims = models.PositiveIntegerField(default=0, help_text="Times a build of this report was claimed.")
    builds = models.PositiveIntegerField(default=0, help_text="Times its files were written and it was marked done.")
    html_file = models.CharField(max_length=300, blank=True, help_text="Relative to REPORTS_DIR.")
    zip_file = models.CharField(max_length=300, blank=True, help_text="Relative to REPORTS_DIR.")
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="requested_reports"
    )
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Two partial unique constraints rather than one with a nullable clinician: NULLs are distinct in
            # a plain unique index, and NULLS NOT DISTINCT needs PostgreSQL 15 and does nothing on SQLite.
            models.UniqueConstraint(
                fields=["practice", "start", "end"],
                condition=Q(kind="practice"),
                name="one_practice_report_per_period",
            ),
            models.UniqueConstraint(
                fields=["practice", "clinician", "start", "end"],
                condition=Q(kind="clinician"),
                name="one_clinician_report_per_period",
            ),
            models.CheckConstraint(
                condition=(Q(kind="practice", clinician__isnull=True) | Q(kind="clinician", clinician__isnull=False)),
                name="report_clinician_matches_kind",
            ),
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="report_period_not_reversed"),
            models.CheckConstraint(condition=Q(status__in=["queued", "running", "done", "failed"]), name="report_status_known"),
            models.CheckConstraint(condition=Q(parts_done__lte=F("parts_total")), name="report_parts_done_bounded"),
        ]
        indexes = [models.Index(fields=["practice", "-requested_at"])]

    def __str__(self):
        who = f" · {self.clinician}" if self.clinician_id else ""
        return f"{self.get_kind_display()} {self.practice.slug}{who} {self.start}–{self.end}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def progress(self) -> int:
        """Percent done, from the counters the tasks keep (never stored, so it cannot drift from them)."""
        if self.status == self.Status.DONE:
            return 100
        if self.status == self.Status.QUEUED or not self.claims:
            return 0
        if self.assembled_by:
            return 95
        if not self.parts_total:
            return 5
        return 5 + 85 * self.parts_done // self.parts_total


class ReportPart(models.Model):
    """One clinician's section of a report: built by its own task, gathered when all are done."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="parts")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    claims = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # The section's rows (already suppressed) and HTML; cleared once the report's files are written.
    payload = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "clinician"], name="one_part_per_report_clinician")]

    def __str__(self):
        return f"{self.report} · {self.clinician}"
