"""Score rows carry what the dashboards filter and group by (surveys.latest): add, fill, then require."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill(apps, schema_editor):
    """Existing rows get their copies, pairs, months and flags (surveys.latest.rebuild, given this migration's
    models)."""
    from surveys.latest import rebuild

    rebuild(
        apps.get_model("surveys", "DomainScore"),
        apps.get_model("surveys", "Response"),
        apps.get_model("surveys", "Dyad"),
        using=schema_editor.connection.alias,
    )


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
