"""Importing a visit list: checked rows in, visits with their pair of questionnaires (and the patients'
contact details on their invitations) out, all or nothing."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction

from audit.models import Action
from audit.services import record
from surveys.models import Invitation, Practice, Respondent, Role, Visit
from surveys.permissions import practices_for
from surveys.services import ServiceError, create_visits

from . import selectors
from .parse import ImportRow, RowError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    created: list[Visit]
    already_imported: list[ImportRow]
    errors: list[RowError]

    @property
    def dates(self) -> list[dt.date]:
        """The days this file's visits are on, for printing their cards."""
        return sorted({v.date for v in self.created} | {r.date for r in self.already_imported})


def import_visits(
    practice: Practice, rows: list[ImportRow], imported_by, *, request=None, file_errors: int = 0, sha256: str = "",
    refused_clinicians=(),
) -> ImportResult:
    """Create the visits of an imported file, all or nothing; rows already imported are skipped.

    Idempotent: a visit with the same clinician, patient reference and date is never created twice, so
    importing the same file again creates nothing. The rows are checked again here, inside the
    transaction, because the practice may have changed since the preview. Imports of one practice are
    serialised by locking its row (PostgreSQL), so two confirms of the same file cannot both create it.
    Contact details go on the patient's invitation and nowhere else (not in logs, not in errors).
    The audit trail records the counts (with `file_errors`, the rows the parser refused) and the file's hash.
    """
    if not practices_for(imported_by, Role.MANAGER).filter(pk=practice.pk).exists():
        raise ServiceError("Only a manager of this practice can import its visits.")
    with transaction.atomic():
        Practice.objects.select_for_update().filter(pk=practice.pk).first()
        plan = selectors.plan_import(practice, rows, refused_clinicians)
        new_visits = create_visits(practice, [(plan.clinicians[row.clinician], row.patient, row.date) for row in plan.new])
        created = [new_visit.visit for new_visit in new_visits]
        contacts = {visit.pk: row for visit, row in zip(created, plan.new) if row.email or row.phone}
        invitations = list(Invitation.objects.filter(visit_id__in=contacts, respondent=Respondent.PATIENT))
        for invitation in invitations:
            row = contacts[invitation.visit_id]
            invitation.contact_email, invitation.contact_phone = row.email, row.phone
        Invitation.objects.bulk_update(invitations, ["contact_email", "contact_phone"], batch_size=500)
    logger.info(
        "visit import: practice=%s by=%s created=%d already_imported=%d errors=%d",
        practice.slug,
        imported_by.pk,
        len(created),
        len(plan.already_imported),
        len(plan.errors),
    )
    record(
        Action.VISIT_IMPORT,
        actor=imported_by,
        request=request,
        practice=practice,
        created=len(created),
        already_imported=len(plan.already_imported),
        errors=file_errors + len(plan.errors),
        sha256=sha256,
    )
    return ImportResult(
        created=created, already_imported=plan.already_imported, errors=[*plan.errors, *plan.refused_errors]
    )
