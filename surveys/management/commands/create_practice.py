from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from surveys.cli import fail
from surveys.services import create_practice


class Command(BaseCommand):
    help = "Create a practice, or update its name and minimum n (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True, help="Short identifier used in URLs, e.g. riverside.")
        parser.add_argument("--name", required=True, help="The practice's display name.")
        parser.add_argument(
            "--min-n", type=int, default=5, help="Minimum dyads before a clinician-level figure is shown (default 5)."
        )

    def handle(self, *args, **options):
        try:
            practice, created = create_practice(options["slug"], options["name"], options["min_n"])
        except ValidationError as exc:
            raise fail("; ".join(exc.messages)) from exc
        self.stdout.write(f"{'Created' if created else 'Updated'} practice {practice.slug} ({practice.name}).")
