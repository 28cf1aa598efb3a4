from django.core.management.base import BaseCommand

from surveys.cli import fail, practice_or_fail
from surveys.models import Role
from surveys.services import ServiceError, add_member


class Command(BaseCommand):
    help = "Give a person a role in a practice, creating the account when missing (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="Set this password (otherwise a new account cannot sign in yet).")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        if not options["username"].strip():
            raise fail("A username is required.")
        try:
            membership, created, user_created = add_member(
                practice, options["username"].strip(), options["role"], options["password"]
            )
        except ServiceError as error:
            raise fail(str(error)) from error
        self.stdout.write(
            f"{'Added' if created else 'Already'} {membership.user.username} as {membership.role} of {practice.slug}"
            f"{' (new account)' if user_created else ''}."
        )
