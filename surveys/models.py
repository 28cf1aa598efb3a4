"""Practices, people, visits, instruments and the responses that score a dyad.

Rules that must hold under concurrency live here as database constraints; the services rely on them.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from measurement.casemix import COVARIATES as CASEMIX_COVARIATES

from . import casemix, references

# Answers are stored as small integers; every instrument's scale must lie inside this band
# (load_instruments checks it), so the check constraint below bounds any scale we accept.
ANSWER_FLOOR, ANSWER_CEILING = 0, 10


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    MANAGER = "manager", "Practice manager"


class Respondent(models.TextChoices):
    PATIENT = "patient", "Patient"
    CLINICIAN = "clinician", "Clinician"


class DomainKind(models.TextChoices):
    PROCESS = "process", "Process"
    OUTCOME = "outcome", "Outcome"
    COMPETENCY = "competency", "Competency"


class Practice(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    min_reporting_n = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Clinician-level figures with fewer dyads than this are suppressed.",
    )
    self_assessment_months = models.PositiveSmallIntegerField(
        default=3,
        choices=[(1, "Monthly"), (3, "Quarterly"), (6, "Every six months"), (12, "Yearly")],
        help_text="How often clinicians take the competencies self-assessment (periods start in January).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(min_reporting_n__gte=1), name="practice_min_n_positive"),
            models.CheckConstraint(
                condition=Q(self_assessment_months__in=[1, 3, 6, 12]), name="practice_self_assessment_period_divides_year"
            ),
        ]

    def __str__(self):
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "practice", "role"], name="one_membership_per_person_practice_role"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_known"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.practice}"


class Patient(models.Model):
    """A pseudonymous patient: the practice's own reference code, never a name."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="patients")
    reference = models.CharField(max_length=references.MAX_LENGTH, help_text="The practice's reference code (no names).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "reference"], name="patient_reference_unique_in_practice")]

    def __str__(self):
        return self.reference


class Dyad(models.Model):
    """One clinician with one patient: the relationship we measure over time."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="dyads")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dyads")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="dyads")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinician", "patient"], name="one_dyad_per_clinician_patient")]

    def __str__(self):
        return f"{self.clinician} – {self.patient}"


class Visit(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="visits")
    dyad = models.ForeignKey(Dyad, on_delete=models.CASCADE, related_name="visits")
    date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["practice", "date"])]

    def __str__(self):
        return f"Visit {self.pk} on {self.date}"


class Instrument(models.Model):
    slug = models.SlugField(unique=True)

    def __str__(self):
        return self.slug


class InstrumentVersion(models.Model):
    """One immutable-once-answered version of an instrument, loaded from its JSON file."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=16)
    respondent = models.CharField(max_length=16, choices=Respondent.choices)
    title = models.JSONField()
    scale_min = models.SmallIntegerField()
    scale_max = models.SmallIntegerField()
    definition = models.JSONField(help_text="The JSON file as loaded: labels and texts in every language.")
    checksum = models.CharField(max_length=64)
    is_current = models.BooleanField(default=True, help_text="New invitations use the current version.")
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "version"], name="instrument_version_unique"),
            models.CheckConstraint(
                condition=Q(scale_min__gte=ANSWER_FLOOR, scale_max__lte=ANSWER_CEILING, scale_min__lt=models.F("scale_max")),
                name="instrument_scale_in_band",
            ),
        ]

    def __str__(self):
        return f"{self.instrument.slug}-{self.version}"


class Domain(models.Model):
    version = models.ForeignKey(InstrumentVersion, on_delete=models.CASCADE, related_name="domains")
    code = models.SlugField(max_length=40)
    kind = models.CharField(max_length=16, choices=DomainKind.choices)
    label = models.JSONField()
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="domain_code_unique_in_version")]

    def __str__(self):
        return self.code


class Item(models.Model):
    version = models.ForeignKey(InstrumentVersion, on_delete=models.CASCADE, related_name="items")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=16)
    reverse = models.BooleanField(default=False)
    allow_na = models.BooleanField(default=False)
    text = models.JSONField()
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="item_code_unique_in_version")]

    def __str__(self):
        return self.code


