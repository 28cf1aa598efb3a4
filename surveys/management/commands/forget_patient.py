from django.core.management.base import BaseCommand

from surveys.cli import fail, practice_or_fail
from surveys.services import ServiceError, forget_patient


class Command(BaseCommand):
    help = (
        "Erase one patient's answers (and their clinicians' answers about them) and contact details; "
        "aggregates drop them at once and affected reports are marked for rebuilding. Leaves an audit entry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--patient", required=True, help="The patient's reference code in that practice.")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        try:
            erasure = forget_patient(practice, options["patient"])
        except ServiceError as exc:
            raise fail(str(exc)) from exc
        self.stdout.write(
            f"Erased {erasure.responses} responses ({erasure.answers} answers) and cleared contact details "
            f"on {erasure.invitations_cleared} invitations for {options['patient']}."
        )
