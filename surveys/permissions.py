"""The one place that answers "may this user see this practice / this object"."""

from django.db.models import QuerySet

from .models import Membership, Practice, Role


def memberships(user) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, user__is_active=True).select_related("practice")


def is_platform_admin(user) -> bool:
    """Platform admins are staff accounts: they see every practice and unsuppressed figures."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def may_see_row_level(user) -> bool:
    """Single responses (FHIR QuestionnaireResponse, research exports) are for platform admins only: a manager
    or clinician filtering them by clinician and month would get back figures the dashboards hide
    (docs/privacy.md)."""
    return is_platform_admin(user)


def practices_for(user, role: str | None = None) -> QuerySet[Practice]:
    """Practices the user belongs to (in the given role); platform admins see every practice as managers do."""
    if not user.is_authenticated:
        return Practice.objects.none()
    if is_platform_admin(user) and role != Role.CLINICIAN:
        return Practice.objects.all()
    scoped = Membership.objects.filter(user=user, user__is_active=True)
    if role:
        scoped = scoped.filter(role=role)
    return Practice.objects.filter(pk__in=scoped.values("practice_id"))


def may_see_psychometrics(user) -> bool:
    """The psychometrics page (every practice's item figures per questionnaire version and language) is for
    platform admins, who look after the instruments: managers get the same table in their report's methods
    section, released there under the practice's rule (docs/measurement.md, "Psychometrics")."""
    return is_platform_admin(user)
