import json

from django.core.management.base import BaseCommand

from surveys import references
from surveys.cli import date_or_fail, fail, practice_or_fail, user_or_fail
from surveys.links import visit_links
from surveys.services import ServiceError, create_visit


class Command(BaseCommand):
    help = (
        "Create a visit with its pair of questionnaires and print one JSON line: "
        '{"visit": ID, "patient_url": URL, "clinician_url": URL}. The patient link is shown only now.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--clinician", required=True, help="The clinician's username.")
        parser.add_argument("--patient", required=True, help="The practice's reference code for the patient (no names).")
        parser.add_argument("--date", help="Visit date, YYYY-MM-DD (default today).")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        clinician = user_or_fail(options["clinician"])
        date = date_or_fail(options["date"])
        if references.looks_like_name(options["patient"].strip()):
            raise fail(
                f"The patient reference {options['patient']!r} has no digit, so it may be a name: use the practice's "
                "reference code (it must contain at least one digit), never the patient's name."
            )
        try:
            new_visit = create_visit(practice, clinician, options["patient"], date)
        except ServiceError as exc:
            raise fail(str(exc)) from exc
        self.stdout.write(json.dumps(visit_links(new_visit)))
