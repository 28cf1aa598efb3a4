"""The one place that answers "may this user see this practice / this object"."""

from django.db.models import QuerySet

from .models import Membership, Practice, Role


def memberships(user) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, user__is_active=True).select_related("practice")


def practices_for(user, role: str | None = None) -> QuerySet[Practice]:
    """Practices the user belongs to (in the given role); platform admins see every practice."""
    if not user.is_authenticated:
        return Practice.objects.none()
    if user.is_superuser and role != Role.CLINICIAN:
        return Practice.objects.all()
    scoped = Membership.objects.filter(user=user, user__is_active=True)
    if role:
        scoped = scoped.filter(role=role)
    return Practice.objects.filter(pk__in=scoped.values("practice_id"))


def is_clinician(user) -> bool:
    return memberships(user).filter(role=Role.CLINICIAN).exists()


def is_manager(user) -> bool:
    return user.is_authenticated and (user.is_superuser or memberships(user).filter(role=Role.MANAGER).exists())
