"""Forms: turn posted fields into clean values and field errors; no business rules here."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from measurement import scoring
from measurement.instruments import DomainSpec, InstrumentSpec, localized
from plumbing.period import PeriodForm, released_quarter
from surveys import casemix
from surveys.domains import domain_label

# Fields a questionnaire page posts besides the items themselves.
FORM_FIELDS = {"csrfmiddlewaretoken", "comment", "lang", "share"}
MAX_COMMENT = 2000


@dataclass
class DomainSection:
    domain: DomainSpec
    label: str
    description: str
    fields: list
    number: int


class QuestionnaireForm(forms.Form):
    """One radio group per item, grouped by domain when rendered; every item needs an answer."""

    def __init__(self, spec: InstrumentSpec, language: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec, self.language = spec, language
        # Shallow copies of the cached fields: an attribute set on one form's field stays in that form; the
        # widgets, choices and messages they share are never changed in place (see _questionnaire_fields).
        self.fields = {name: copy.copy(field) for name, field in _questionnaire_fields(spec, language).items()}
        if spec.respondent == "patient":
            # Off by default: sharing one's own answers by name is the patient's choice, made on each form.
            self.fields["share"] = forms.BooleanField(required=False)
            self.name_clinician("")
            # The optional "About you" questions (case mix): never required, never scored.
            self.fields.update(_casemix_fields(language))

    def name_clinician(self, name: str) -> None:
        """Put the clinician's name in the share box's label. Called only when the form is shown: a successful
        POST never needs it, so the submit path does not pay the query for it."""
        if "share" in self.fields:
            with translation.override(self.language):
                self.fields["share"].label = _("Share my answers with %(name)s") % {"name": name or _("my clinician")}

    @property
    def shared(self) -> bool:
        return bool(self.cleaned_data.get("share")) if "share" in self.fields else False

    def clean(self):
        cleaned = super().clean()
        unknown = sorted(set(self.data) - set(self.fields) - FORM_FIELDS)
        if unknown:
            raise forms.ValidationError(
                _("This form was sent with answers to questions it does not have (%(codes)s). Please reload the page and try again.")
                % {"codes": ", ".join(code[:20] for code in unknown[:5])},
                code="unknown_items",
            )
        return cleaned

    def answers(self) -> dict[str, str]:
        return {item.code: self.cleaned_data[item.code] for item in self.spec.items}

    def casemix(self) -> dict[str, str]:
        """The "About you" answers given ({question: answer code}); a skip (no answer, or "Prefer not to say") is
        not saved."""
        return {
            name: self.cleaned_data[name]
            for name in casemix.fields()
            if self.cleaned_data.get(name) not in ("", None, CASEMIX_SKIP)
        }

    @property
    def casemix_fields(self) -> list:
        """The "About you" questions as bound fields, for the patient form's last section (none for clinicians)."""
        return [self[name] for name in casemix.fields() if name in self.fields]

    @property
    def item_count(self) -> int:
        return len(self.spec.items)

    @property
    def answered_count(self) -> int:
        if not self.is_bound:
            return 0
        return sum(1 for item in self.spec.items if self.data.get(item.code))

    def _domain_label(self, code: str) -> str:
        with translation.override(self.language):
            return domain_label(code)

    def sections(self) -> list[DomainSection]:
        return [
            DomainSection(
                domain=domain,
                label=self._domain_label(domain.code),
                description=localized(domain.description, self.language) if domain.description else "",
                fields=[self[item.code] for item in self.spec.items_of(domain.code)],
                number=number,
            )
            for number, domain in enumerate(self.spec.domains, start=1)
        ]


_FIELDS: dict[tuple, dict[str, forms.Field]] = {}


def _questionnaire_fields(spec: InstrumentSpec, language: str) -> dict[str, forms.Field]:
    """The questionnaire's fields in one language, items then the comment box, built once per process.

    Building 21 ChoiceFields with translated labels and messages took about 1 ms of every POST. Keyed by the
    spec's content (its checksum, like spec_for_version) and the language; built under that language, so the
    error messages always match the labels. Nothing may change a cached field, its widget or its choices in
    place: forms share them (QuestionnaireForm gives each form its own shallow copies).
    """
    key = (spec.slug, spec.version, spec.checksum, language)
    fields = _FIELDS.get(key)
    if fields is None:
        with translation.override(language):
            fields = _FIELDS[key] = _build_questionnaire_fields(spec, language)
    return fields


