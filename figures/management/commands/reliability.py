"""Print the evidence for comparing a practice's clinicians: ICC(1), design effect, ceiling share, and each
clinician's reliability and funnel position, per shared domain (docs/measurement.md).

For platform admins and operators, like export_scores: no suppression, and every run is an audit event.
"""

import json

from django.core.management.base import BaseCommand

from audit import services as audit
from audit.models import Action
from figures.reliability import practice_reliability
from measurement.statistics import CEILING_NOTE_SHARE, MIN_DYADS, RELIABILITY_TARGET
from plumbing.period import Period, period_problem
from surveys.cli import date_or_fail, fail, practice_or_fail

NOT_RELIABLE = "not reliable enough to compare clinicians"


class Command(BaseCommand):
    help = (
        "Per shared domain, over each dyad's latest patient response in the period (dates inclusive) and the "
        f"clinicians with at least {MIN_DYADS} such dyads: ICC(1), design effect, ceiling share, and each "
        "clinician's n, mean, reliability and funnel position (admin tool: no suppression)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--start", required=True, help="First day, YYYY-MM-DD (inclusive).")
        parser.add_argument("--end", required=True, help="Last day, YYYY-MM-DD (inclusive).")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        start, end = date_or_fail(options["start"]), date_or_fail(options["end"])
        if problem := period_problem(start, end):
            raise fail(problem)
        domains = practice_reliability(practice, Period(start, end))
        audit.record(
            Action.EXPORT, practice=practice, kind="reliability", start=start.isoformat(), end=end.isoformat(),
            format=options["format"], source="reliability",
        )
        if options["format"] == "json":
            self.stdout.write(json.dumps(as_json(practice.slug, start, end, domains), ensure_ascii=False))
        else:
            self.stdout.write(as_text(practice.slug, start, end, domains))


def as_json(slug, start, end, domains) -> dict:
    return {
        "practice": slug,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "domains": [
            {
                "domain": domain.domain,
                "icc": domain.icc,
                "design_effect": domain.design_effect,
                "ceiling_share": domain.ceiling_share,
                "clinicians": [
                    {
                        "clinician": c.clinician,
                        "n": c.n,
                        "mean": c.mean,
                        "reliability": c.reliability,
                        "funnel": c.funnel,
                    }
                    for c in domain.clinicians
                ],
            }
            for domain in domains
        ],
    }


def _fixed(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def as_text(slug, start, end, domains) -> str:
    lines = [
        f"Comparing clinicians of {slug}, {start.isoformat()} to {end.isoformat()}",
        f"Each dyad's latest patient questionnaire in the period; clinicians with at least {MIN_DYADS} such dyads.",
    ]
    for domain in domains:
        lines.append("")
        lines.append(_domain_line(domain))
        if not domain.clinicians:
            lines.append(f"  No clinician has {MIN_DYADS} or more dyads with this domain scored.")
        else:
            width = max(len("clinician"), *(len(str(c.clinician)) for c in domain.clinicians))
            lines.append(f"  {'clinician':<{width}}  {'n':>4}  {'mean':>5}  {'reliability':>11}  funnel")
            for c in domain.clinicians:
                row = f"  {c.clinician:<{width}}  {c.n:>4}  {_fixed(c.mean, 1):>5}  "
                row += f"{_fixed(c.reliability, 2):>11}  {c.funnel:<9}"
                if not c.reliable:
                    row += f"  {NOT_RELIABLE}: {_patients_needed(domain, c)}"
                lines.append(row.rstrip())
        if domain.left_out:
            lines.append(f"  Left out (fewer than {MIN_DYADS} dyads): " + ", ".join(map(str, domain.left_out)))
    return "\n".join(lines)


def _domain_line(domain) -> str:
    if domain.icc is None:
        why = (
            f"fewer than 2 clinicians with {MIN_DYADS} or more dyads"
            if len(domain.clinicians) < 2
            else "every score is the same"
        )
        icc = f"ICC none ({why})"
    else:
        icc = f"ICC {_fixed(domain.icc, 2)}"
    line = f"{domain.domain}: {icc}, design effect {_fixed(domain.design_effect, 2)}, "
    line += f"share at the ceiling (100) {_fixed(domain.ceiling_share, 2)}"
    if domain.ceiling_share is not None and domain.ceiling_share > CEILING_NOTE_SHARE:
        line += f" (above {CEILING_NOTE_SHARE:.2f}: many scores at the top of the scale)"
    return line


def _patients_needed(domain, clinician) -> str:
    if clinician.reliability is None:
        return "no ICC to judge it by"
    needed = domain.patients_needed
    if needed is None:
        return "clinicians do not differ on this domain (ICC 0), so no number of patients would make it reliable"
    return f"{needed} patients would make it reliable (reliability {RELIABILITY_TARGET:.2f}; has {clinician.n})"