class Invitation(models.Model):
    """A questionnaire owed for one visit by one respondent.

    Patients reach it through a single-use link whose token is stored only as a SHA-256 hash;
    clinicians reach theirs signed in, so their invitations carry no token.
    """

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="invitations")
    respondent = models.CharField(max_length=16, choices=Respondent.choices)
    instrument_version = models.ForeignKey(InstrumentVersion, on_delete=models.PROTECT, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    # Where to send the patient's link, from a visit import. Personal data: data minimisation deletes
    # these once used, and they must never be logged or put in messages or exceptions.
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "respondent"], name="one_invitation_per_visit_respondent"),
            models.CheckConstraint(
                condition=Q(respondent=Respondent.CLINICIAN) | Q(token_hash__isnull=False),
                name="patient_invitation_has_token",
            ),
        ]
        indexes = [
            models.Index(fields=["respondent", "used_at", "expires_at"]),
            # The dashboard's invitation funnel: a period's invitations, not every invitation ever sent.
            models.Index(fields=["respondent", "created_at"], name="invitation_created"),
        ]

    def __str__(self):
        return f"{self.get_respondent_display()} invitation for visit {self.visit_id}"


class Response(models.Model):
    """A submitted questionnaire with its scores, written once in one transaction."""

    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="response")
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="responses")
    dyad = models.ForeignKey(Dyad, on_delete=models.CASCADE, related_name="responses")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="responses")
    respondent = models.CharField(max_length=16, choices=Respondent.choices)
    instrument_version = models.ForeignKey(InstrumentVersion, on_delete=models.PROTECT, related_name="responses")
    language = models.CharField(max_length=8, default="en")
    comment = models.TextField(blank=True, max_length=2000)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField()
    process_index = models.FloatField(null=True, blank=True)
    outcome_index = models.FloatField(null=True, blank=True)
    shared_with_clinician = models.BooleanField(
        default=False,
        db_default=False,  # rows written without the ORM (the seed's COPY, raw baselines) are not shared either
        help_text="The patient chose, on the form, to let their clinician see these answers by name "
        "(off by default; responses saved before the choice existed count as not shared).",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visit", "respondent"], name="one_response_per_visit_respondent")]
        indexes = [
            models.Index(fields=["practice", "respondent", "submitted_at"]),
            models.Index(fields=["dyad", "respondent", "submitted_at"]),
        ]

    def __str__(self):
        return f"{self.get_respondent_display()} response {self.pk}"


class Answer(models.Model):
    # No index of its own: the unique (response, item) index below leads with response and serves every lookup
    # by response; a second index would only slow the 21-25 answer rows each submission writes.
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="answers")
    value = models.SmallIntegerField(null=True, blank=True, help_text="Empty means 'does not apply'.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "item"], name="one_answer_per_item"),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gte=ANSWER_FLOOR, value__lte=ANSWER_CEILING),
                name="answer_within_scale_band",
            ),
        ]


def _copy_of(model, **options):
    """A copy of a fact the response already holds: no foreign-key check of its own (the response's keys are
    checked), so it costs nothing at commit in the seed's millions of rows."""
    return models.ForeignKey(
        model, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+", **options
    )


class DomainScore(models.Model):
    """A response's 0-100 score for one domain; empty when too few items were answered.

    Beside the score, each row carries what the dashboards filter and group by, so their figures are read
    from this one table without joins (docs/performance.md): copies of the response's practice, clinician,
    respondent and time, the local month, the other respondent's score of the same visit and domain, and
    whether the response is its dyad's latest (overall and in its month) for its respondent. The copies are
    written with the score; `next_month`, `paired_score`, `paired_band` and the flags are kept in step by `surveys.latest` whenever a
    response of the dyad is saved or deleted.
    """

    # Served by the unique (response, domain) index, as for Answer: every read of scores starts from responses.
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="scores", db_index=False)
    domain = models.CharField(max_length=40)
    score = models.FloatField(null=True, blank=True)
    practice = _copy_of(Practice)
    clinician = _copy_of(settings.AUTH_USER_MODEL)
    respondent = models.CharField(max_length=16, choices=Respondent.choices)
    submitted_at = models.DateTimeField()
    month = models.DateField(help_text="First day of the submission's month, in the site's time zone.")
    next_month = models.DateField(
        null=True, blank=True,
        help_text="The first later month in which the dyad has a response of the same respondent; empty when none.",
    )
    paired_score = models.FloatField(null=True, blank=True, help_text="The other respondent's score of this visit.")
    paired_band = models.CharField(
        max_length=8, null=True, blank=True,
        help_text="Where this visit's clinician-minus-patient gap falls by its instrument's rule: lower, within or "
        "higher (measurement.gaps); empty until both have answered.",
    )
    is_latest = models.BooleanField(default=False)
    is_month_latest = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "domain"], name="one_score_per_response_domain"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100), name="domain_score_0_to_100"
            ),
        ]
        # Partial: only the rows the dashboard reads (each dyad's latest, overall and per month) are indexed.
        # Covering (PostgreSQL; other engines ignore INCLUDE): the dashboard's reads are index-only scans.
        indexes = [
            models.Index(
                fields=["practice", "respondent", "submitted_at"],
                include=["domain", "clinician", "score", "paired_score", "paired_band"],
                condition=Q(is_latest=True),
                name="score_latest",
            ),
            models.Index(
                fields=["practice", "respondent", "submitted_at"],
                include=["month", "next_month", "domain", "clinician", "score", "response", "paired_score",
                         "paired_band"],
                condition=Q(is_month_latest=True),
                name="score_month_latest",
            ),
        ]


