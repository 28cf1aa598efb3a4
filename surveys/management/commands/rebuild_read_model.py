from django.core.management.base import BaseCommand
from django.db import transaction

from surveys.latest import rebuild, rebuild_bands, rebuild_next_months


class Command(BaseCommand):
    help = (
        "Recompute what every score row copies for the dashboards (practice, clinician, time, local month, the "
        "other side's score and the band of the visit's gap, each dyad's latest flags and next months) from the responses. Run it after changing TIME_ZONE. "
        "Submissions wait while it runs: it locks the score rows it rewrites."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            rows = rebuild()
            rebuild_next_months()
            waves = rebuild_bands()
        self.stdout.write(f"Rebuilt the read model of {rows} score rows ({waves} paired visits).")
