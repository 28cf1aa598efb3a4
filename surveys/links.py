"""The absolute links a visit hands out: one place that knows how a patient's or a clinician's link is built.

Links start with SITE_URL (the address people reach the site at) and name URLs by their route names, so this
module needs no view. The patient link carries only the token, never personal data.
"""

from django.conf import settings
from django.urls import reverse


def patient_url(token: str) -> str:
    return settings.SITE_URL + reverse("patient_questionnaire", args=[token])


def clinician_url(visit_id: int) -> str:
    return settings.SITE_URL + reverse("clinician_questionnaire", args=[visit_id])


def visit_links(new_visit) -> dict:
    """What `create_visit`, the seed and the API print for a new visit: its id and both questionnaire links."""
    return {
        "visit": new_visit.visit.pk,
        "patient_url": patient_url(new_visit.patient_token),
        "clinician_url": clinician_url(new_visit.visit.pk),
    }


def short_code_url(code: str) -> str:
    """The address printed on a QR card for typing: short, without the scheme people need not type."""
    url = settings.SITE_URL + reverse("patient_short_code", args=[code])
    return url.split("://", 1)[-1]


def self_assessment_url(practice) -> str:
    """The clinician's competencies self-assessment in one practice (signed in), for the reminder e-mail."""
    return settings.SITE_URL + reverse("self_assessment", args=[practice.slug])
