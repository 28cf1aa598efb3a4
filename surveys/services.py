"""Every write to the survey data goes through here: atomic, validated, and safe to repeat."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import Action
from audit.services import record
from measurement import scoring
from measurement.casemix import COVARIATES as CASEMIX_COVARIATES
from measurement.instruments import (
    InstrumentSpec,
    check_pairs,
    instrument_files,
    read_instrument_file,
    spec_for_version,
)
from plumbing.period import EARLIEST, LATEST

from . import latest, references, selectors, signals
from .models import (
    Answer,
    CardLink,
    CaseMix,
    Domain,
    DomainScore,
    Dyad,
    Instrument,
    InstrumentVersion,
    Invitation,
    Item,
    Membership,
    Patient,
    Practice,
    Respondent,
    Response,
    Role,
    SelfAssessment,
    SelfAssessmentReminder,
    Visit,
)
from .tokens import hash_short_code, hash_token, new_short_code, new_token, normalize_short_code

logger = logging.getLogger(__name__)

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
"""The versioned instrument files that `load_instruments` reads (docs/instruments.md)."""


class ServiceError(Exception):
    """A request the service refuses, with a message a person can act on."""


class InstrumentLocked(ServiceError):
    pass


class InvitationUnavailable(ServiceError):
    """The questionnaire can no longer be answered: already used, or expired."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"This questionnaire is {reason}.")


class InvalidAnswers(ServiceError):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{code}: {message}" for code, message in errors.items()))


# --- instruments -------------------------------------------------------------------------------


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.split("."))


@transaction.atomic
def load_instrument(data: dict, spec: InstrumentSpec) -> str:
    """Store one instrument version; returns 'created', 'updated' or 'unchanged'.

    A version that already has responses is never changed in place: answers point at its items.
    """
    instrument, _ = Instrument.objects.get_or_create(slug=spec.slug)
    version = InstrumentVersion.objects.select_for_update().filter(instrument=instrument, version=spec.version).first()
    if version is not None and version.checksum == spec.checksum:
        action = "unchanged"
    else:
        if version is not None:
            if version.responses.exists():
                raise InstrumentLocked(
                    f"{spec.slug} {spec.version} already has responses; publish the edit as a new version."
                )
            version.items.all().delete()
            version.domains.all().delete()
            action = "updated"
        else:
            version = InstrumentVersion(instrument=instrument, version=spec.version)
            action = "created"
        version.respondent = spec.respondent
        version.title = spec.title
        version.scale_min, version.scale_max = spec.scale.min, spec.scale.max
        version.definition = data
        version.checksum = spec.checksum
        version.full_clean(exclude=["is_current"])
        version.save()
        domains = Domain.objects.bulk_create(
            Domain(version=version, code=d.code, kind=d.kind, label=d.label, position=i)
            for i, d in enumerate(spec.domains)
        )
        domain_ids = {d.code: d for d in domains}
        Item.objects.bulk_create(
            Item(
                version=version,
                domain=domain_ids[item.domain],
                code=item.code,
                reverse=item.reverse,
                allow_na=item.allow_na,
                text=item.text,
                position=i,
            )
            for i, item in enumerate(spec.items)
        )
    _mark_current_version(instrument)
    return action


def _mark_current_version(instrument: Instrument) -> None:
    versions = list(instrument.versions.all())
    newest = max(versions, key=lambda v: _version_key(v.version))
    for version in versions:
        is_current = version.pk == newest.pk
        if version.is_current != is_current:
            version.is_current = is_current
            version.save(update_fields=["is_current"])


def load_instruments(directory: Path = INSTRUMENTS_DIR) -> list[tuple[str, str]]:
    """Load every instrument file in the folder; idempotent.

    Before anything is written, the newest per-visit clinician version that names mirrored items (`pair`) must
    mirror the newest patient version item by item (`check_pairs`), since they become current together and
    item-level gaps rely on the pairing."""
    files = [read_instrument_file(path) for path in instrument_files(directory)]
    newest = {}
    for _data, spec in files:
        if spec.slug in ("patient", "clinician") and (
            spec.slug not in newest or _version_key(spec.version) > _version_key(newest[spec.slug].version)
        ):
            newest[spec.slug] = spec
    clinician = newest.get("clinician")
    if "patient" in newest and clinician is not None and any(item.pair for item in clinician.items):
        check_pairs(newest["patient"], clinician)
    return [(f"{spec.slug} {spec.version}", load_instrument(data, spec)) for data, spec in files]


