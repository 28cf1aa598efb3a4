"""Write the research export of a practice and period to a directory (the files of the web page's ZIP).

Run by operators, like export_scores: the row-level files are not suppressed (docs/exports.md).
"""

import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand

from audit import services as audit
from audit.models import Action
from interchange.research import exports as research
from plumbing.period import Period
from surveys.cli import date_or_fail, fail, practice_or_fail


class Command(BaseCommand):
    help = (
        "Write answers.csv, responses.csv, codebook.csv, responses.sav, a REDCap dictionary per instrument "
        "version and research.zip (all of them) for one practice and period (submitted_at, dates inclusive). "
        "Prints one JSON line with the files written."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="Practice slug.")
        parser.add_argument("--start", required=True, help="First day, YYYY-MM-DD (inclusive).")
        parser.add_argument("--end", required=True, help="Last day, YYYY-MM-DD (inclusive).")
        parser.add_argument("--out", required=True, help="Directory to write into (created when missing).")

    def handle(self, *args, **options):
        practice = practice_or_fail(options["practice"])
        start, end = date_or_fail(options["start"]), date_or_fail(options["end"])
        if end < start:
            raise fail("The end date must be on or after the start date.")
        period = Period(start, end)
        out = Path(options["out"])
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"Cannot create {out}: {exc.strerror}.") from None
        files = research.research_files(practice, period)
        files[research.ZIP_FILE] = research.zip_bytes(files)
        audit.record(
            Action.EXPORT, practice=practice, kind="research", start=start.isoformat(), end=end.isoformat(),
            files=sorted(files), source="export_research",
        )
        for name, data in files.items():
            _write_atomically(out / name, data)
        self.stdout.write(json.dumps({"directory": str(out.resolve()), "files": list(files)}))


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader never sees half a file: write beside it, then rename over it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
