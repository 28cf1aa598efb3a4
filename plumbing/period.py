"""The one `Period` every figure, export and report is asked for, and the one form that reads it from a request.

A period is a span of whole local days, both ends included. Its bounds are half-open datetimes so the
submitted_at indexes are used (no per-row date casts). Dates are bounded (`EARLIEST`..`LATEST`) so that a
year 9999 in a URL gives a clear message instead of an overflow when a day is added to the end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)
MAX_DAYS = 366 * 5
"""The longest period anyone may ask for: five years (dashboards, exports and reports alike)."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    clinician_id: int | None = None
    version_id: int | None = None  # the patient instrument version, when filtering by one

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Half-open datetime bounds in the practices' time zone."""
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(self.start, dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        return start, end

    @property
    def reaches_today(self) -> bool:
        """Whether each dyad's latest response in the period is simply its latest: the period runs to today and
        takes every instrument version, so the flags kept in step on submit (surveys.latest) answer it."""
        return self.end >= timezone.localdate() and not self.version_id

    @classmethod
    def last_days(cls, days: int = 365, today: dt.date | None = None, **filters) -> Period:
        today = today or timezone.localdate()
        return cls(start=today - dt.timedelta(days=days - 1), end=today, **filters)


def calendar_quarter(day: dt.date, **filters) -> Period:
    """The calendar quarter that holds `day`: the reporting period of the dashboards (docs/privacy.md).

    Figures are released per whole quarter, never for an arbitrary span: two spans a day apart would otherwise
    differ by that day's few patients, and subtracting one figure from the other would give their answers back.
    Quarters do not overlap, so no two of them can be subtracted."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = dt.date(day.year, first_month, 1)
    next_start = dt.date(day.year + 1, 1, 1) if first_month == 10 else dt.date(day.year, first_month + 3, 1)
    return Period(start=start, end=next_start - dt.timedelta(days=1), **filters)


def released_quarter(day: dt.date, today: dt.date, **filters) -> Period:
    """The reporting period shown for `day`: its calendar quarter once that quarter has ended, else the latest
    quarter that has (docs/privacy.md, "Closed quarters only").

    A quarter still under way changes whenever a patient answers: reading its figure before and after one
    answer would give that answer back. A quarter that has ended no longer changes, so each of its figures is
    released once, decided together with every other figure of the quarter."""
    quarter = calendar_quarter(day, **filters)
    if quarter.end < today:
        return quarter
    return calendar_quarter(calendar_quarter(today).start - dt.timedelta(days=1), **filters)


def next_release(today: dt.date) -> dt.date:
    """The day the quarter under way is released: the day after it ends."""
    return calendar_quarter(today).end + dt.timedelta(days=1)


def quarter_name(period: Period) -> str:
    """"2026 Q3": how a reporting period is named on pages and in file names."""
    return f"{period.start.year} Q{(period.start.month - 1) // 3 + 1}"


def period_problem(start: dt.date, end: dt.date) -> str | None:
    """Why a period cannot be asked for, in words for the person who asked; None when it can.

    The one rule for every form, command and service that takes a period."""
    if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
        return str(_("Please choose dates between %(first)s and %(last)s.") % {"first": EARLIEST, "last": LATEST})
    if end < start:
        return str(_("The end date must be on or after the start date."))
    if (end - start).days >= MAX_DAYS:
        return str(_("Please choose a period of at most five years."))
    return None


class PeriodForm(forms.Form):
    """Start and end dates, checked by `period_problem`. Subclasses add their own fields and labels."""

    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day and (problem := period_problem(day, day)):
                self.add_error(name, problem)
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and (problem := period_problem(start, end)):
            self.add_error("end", problem)
        return cleaned