def _build_questionnaire_fields(spec: InstrumentSpec, language: str) -> dict[str, forms.Field]:
    labels = spec.scale_labels.get(language) or spec.scale_labels["en"]
    scale_choices = [(str(value), labels[i]) for i, value in enumerate(range(spec.scale.min, spec.scale.max + 1))]
    na_choice = (scoring.NA, localized(spec.na_label, language))
    item_messages = {
        "required": _("Please choose an answer."),
        "invalid_choice": _("Please choose one of the answers shown."),
    }
    fields: dict[str, forms.Field] = {
        item.code: forms.ChoiceField(
            label=localized(item.text, language),
            choices=scale_choices + ([na_choice] if item.allow_na else []),
            widget=forms.RadioSelect,
            error_messages=item_messages,
        )
        for item in spec.items
    }
    # The comment box goes last, after the items.
    fields["comment"] = forms.CharField(
        label=localized(spec.comment_label, language),
        required=False,
        max_length=MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "max_length": _("Please keep your comment under %(limit)s characters.") % {"limit": MAX_COMMENT}
        },
    )
    return fields


_CASEMIX_FIELDS: dict[str, dict[str, forms.Field]] = {}
# "Prefer not to say" has a value of its own, not "": Django marks the "" choice of an unanswered radio group as
# chosen, and an optional question must start with nothing chosen.
CASEMIX_SKIP = "skip"


def _casemix_fields(language: str) -> dict[str, forms.Field]:
    """The "About you" questions in one language, built once per process like the items (and, like them, never
    changed in place): each a radio group whose first answer, "Prefer not to say", is a skip (CASEMIX_SKIP)."""
    fields = _CASEMIX_FIELDS.get(language)
    if fields is None:
        with translation.override(language):
            fields = _CASEMIX_FIELDS[language] = {
                name: forms.ChoiceField(
                    label=str(casemix.QUESTIONS[name]),
                    choices=[(CASEMIX_SKIP, str(casemix.PREFER_NOT_TO_SAY))]
                    + [(code, str(label)) for code, label in casemix.choices(name)],
                    required=False,
                    widget=forms.RadioSelect,
                    error_messages={"invalid_choice": _("Please choose one of the answers shown.")},
                )
                for name in casemix.fields()
            }
    return {name: copy.copy(field) for name, field in fields.items()}


class SignInForm(AuthenticationForm):
    """Django's sign-in form with a crispy Bootstrap layout."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", gettext_lazy("Sign in"), css_class="w-100"))


class DashboardFilterForm(PeriodForm):
    """Period, clinician and instrument version, applied to every figure on a page."""

    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    clinician = forms.TypedChoiceField(label=gettext_lazy("Clinician"), required=False, coerce=int, empty_value=None)
    version = forms.TypedChoiceField(label=gettext_lazy("Questionnaire version"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, clinicians=(), versions=(), today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        default = self._default_period()
        self.fields["start"].initial, self.fields["end"].initial = default.start, default.end
        self.fields["clinician"].choices = [("", gettext_lazy("All clinicians"))] + [
            (c.pk, c.get_full_name() or c.username) for c in clinicians
        ]
        self.fields["version"].choices = [("", gettext_lazy("All versions"))] + [
            (v.pk, f"{v.instrument.slug} {v.version}") for v in versions
        ]
        if not clinicians:
            del self.fields["clinician"]

    def _default_period(self):
        return released_quarter(self.today, self.today)

    def asked(self) -> tuple | None:
        """The dates in the URL, when there are valid ones: the page says which reporting period it shows instead."""
        if not self.is_bound or not self.is_valid():
            return None
        data = self.cleaned_data
        return (data["start"], data["end"]) if data.get("start") or data.get("end") else None

    def period(self):
        """The reporting period to show: the calendar quarter that holds the last day asked for, once it has
        ended; else the latest quarter that has (also when nothing or something wrong was asked). Never an
        arbitrary span, never a quarter still under way (docs/privacy.md)."""
        if not self.is_bound or not self.is_valid():
            return self._default_period()
        data = self.cleaned_data
        last_day = data.get("end") or data.get("start") or self.today
        return released_quarter(
            last_day, self.today, clinician_id=data.get("clinician"), version_id=data.get("version")
        )
