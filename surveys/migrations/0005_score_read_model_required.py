import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_of(model):
    return models.ForeignKey(
        db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=model
    )


class Migration(migrations.Migration):

    dependencies = [("surveys", "0004_score_read_model")]

    operations = [
        migrations.AlterField("domainscore", "practice", copy_of("surveys.practice")),
        migrations.AlterField("domainscore", "clinician", copy_of(settings.AUTH_USER_MODEL)),
        migrations.AlterField("domainscore", "submitted_at", models.DateTimeField()),
        migrations.AlterField(
            "domainscore", "month",
            models.DateField(help_text="First day of the submission's month, in the site's time zone."),
        ),
        migrations.AddIndex(
            "domainscore",
            models.Index(
                condition=models.Q(("is_latest", True)),
                fields=["practice", "respondent", "submitted_at"],
                include=["domain", "clinician", "score", "paired_score"],
                name="score_latest",
            ),
        ),
        migrations.AddIndex(
            "domainscore",
            models.Index(
                condition=models.Q(("is_month_latest", True)),
                fields=["practice", "respondent", "submitted_at"],
                include=["month", "domain", "clinician", "score"],
                name="score_month_latest",
            ),
        ),
    ]
