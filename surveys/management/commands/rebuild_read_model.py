from django.core.management.base import BaseCommand
from django.db import transaction

from surveys.latest import rebuild


class Command(BaseCommand):
    help = (
        "Recompute what every score row copies for the dashboards (practice, clinician, time, local month, the "
        "other side's score, each dyad's latest flags) from the responses. Run it after changing TIME_ZONE. "
        "Submissions wait while it runs: it locks the score rows it rewrites."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            rows = rebuild()
        self.stdout.write(f"Rebuilt the read model of {rows} score rows.")
