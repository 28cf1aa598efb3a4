"""The one name of each domain as people read it, in every interface language.

The questionnaire's section headings, the dashboards, the reports, the research exports and FHIR all name a
domain with `domain_label`, so a patient who answered "Sharing power" finds "Sharing power" in the results.
The model's own terms (appreciating power, abiding) are explained in docs/measurement.md.
"""

import functools

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from measurement import scoring

DOMAIN_LABELS = {
    "valuing": _("Valuing"),
    "power": _("Sharing power"),
    "abiding": _("Being there over time"),
    "trust": _("Trust"),
    "hope": _("Hope"),
    "known": _("Being known"),
    "self_confidence": _("Self-confidence"),
    "emotional_self_management": _("Emotional self-management"),
    "mindfulness": _("Mindfulness"),
    "knowledge": _("Knowledge"),
    "process_index": _("Process index"),
    "outcome_index": _("Outcome index"),
}
SHARED_DOMAINS = scoring.SHARED_DOMAINS
COMPETENCY_DOMAINS = scoring.COMPETENCY_DOMAINS


def domain_label(code: str) -> str:
    """The domain's name in the active language."""
    return _label(code, translation.get_language())


@functools.lru_cache(maxsize=256)
def _label(code: str, language: str | None) -> str:
    """Kept per language: a dashboard names domains hundreds of times (table rows, chart series), and each lazy
    translation is looked up afresh. Called while `language` is the active one, so it names it in that one."""
    return str(DOMAIN_LABELS.get(code, code))


def domain_labels(code: str) -> dict[str, str]:
    """The domain's name in every interface language, {language: name}, for formats that carry them all (FHIR)."""
    names = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            names[language] = domain_label(code)
    return names
