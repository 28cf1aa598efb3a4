"""The optional "About you" questions on the patient form, as people read them, in every interface language.

The answers' codes and order are measurement's (`measurement.casemix.COVARIATES`); this module gives each
question and answer its words. The questions follow CAHPS's case-mix items (age, education, self-rated general
and mental health) plus how long the patient has seen this clinician; the wording is our own.
"""

from django.utils.translation import pgettext_lazy

from measurement.casemix import COVARIATES
from measurement.casemix import NOT_ANSWERED as SKIPPED

# Every text has the context "case mix": short words such as "Good" or "Age" may be translated otherwise elsewhere.

QUESTIONS = {
    "age_band": pgettext_lazy("case mix", "How old are you?"),
    "education": pgettext_lazy("case mix", "What is the highest grade or level of school you have finished?"),
    "general_health": pgettext_lazy("case mix", "In general, how would you rate your overall health?"),
    "mental_health": pgettext_lazy("case mix", "In general, how would you rate your overall mental or emotional health?"),
    "time_with_clinician": pgettext_lazy("case mix", "How long have you been seeing this clinician?"),
}

ANSWERS = {
    "age_band": {
        "18_34": pgettext_lazy("case mix", "18 to 34"),
        "35_49": pgettext_lazy("case mix", "35 to 49"),
        "50_64": pgettext_lazy("case mix", "50 to 64"),
        "65_74": pgettext_lazy("case mix", "65 to 74"),
        "75_plus": pgettext_lazy("case mix", "75 or older"),
    },
    "education": {
        "grade_8_or_less": pgettext_lazy("case mix", "8th grade or less"),
        "some_high_school": pgettext_lazy("case mix", "Some high school, but did not graduate"),
        "high_school": pgettext_lazy("case mix", "High school graduate or GED"),
        "some_college": pgettext_lazy("case mix", "Some college or 2-year degree"),
        "college_4_year": pgettext_lazy("case mix", "4-year college graduate"),
        "more_than_college": pgettext_lazy("case mix", "More than 4-year college degree"),
    },
    "general_health": {
        "excellent": pgettext_lazy("case mix", "Excellent"),
        "very_good": pgettext_lazy("case mix", "Very good"),
        "good": pgettext_lazy("case mix", "Good"),
        "fair": pgettext_lazy("case mix", "Fair"),
        "poor": pgettext_lazy("case mix", "Poor"),
    },
    "time_with_clinician": {
        "first_visit": pgettext_lazy("case mix", "This was my first visit"),
        "under_1_year": pgettext_lazy("case mix", "Less than 1 year"),
        "1_to_5_years": pgettext_lazy("case mix", "1 to 5 years"),
        "over_5_years": pgettext_lazy("case mix", "More than 5 years"),
    },
}
ANSWERS["mental_health"] = ANSWERS["general_health"]

SHORT_NAMES = {
    "age_band": pgettext_lazy("case mix", "Age"),
    "education": pgettext_lazy("case mix", "Education"),
    "general_health": pgettext_lazy("case mix", "General health"),
    "mental_health": pgettext_lazy("case mix", "Mental health"),
    "time_with_clinician": pgettext_lazy("case mix", "Time with this clinician"),
}
"""What tables and reports call each question."""

PREFER_NOT_TO_SAY = pgettext_lazy("case mix", "Prefer not to say")
NOT_ANSWERED = pgettext_lazy("case mix", "not answered")


def choices(name: str) -> list[tuple[str, object]]:
    """The model field's choices for one question."""
    return list(ANSWERS[name].items())


def answer_label(name: str, level: str) -> str:
    """One answer's words in the active language ("not answered" for a skip)."""
    return str(NOT_ANSWERED if level == SKIPPED else ANSWERS[name][level])


def fields() -> tuple[str, ...]:
    """The questions, in the form's order: measurement's."""
    return tuple(COVARIATES)
