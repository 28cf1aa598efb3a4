from pathlib import Path

from django.core.management.base import BaseCommand

from measurement.instruments import InstrumentError
from surveys.cli import fail
from surveys.services import INSTRUMENTS_DIR, ServiceError, load_instruments


class Command(BaseCommand):
    help = (
        "Load the instrument JSON files (surveys/instruments/) into the database. Idempotent; "
        "a version that already has responses is never changed in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=INSTRUMENTS_DIR, help="Folder of instrument JSON files.")

    def handle(self, *args, **options):
        try:
            results = load_instruments(options["dir"])
        except (InstrumentError, ServiceError) as exc:
            raise fail(str(exc)) from exc
        for name, action in results:
            self.stdout.write(f"{name}: {action}")
