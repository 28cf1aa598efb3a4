"""The report request form: field validation only; the service decides what a request means."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from plumbing.period import PeriodForm, released_quarter
from reports.models import Report


class ReportRequestForm(PeriodForm):
    kind = forms.ChoiceField(label=_("Report"), choices=Report.Kind.choices, initial=Report.Kind.PRACTICE)
    clinician = forms.TypedChoiceField(label=_("Clinician (for a clinician report)"), required=False, coerce=int,
                                       empty_value=None)
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, clinicians=(), own_only=False, today=None, **kwargs):
        """own_only: a clinician asks for their own report, so there is nothing to choose but the period."""
        super().__init__(*args, **kwargs)
        today = today or timezone.localdate()
        quarter = released_quarter(today, today)  # what the report will cover: the latest closed quarter
        self.fields["start"].initial, self.fields["end"].initial = quarter.start, quarter.end
        self.clinicians = {c.pk: c for c in clinicians}
        if own_only:
            del self.fields["kind"], self.fields["clinician"]
        else:
            self.fields["clinician"].choices = [("", "—")] + [
                (c.pk, c.get_full_name() or c.get_username()) for c in clinicians
            ]

    def clean(self):
        data = super().clean()
        if "kind" in self.fields:
            if data.get("kind") == Report.Kind.CLINICIAN and not data.get("clinician"):
                self.add_error("clinician", _("Choose the clinician for a clinician report."))
            data["clinician"] = self.clinicians.get(data.get("clinician")) if data.get("kind") == Report.Kind.CLINICIAN else None
        return data