def current_version(respondent: str) -> InstrumentVersion:
    """The version a new visit's questionnaire uses for `respondent`: the current version of the per-visit
    instrument of that name ("patient" or "clinician"). Other instruments a respondent answers, such as the
    clinicians' periodic competencies self-assessment, are never handed out with a visit."""
    version = (
        InstrumentVersion.objects.filter(instrument__slug=respondent, respondent=respondent, is_current=True)
        .select_related("instrument")
        .first()
    )
    if version is None:
        raise ServiceError(f"No {respondent} instrument is loaded: run `manage.py load_instruments`.")
    return version


# --- practices and people ----------------------------------------------------------------------


@transaction.atomic
def create_practice(slug: str, name: str, min_reporting_n: int = 5) -> tuple[Practice, bool]:
    """Create a practice, or bring an existing one's name and minimum n up to date. Validated before any write."""
    practice = Practice.objects.filter(slug=slug).first() or Practice(slug=slug)
    created = practice.pk is None
    practice.name, practice.min_reporting_n = name, min_reporting_n
    practice.full_clean()
    practice.save()
    return practice, created


@transaction.atomic
def add_member(practice: Practice, username: str, role: str, password: str | None = None):
    """Give a person a role in a practice, creating their account when missing. Idempotent."""
    if role not in Role.values:
        raise ServiceError(f"Unknown role {role!r}: use one of {', '.join(Role.values)}.")
    User = get_user_model()
    try:  # Django's own rules for a user name (letters, digits and @.+-_, at most 150): the sign-in form's too
        User._meta.get_field(User.USERNAME_FIELD).run_validators(username)
    except ValidationError as error:
        raise ServiceError(f"Not a valid user name: {' '.join(error.messages)}") from error
    user, user_created = User.objects.get_or_create(username=username)
    if password:
        user.set_password(password)
        user.save()
    elif user_created:
        user.set_unusable_password()
        user.save()
    membership, created = Membership.objects.get_or_create(user=user, practice=practice, role=role)
    return membership, created, user_created


# --- visits and invitations --------------------------------------------------------------------


@dataclass(frozen=True)
class NewVisit:
    visit: Visit
    patient_token: str


def _invitation_expiry(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=settings.INVITATION_TTL_DAYS)


@transaction.atomic
def create_visit(practice: Practice, clinician, patient_reference: str, date: dt.date | None = None) -> NewVisit:
    """A visit with its wave of invitations: a patient link (token returned once) and the clinician's own."""
    if not Membership.objects.filter(user=clinician, practice=practice, role=Role.CLINICIAN).exists():
        raise ServiceError(f"{clinician.username} is not a clinician of {practice.slug}.")
    return create_visits(practice, [(clinician, patient_reference, date)])[0]


def create_visits(practice: Practice, wanted: list[tuple]) -> list[NewVisit]:
    """Visits (clinician, patient reference, date or None for today) of clinicians already checked to belong to the
    practice, each with its wave of invitations, in a fixed number of queries however many there are.

    A file of 5,000 rows took 37 s one visit at a time; patients and dyads are now read and created in bulk (new
    ones with ignore_conflicts, then read back, so a concurrent single visit for the same patient is harmless).
    """
    wanted_references = []
    for _clinician, reference, day in wanted:
        reference = reference.strip()
        if not reference or len(reference) > references.MAX_LENGTH:
            raise ServiceError(f"A patient reference code of 1 to {references.MAX_LENGTH} characters is required.")
        if day is not None and not EARLIEST <= day <= LATEST:
            raise ServiceError(f"A visit date must be between {EARLIEST} and {LATEST}; {day} is not.")
        wanted_references.append(reference)
    patients = _get_or_create_all(
        Patient.objects.filter(practice=practice, reference__in=set(wanted_references)),
        key=lambda patient: patient.reference,
        make=lambda reference: Patient(practice=practice, reference=reference),
        keys=wanted_references,
    )
    pairs = [(clinician.pk, patients[reference].pk) for (clinician, _r, _d), reference in zip(wanted, wanted_references)]
    dyads = _get_or_create_all(
        Dyad.objects.filter(practice=practice, patient_id__in={patient for _c, patient in pairs}),
        key=lambda dyad: (dyad.clinician_id, dyad.patient_id),
        make=lambda pair: Dyad(practice=practice, clinician_id=pair[0], patient_id=pair[1]),
        keys=pairs,
    )
    today = timezone.localdate()
    visits = Visit.objects.bulk_create(
        [Visit(practice=practice, dyad=dyads[pair], date=date or today) for pair, (_c, _r, date) in zip(pairs, wanted)]
    )
    now = timezone.now()
    versions = {respondent: current_version(respondent) for respondent in (Respondent.PATIENT, Respondent.CLINICIAN)}
    tokens = [new_token() for _ in visits]
    invitations = []
    for visit, token in zip(visits, tokens):
        for respondent, token_hash in ((Respondent.PATIENT, hash_token(token)), (Respondent.CLINICIAN, None)):
            invitations.append(
                Invitation(
                    visit=visit,
                    respondent=respondent,
                    instrument_version=versions[respondent],
                    token_hash=token_hash,
                    expires_at=_invitation_expiry(now),
                )
            )
    Invitation.objects.bulk_create(invitations, batch_size=1000)
    return [NewVisit(visit=visit, patient_token=token) for visit, token in zip(visits, tokens)]


