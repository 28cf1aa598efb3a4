import sys

from django.core.management.base import BaseCommand

from demo.seed import DEMO_PASSWORD, seed_demo
from surveys.cli import fail
from surveys.links import visit_links
from surveys.selectors import has_visits
from surveys.services import ServiceError, create_visit


class Command(BaseCommand):
    help = (
        "Create deterministic demo practices, people and a year of paired questionnaires, then print the demo logins. "
        "Practices that already have visits are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practices", type=int, default=2)
        parser.add_argument("--clinicians", type=int, default=6, help="Clinicians per practice.")
        parser.add_argument("--visits", type=int, default=1200, help="Visits in all, spread over the last year.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--if-empty", action="store_true", help="Only seed when the database has no visits.")
        parser.add_argument("--fresh-link", action="store_true", help="Also create one new visit and print its patient link.")

    def handle(self, *args, **options):
        for name in ("practices", "clinicians", "visits"):
            if options[name] < 1:
                raise fail(f"--{name} must be at least 1.")
        if options["if_empty"] and has_visits():
            self.stdout.write("The database already has visits: not seeding.")
            result = seed_demo(options["practices"], options["clinicians"], 0, options["seed"])
        else:
            result = seed_demo(
                options["practices"], options["clinicians"], options["visits"], options["seed"],
                progress=self._progress if sys.stderr.isatty() else None,
            )
            self.stdout.write(f"Seeded {result.visits_created} visits.")
        self.stdout.write(f"\nDemo logins (password: {DEMO_PASSWORD}):")
        for username, role, practice in result.logins:
            self.stdout.write(f"  {username:<16} {role:<15} {practice}")
        if options["fresh_link"]:
            self._fresh_link(result)

    def _progress(self, done, total):
        width = 30
        filled = width * done // total
        self.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} visits", ending="")
        if done == total:
            self.stderr.write("")

    def _fresh_link(self, result):
        practice, clinician = result.first_practice, result.first_clinician
        try:
            new_visit = create_visit(practice, clinician, f"NEW-{practice.patients.count() + 1:05d}")
        except ServiceError as exc:
            raise fail(str(exc)) from exc
        links = visit_links(new_visit)
        self.stdout.write(f"\nA fresh patient link (visit {links['visit']} with {clinician.username}):")
        self.stdout.write(f"  {links['patient_url']}")
