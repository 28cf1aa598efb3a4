import json

from django.core.management.base import BaseCommand

from audit import services as audit
from audit.models import Action
from interchange.research.scores import SCORE_COLUMNS, score_rows
from plumbing import csvfile
from surveys.cli import practice_or_fail
from surveys.selectors import export_responses


class Command(BaseCommand):
    help = (
        "Export one row per submitted response with its domain scores and indices (admin export: "
        "no suppression). Columns: " + ", ".join(SCORE_COLUMNS[:7]) + ", one per domain, process_index, outcome_index."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        audit.record(Action.EXPORT, practice=practice, format=options["format"], source="export_scores")
        rows = score_rows(export_responses(practice))
        if options["format"] == "json":
            self.stdout.write(json.dumps(list(rows), ensure_ascii=False))
            return
        for line in csvfile.lines(SCORE_COLUMNS, rows):
            self.stdout.write(line, ending="")