class CardLink(models.Model):
    """A link printed on a QR card for a patient invitation, beside the invitation's own link (issue 14).

    Printing a day's cards again must never void a card already handed out, and we keep no copy of any token, so
    each printing adds links instead of replacing the invitation's: every card of an invitation opens it, and
    the invitation's single use still allows one response. Each card carries two secrets, both stored only as
    digests: the QR code's 256-bit token (SHA-256, like every link) and a short code for typing at /q/
    (60 bits, HMAC-SHA256 keyed by SECRET_KEY; docs/security.md says why that is enough).
    """

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="card_links")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Card link for invitation {self.invitation_id}"


class SelfAssessment(models.Model):
    """A clinician's periodic competencies self-assessment (instrument `competencies`), one per practice and
    period: about their work with patients in general, so it belongs to no visit, dyad or patient.

    `period_start` is the first day of the practice's self-assessment period (a quarter by default) it was
    taken in; the unique constraint makes a second submission for the same period impossible, however it
    arrives. Answers ({item code: value, None for not applicable}) and domain scores ({domain: 0-100 or None})
    are kept as the instrument scored them.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="self_assessments")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="self_assessments")
    instrument_version = models.ForeignKey(InstrumentVersion, on_delete=models.PROTECT, related_name="self_assessments")
    period_start = models.DateField()
    language = models.CharField(max_length=8, default="en")
    answers = models.JSONField()
    scores = models.JSONField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "clinician", "period_start"], name="one_self_assessment_per_period"
            ),
        ]

    def __str__(self):
        return f"Self-assessment of {self.clinician} for {self.period_start}"


class SelfAssessmentReminder(models.Model):
    """The reminder e-mail for one clinician, practice and period: the row is the claim, so a reminder goes out
    at most once per period however often the scheduled task runs (unique constraint)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "clinician", "period_start"], name="one_self_assessment_reminder_per_period"
            ),
        ]


def _casemix_answer(name: str):
    return models.CharField(max_length=24, null=True, blank=True, choices=casemix.choices(name))


class CaseMix(models.Model):
    """A patient's optional answers about themselves (the "About you" questions), saved with their response.

    Never scored and never required: a skipped question (or "prefer not to say") is empty. They describe the
    patient, not the relationship, and are quasi-identifiers: only case-mix-adjusted figures and model
    coefficients are ever released from them, never one patient's answers (docs/privacy.md). A row exists only
    when at least one question was answered.
    """

    response = models.OneToOneField(Response, on_delete=models.CASCADE, primary_key=True, related_name="casemix")
    age_band = _casemix_answer("age_band")
    education = _casemix_answer("education")
    general_health = _casemix_answer("general_health")
    mental_health = _casemix_answer("mental_health")
    time_with_clinician = _casemix_answer("time_with_clinician")

    class Meta:
        verbose_name = "case mix"
        verbose_name_plural = "case mix"
        constraints = [
            models.CheckConstraint(
                condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__in": levels}),
                name=f"casemix_{name}_known",
            )
            for name, levels in CASEMIX_COVARIATES.items()
        ]