def _get_or_create_all(existing, *, key, make, keys) -> dict:
    """{key: object} for every key: those `existing` holds, and the rest created in one statement and read back."""
    found = {key(obj): obj for obj in existing}
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        existing.model.objects.bulk_create([make(k) for k in missing], ignore_conflicts=True, batch_size=1000)
        found = {key(obj): obj for obj in existing.all()}
    return found


def mark_opened(invitation: Invitation) -> None:
    """Record the first time a questionnaire was opened (for time-to-complete and the funnel)."""
    if invitation.opened_at is None:
        invitation.opened_at = timezone.now()
        Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(opened_at=invitation.opened_at)


# --- responses ---------------------------------------------------------------------------------


def validate_answers(spec: InstrumentSpec, answers: dict) -> dict[str, scoring.Answer]:
    """Check answers against the instrument: every item answered, in range, N/A only where allowed."""
    errors: dict[str, str] = {}
    clean: dict[str, scoring.Answer] = {}
    known = {item.code: item for item in spec.items}
    for code in answers:
        if code not in known:
            errors[code] = "is not a question of this questionnaire"
    for code, item in known.items():
        answer = answers.get(code)
        if answer is None or answer == "":
            errors[code] = "needs an answer"
        elif answer == scoring.NA:
            if item.allow_na:
                clean[code] = scoring.NA
            else:
                errors[code] = "needs an answer on the scale"
        else:
            try:
                value = _whole_number(answer)
                scoring.scored_value(value, spec.scale, reverse=False)
            except ValueError:
                errors[code] = f"must be a whole number from {spec.scale.min} to {spec.scale.max}"
            else:
                clean[code] = value
    if errors:
        raise InvalidAnswers(errors)
    return clean


def validate_casemix(given: dict, respondent: str) -> dict[str, str]:
    """The case-mix answers that were given ({question: answer code}); skips ("" or None) are left out. Only a
    patient answers them; an unknown question or answer is refused like a bad item answer."""
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for name, value in given.items():
        if name not in CASEMIX_COVARIATES:
            errors[name] = "is not a question of this questionnaire"
        elif value in (None, ""):
            continue
        elif respondent != Respondent.PATIENT:
            errors[name] = "is asked of patients only"
        elif value not in CASEMIX_COVARIATES[name]:
            errors[name] = "is not one of the answers offered"
        else:
            clean[name] = value
    if errors:
        raise InvalidAnswers(errors)
    return clean


