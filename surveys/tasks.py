"""Scheduled survey housekeeping (thin wrappers over services)."""

from celery import shared_task

from . import services


@shared_task(name="surveys.purge_spent_contacts")
def purge_spent_contacts() -> int:
    return services.purge_spent_contacts()
