"""Score rows keep their dyad's next month with a response (surveys.latest): add it, fill it."""

from django.conf import settings
from django.db import migrations, models


def fill(apps, schema_editor):
    """Existing rows get their next month (surveys.latest.rebuild_next_months, given this migration's models)."""
    from surveys.latest import rebuild_next_months

    rebuild_next_months(
        apps.get_model("surveys", "DomainScore"),
        apps.get_model("surveys", "Response"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('surveys', '0010_score_paired_band'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='domainscore',
            name='score_month_latest',
        ),
        migrations.AddField(
            model_name='domainscore',
            name='next_month',
            field=models.DateField(blank=True, help_text='The first later month in which the dyad has a response of the same respondent; empty when none.', null=True),
        ),
        migrations.AddIndex(
            model_name='domainscore',
            index=models.Index(condition=models.Q(('is_month_latest', True)), fields=['practice', 'respondent', 'submitted_at'], include=('month', 'next_month', 'domain', 'clinician', 'score', 'response', 'paired_score', 'paired_band'), name='score_month_latest'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