def _whole_number(raw) -> int:
    """An answer as sent by a form ("3") or by code (3); anything else is refused."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.strip().isdigit():
        return int(raw)
    raise ValueError(raw)


def submit_response(
    invitation: Invitation,
    answers: dict,
    *,
    comment: str = "",
    language: str = "en",
    started_at: dt.datetime | None = None,
    shared: bool = False,
    casemix: dict | None = None,
) -> Response:
    """Save a questionnaire and its scores exactly once.

    `shared`: the patient chose to let their clinician see these answers by name (docs/privacy.md); only a
    patient's response can be shared, and it is not unless they said so.
    `casemix`: the patient's optional answers about themselves ({question: answer code}, a skip empty or left
    out); never scored, saved in the same transaction as the response, and only when at least one was given.

    The invitation is claimed with a conditional UPDATE (only one transaction can turn used_at from
    empty to set); the one-to-one response and its unique (visit, respondent) back that up in the
    database, so two tabs, a double click or concurrent retries still leave one response.
    """
    spec = spec_for_version(invitation.instrument_version)
    clean = validate_answers(spec, answers)
    about = validate_casemix(casemix or {}, invitation.respondent)
    scores = scoring.domain_scores(spec.scoring_items, clean, spec.scale)
    index = scoring.indices(scores)
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True, expires_at__gt=now).update(
                used_at=now
            )
            if claimed != 1:
                raise InvitationUnavailable(_unavailable_reason(invitation.pk, now))
            visit = invitation.visit
            clinician_id = latest.lock_dyad(visit.dyad_id)
            response = Response.objects.create(
                invitation=invitation,
                visit=visit,
                dyad_id=visit.dyad_id,
                practice_id=visit.practice_id,
                respondent=invitation.respondent,
                instrument_version=invitation.instrument_version,
                language=language,
                comment=comment.strip()[:2000],
                started_at=started_at or invitation.opened_at,
                submitted_at=now,
                process_index=index["process_index"],
                outcome_index=index["outcome_index"],
                shared_with_clinician=shared and invitation.respondent == Respondent.PATIENT,
            )
            item_ids = _item_ids(invitation.instrument_version)
            _insert_rows(
                Answer,
                ("response", "item", "value"),
                [(response.pk, item_ids[code], None if value == scoring.NA else value) for code, value in clean.items()],
            )
            _write_scores(response, scores, clinician_id)
            if about:
                _insert_rows(CaseMix, ("response", *about), [(response.pk, *about.values())])
    except IntegrityError as exc:
        raise InvitationUnavailable("used") from exc
    invitation.used_at = now
    return response


def _write_scores(response: Response, scores: dict, clinician_id: int) -> None:
    """The response's score rows, paired with the other respondent's of the visit (and the wave's gap bands once
    both have answered), the dyad's latest flags and next months
    moved to it (surveys.latest: what the dashboards read). Runs under the dyad's lock."""
    theirs = latest.scores_of_other_side(response)
    bands = latest.wave_bands(response, scores, theirs) if theirs else {}
    _insert_rows(
        DomainScore,
        latest.SCORE_FIELDS,
        latest.score_rows(response, scores, clinician_id, theirs, bands, next_month=latest.later_month(response)),
    )
    if theirs:
        latest.pair_other_side(response, scores, bands)
    latest.move_flags(response.dyad_id, response.respondent, response.submitted_at)
    latest.next_month_added(response)


def _insert_rows(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """One multi-row INSERT of plain values (ints, floats, short strings, NULL) into `model`'s table.

    The submit path's answers and scores: bulk_create builds and checks a model instance per row, which
    took a third of a submission's time; the database still checks every constraint on these rows.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([placeholders] * len(rows))}",
            [value for row in rows for value in row],
        )


_ITEM_IDS: dict[tuple, dict[str, int]] = {}


def _item_ids(version: InstrumentVersion) -> dict[str, int]:
    """{item code: item id} of a version, read once per process and load: a version's items are only ever
    replaced by load_instrument, which saves the version (new checksum and loaded_at) in the same transaction.
    This was a query on every submission."""
    key = (version.pk, version.checksum, version.loaded_at)
    item_ids = _ITEM_IDS.get(key)
    if item_ids is None:
        item_ids = _ITEM_IDS[key] = dict(Item.objects.filter(version_id=version.pk).values_list("code", "id"))
    return item_ids


def _unavailable_reason(invitation_id: int, now: dt.datetime) -> str:
    used_at, expires_at = Invitation.objects.filter(pk=invitation_id).values_list("used_at", "expires_at").get()
    if used_at is not None:
        return "used"
    return "expired" if expires_at <= now else "used"


# --- invitation cards --------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintedCard:
    """One QR card: the invitation it opens, its QR link's token and its short code (each shown once, never
    stored or logged)."""

    invitation: Invitation
    token: str
    code: str


@transaction.atomic
def print_cards(practice: Practice, date: dt.date, *, request=None) -> list[PrintedCard]:
    """Links for a day's patient invitations that are still open, for printing on QR cards.

    Only digests are stored, so a card can only carry a link made now; it is added beside the links the
    invitation already has (`CardLink`), never in place of them: printing again must not void a card already
    handed out, an email already sent, or the draft a patient keeps under their link (issue 14). The invitation
    stays single-use whichever link answers it. Returns the cards by clinician then patient reference.
    """
    invitations = list(
        selectors.printable_invitations(practice, date)
        .select_related("visit__dyad__clinician", "visit__dyad__patient")
        .order_by("pk")
    )
    cards = [PrintedCard(invitation, new_token(), new_short_code()) for invitation in invitations]
    CardLink.objects.bulk_create(
        [
            CardLink(invitation=card.invitation, token_hash=hash_token(card.token), code_hash=hash_short_code(normalize_short_code(card.code)))
            for card in cards
        ],
        batch_size=500,
    )
    logger.info("patient cards printed: practice=%s date=%s count=%d", practice.slug, date, len(cards))
    record(Action.CARDS_PRINTED, request=request, practice=practice, date=date.isoformat(), cards=len(cards))
    cards.sort(key=lambda card: (card.invitation.visit.dyad.clinician.get_username(),
                                 card.invitation.visit.dyad.patient.reference, card.invitation.pk))
    return cards


# --- the competencies self-assessment ----------------------------------------------------------------------


class SelfAssessmentTaken(ServiceError):
    """This period's self-assessment is already saved."""


