"""Score rows keep the band of their visit's gap by its instrument's rule (surveys.latest): add it, fill it."""

from django.conf import settings
from django.db import migrations, models


def fill(apps, schema_editor):
    """Existing paired rows get their wave's band (surveys.latest.rebuild_bands, given this migration's models)."""
    from surveys.latest import rebuild_bands

    rebuild_bands(
        apps.get_model("surveys", "DomainScore"),
        apps.get_model("surveys", "Response"),
        apps.get_model("surveys", "Answer"),
        apps.get_model("surveys", "InstrumentVersion"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('surveys', '0009_casemix_answers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='domainscore',
            name='score_latest',
        ),
        migrations.AddField(
            model_name='domainscore',
            name='paired_band',
            field=models.CharField(blank=True, help_text="Where this visit's clinician-minus-patient gap falls by its instrument's rule: lower, within or higher (measurement.gaps); empty until both have answered.", max_length=8, null=True),
        ),
        migrations.AddIndex(
            model_name='domainscore',
            index=models.Index(condition=models.Q(('is_latest', True)), fields=['practice', 'respondent', 'submitted_at'], include=('domain', 'clinician', 'score', 'paired_score', 'paired_band'), name='score_latest'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
