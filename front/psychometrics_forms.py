"""The psychometrics page's choice of practice and period (platform admins only)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plumbing.period import Period, PeriodForm

DEFAULT_DAYS = 365
"""A year by default: alpha and omega need 30 complete responses per version and language, which a quarter of a
small practice may not have."""


class PsychometricsForm(PeriodForm):
    practice = forms.ChoiceField(label=_("Practice"))
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    field_order = ["practice", "start", "end"]

    def __init__(self, *args, practices=(), today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.practices = {p.slug: p for p in practices}
        self.fields["practice"].choices = [(p.slug, p.name) for p in practices]
        self.default = Period.last_days(DEFAULT_DAYS, today or timezone.localdate())
        self.fields["start"].initial, self.fields["end"].initial = self.default.start, self.default.end
        if practices:
            self.fields["practice"].initial = practices[0].slug

    def chosen(self):
        """(practice, period): what was asked when it is valid, else the first practice over the last year.
        Platform admins see unsuppressed figures, so any span of whole days will do (no reporting quarters)."""
        first = next(iter(self.practices.values()), None)
        if not self.is_bound or not self.is_valid():
            return first, self.default
        data = self.cleaned_data
        start = data.get("start") or self.default.start
        end = data.get("end") or self.default.end
        if end < start:
            return self.practices[data["practice"]], self.default
        return self.practices[data["practice"]], Period(start, end)
