"""The one way to write an audit event. Services and release functions call `record` (views never do), so a
new view cannot forget it."""

from __future__ import annotations

from .models import Action, AuditEvent


def client_address(request) -> str | None:
    """The client's address, read the same way as the rate limiter and django-axes read it (proxy-aware)."""
    from plumbing.ratelimit import client_address as address_of

    return address_of(request) if request is not None else None


def record(
    action: str,
    *,
    actor=None,
    practice=None,
    obj=None,
    request=None,
    actor_name: str | None = None,
    **detail,
) -> AuditEvent:
    if actor is None and request is not None and getattr(request, "user", None) and request.user.is_authenticated:
        actor = request.user
    return AuditEvent.objects.create(
        action=Action(action),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name or (actor.get_username() if getattr(actor, "pk", None) else "command line"),
        practice=practice,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        client_address=client_address(request),
        detail=detail,
    )
