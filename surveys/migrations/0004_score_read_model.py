"""Score rows carry what the dashboards filter and group by (surveys.latest): add, fill, then require."""

import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


COPIES = """
UPDATE surveys_domainscore SET practice_id = r.practice_id, clinician_id = d.clinician_id, respondent = r.respondent,
       submitted_at = r.submitted_at
FROM surveys_response r JOIN surveys_dyad d ON d.id = r.dyad_id
WHERE r.id = surveys_domainscore.response_id
"""
PAIRS = """
UPDATE surveys_domainscore SET paired_score = theirs.score
FROM surveys_response mine
JOIN surveys_response other ON other.visit_id = mine.visit_id AND other.respondent <> mine.respondent
JOIN surveys_domainscore theirs ON theirs.response_id = other.id
WHERE mine.id = surveys_domainscore.response_id AND theirs.domain = surveys_domainscore.domain
"""


def fill(apps, schema_editor):
    """Existing rows get their copies, pairs, months and flags: set-based statements (UPDATE ... FROM runs on
    PostgreSQL and SQLite alike), one per month, and the flags by id in chunks."""
    from surveys.latest import latest_response_ids, month_of  # pure functions: no live model is touched

    Response = apps.get_model("surveys", "Response")
    DomainScore = apps.get_model("surveys", "DomainScore")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(COPIES)
        cursor.execute(PAIRS)
    moments = Response.objects.order_by("submitted_at").values_list("submitted_at", flat=True)
    if moments:
        month, last = month_of(moments.first()), month_of(moments.last())
        while month <= last:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            bounds = [timezone.make_aware(dt.datetime.combine(day, dt.time.min)) for day in (month, following)]
            DomainScore.objects.filter(submitted_at__gte=bounds[0], submitted_at__lt=bounds[1]).update(month=month)
            month = following
    latest, monthly = latest_response_ids(Response.objects.values_list("id", "dyad_id", "respondent", "submitted_at"))
    for flag, ids in (("is_latest", sorted(latest)), ("is_month_latest", sorted(monthly))):
        for start in range(0, len(ids), 500):
            DomainScore.objects.filter(response_id__in=ids[start : start + 500]).update(**{flag: True})


def copy_of(model, null):
    return models.ForeignKey(
        db_constraint=False, db_index=False, null=null, on_delete=django.db.models.deletion.DO_NOTHING,
        related_name="+", to=model,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("surveys", "0003_performance_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField("domainscore", "practice", copy_of("surveys.practice", True)),
        migrations.AddField("domainscore", "clinician", copy_of(settings.AUTH_USER_MODEL, True)),
        migrations.AddField(
            "domainscore", "respondent",
            models.CharField(choices=[("patient", "Patient"), ("clinician", "Clinician")], default="", max_length=16),
            preserve_default=False,
        ),
        migrations.AddField("domainscore", "submitted_at", models.DateTimeField(null=True)),
        migrations.AddField(
            "domainscore", "month",
            models.DateField(null=True, help_text="First day of the submission's month, in the site's time zone."),
        ),
        migrations.AddField(
            "domainscore", "paired_score",
            models.FloatField(blank=True, null=True, help_text="The other respondent's score of this visit."),
        ),
        migrations.AddField("domainscore", "is_latest", models.BooleanField(default=False)),
        migrations.AddField("domainscore", "is_month_latest", models.BooleanField(default=False)),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
