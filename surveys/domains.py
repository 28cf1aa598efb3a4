"""Names of the model's domains as people read them, in every interface language."""

from django.utils.translation import gettext_lazy as _

from measurement import scoring

DOMAIN_LABELS = {
    "valuing": _("Valuing"),
    "power": _("Appreciating power"),
    "abiding": _("Abiding"),
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
    return str(DOMAIN_LABELS.get(code, code))