def submit_self_assessment(practice: Practice, clinician, answers: dict, *, language: str = "en",
                           now: dt.datetime | None = None) -> SelfAssessment:
    """Save a clinician's competencies self-assessment for the practice's current period, exactly once.

    Validated and scored like any questionnaire (`validate_answers`, `scoring.domain_scores`); the unique
    (practice, clinician, period) constraint turns a second submission (another tab, a double click) into
    SelfAssessmentTaken, with the first one kept.
    """
    if not Membership.objects.filter(user=clinician, practice=practice, role=Role.CLINICIAN).exists():
        raise ServiceError(f"{clinician.get_username()} is not a clinician of {practice.slug}.")
    version = selectors.self_assessment_version()
    if version is None:
        raise ServiceError("The competencies self-assessment is not loaded: run `manage.py load_instruments`.")
    spec = spec_for_version(version)
    clean = validate_answers(spec, answers)
    scores = scoring.domain_scores(spec.scoring_items, clean, spec.scale)
    now = now or timezone.now()
    assessment = SelfAssessment(
        practice=practice,
        clinician=clinician,
        instrument_version=version,
        period_start=selectors.self_assessment_period(practice, timezone.localdate(now)),
        language=language,
        answers={code: None if value == scoring.NA else value for code, value in clean.items()},
        scores=scores,
        submitted_at=now,
    )
    try:
        with transaction.atomic():
            assessment.save()
    except IntegrityError as exc:
        raise SelfAssessmentTaken("This period's self-assessment is already saved.") from exc
    return assessment


def claim_self_assessment_reminder(practice: Practice, clinician, period_start: dt.date) -> bool:
    """Claim the one reminder of this clinician, practice and period; False when it was claimed before. Call it
    inside the transaction that sends the reminder, so a failed send gives the claim back."""
    try:
        with transaction.atomic():
            SelfAssessmentReminder.objects.create(practice=practice, clinician=clinician, period_start=period_start)
    except IntegrityError:
        return False
    return True


# --- privacy: data minimisation and erasure ----------------------------------------------------


def purge_spent_contacts(now: dt.datetime | None = None) -> int:
    """Delete patients' email and phone once their invitation is used or expired: they were only for the link."""
    now = now or timezone.now()
    spent = Invitation.objects.filter(
        Q(used_at__isnull=False) | Q(expires_at__lte=now),
        Q(contact_email__gt="") | Q(contact_phone__gt=""),
    )
    count = spent.update(contact_email="", contact_phone="")
    if count:
        record(Action.CONTACTS_PURGED, actor_name="scheduled task", invitations=count)
    return count


@dataclass(frozen=True)
class Erasure:
    responses: int
    answers: int
    invitations_cleared: int


def forget_patient(practice: Practice, reference: str, *, actor=None) -> Erasure:
    """Remove one patient's answers (theirs and their clinicians' about them) and contact details.

    The visits and invitations stay, with their links spent, so nothing can be resubmitted; scores
    are stored per response, so deleting the responses removes the patient from every aggregate, and
    stored reports covering them are rebuilt without the patient.
    """
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(practice=practice, reference=reference).first()
        if patient is None:
            raise ServiceError(f"No patient {reference!r} in {practice.slug}.")
        responses = Response.objects.filter(dyad__patient=patient)
        answers = Answer.objects.filter(response__in=responses).count()
        response_count = responses.count()
        periods = list(responses.values_list("submitted_at", flat=True))
        now = timezone.now()
        invitations = Invitation.objects.filter(visit__dyad__patient=patient)
        cleared = invitations.update(contact_email="", contact_phone="")
        invitations.filter(used_at__isnull=True).update(used_at=now)
        responses.delete()
        _mark_reports_stale(practice, periods)
        record(
            Action.PATIENT_FORGOTTEN,
            actor=actor,
            practice=practice,
            obj=patient,
            responses=response_count,
            answers=answers,
        )
    return Erasure(responses=response_count, answers=answers, invitations_cleared=cleared)


def _mark_reports_stale(practice: Practice, submitted: list[dt.datetime]) -> None:
    """Whatever was built from an erased response must not keep serving it: tell the apps that build on
    surveys (reports rebuild the reports covering these days), without surveys importing them."""
    if submitted:
        days = [timezone.localtime(moment).date() for moment in submitted]
        signals.responses_erased.send(sender=Practice, practice=practice, first=min(days), last=max(days))
