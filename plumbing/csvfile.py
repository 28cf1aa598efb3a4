"""The one CSV writer: every file we hand out (chart tables, report ZIPs, research exports, admin exports).

One rule for cells, so no two files disagree on what a value looks like:
- None is an empty cell; True/False are 1/0 (what SPSS, R, Stata and spreadsheets all read as numbers);
- numbers keep full precision (repr): round for display only (docs/measurement.md);
- text that a spreadsheet would run as a formula (starting with = + - @, or a tab or carriage return) is
  prefixed with an apostrophe (OWASP "CSV injection"). Numbers are never touched, so a gap of -3.5 stays a
  number. A patient reference such as =HYPERLINK(...) arrives as text;
- line breaks inside text are LF, so the field is quoted and stays one cell.

Files meant for spreadsheets start with a UTF-8 byte order mark (`bom=True`), without which Excel and
LibreOffice read UTF-8 as Latin-1 ("muñoz" becomes "muÃ±oz").
"""

from __future__ import annotations

import csv as _csv
from collections.abc import Iterable, Iterator, Mapping, Sequence

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    # Line breaks inside a cell become LF: csv quotes a field holding the line terminator (LF here) but not a
    # lone CR, which a reader would take for the end of the row (browsers send a comment's breaks as CRLF).
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Line:
    """A file-like sink that hands back what csv.writer wrote, one line at a time."""

    def write(self, text: str) -> str:
        return text


def lines(
    columns: Sequence[str], rows: Iterable[Mapping | Sequence], *, quoting: int = _csv.QUOTE_MINIMAL, bom: bool = False
) -> Iterator[str]:
    """The CSV as lines of text, header first, for streaming a large file. Rows are dicts keyed by column (extra
    keys ignored, missing ones empty) or sequences in column order."""
    writer = _csv.writer(_Line(), lineterminator="\n", quoting=quoting)
    yield (BOM if bom else "") + writer.writerow([cell(column) for column in columns])
    for row in rows:
        values = [row.get(column) for column in columns] if isinstance(row, Mapping) else row
        yield writer.writerow([cell(value) for value in values])


def text(columns: Sequence[str], rows: Iterable[Mapping | Sequence], **options) -> str:
    return "".join(lines(columns, rows, **options))
