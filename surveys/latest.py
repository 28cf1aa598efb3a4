"""Each dyad's latest response, kept as flags on its scores so the dashboards read it instead of re-finding it.

docs/measurement.md counts each dyad once in a period's figures, by its most recent response. Finding that response
with a window function over every response of the period took most of the dashboard's time at 20,000 visits
(docs/performance.md), so every score row says whether its response is its dyad's latest for its respondent
(`is_latest`) and its latest of that month (`is_month_latest`), and the dyad's next month with a response of the
same respondent (`next_month`: a period that ends with a month finds each dyad's latest in it among the month
flags, and a trend finds how long a month's answers stay a dyad's latest, without a window). It also carries the
other respondent's score of the same visit (`paired_score`) and where that wave's gap falls by its instrument's
rule (`paired_band`: lower, within or higher, measurement.gaps). They are kept in step here, under a lock on the dyad so that two submissions
of one dyad never both win: on every submission and every deletion (`move_flags`); in bulk by the seed
(`latest_response_ids`, `next_months`, `measurement.gaps.wave_bands`); and all at once by `rebuild`,
`rebuild_next_months` and `rebuild_bands` (the migrations that added them, `manage.py rebuild_read_model` after a
change of TIME_ZONE).

`figures.queries` reads the flags whenever they give the window's answer: for a period that reaches today or ends
with a month, and is not narrowed to one instrument version (a response's being latest overall says nothing about
the latest of one version, or the latest before some past day in the middle of a month).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import Case, FloatField, Value, When
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from measurement import gaps, scoring

from . import selectors
from .models import Answer, DomainScore, Dyad, InstrumentVersion, Respondent, Response

# The columns of a score row, in the order `score_rows` writes them (the submit path's INSERT and the seed's COPY).
SCORE_FIELDS = (
    "response_id", "domain", "score", "practice_id", "clinician_id", "respondent", "submitted_at", "month",
    "next_month", "paired_score", "paired_band", "is_latest", "is_month_latest",
)


def month_of(moment: dt.datetime) -> dt.date:
    """The first day of the moment's month in the site's time zone, as TruncMonth sees it."""
    return timezone.localtime(moment).date().replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The month's first moment and the next month's, in the site's time zone."""
    return tuple(timezone.make_aware(dt.datetime.combine(day, dt.time.min)) for day in (month, next_month(month)))


def score_rows(response, scores: dict, clinician_id: int, paired: dict, bands: dict | None = None, *, latest=False,
               month_latest=False, next_month: dt.date | None = None) -> list[tuple]:
    """A response's score rows in SCORE_FIELDS order. `response` needs id, practice_id, respondent and
    submitted_at (a Response, or the seed's plain record); `paired` is the other side's {domain: score} and
    `bands` the wave's {domain: band} (`wave_bands`), both empty until the other side has answered."""
    month = month_of(response.submitted_at)
    bands = bands or {}
    return [
        (
            response.id, domain, score, response.practice_id, clinician_id, response.respondent,
            response.submitted_at, month, next_month, paired.get(domain), bands.get(domain), latest, month_latest,
        )
        for domain, score in scores.items()
    ]


def latest_response_ids(rows: Iterable[tuple[int, int, str, dt.datetime]]) -> tuple[set[int], set[int]]:
    """From (response id, dyad id, respondent, submitted_at): the ids of each dyad's latest response per
    respondent, and of its latest of each month. Ties on submitted_at go to the larger id, as in the window."""
    rows = list(rows)
    latest = scoring.latest_per_dyad(((dyad, who), (moment, pk), pk) for pk, dyad, who, moment in rows)
    monthly = scoring.latest_per_dyad(((dyad, who, month_of(moment)), (moment, pk), pk) for pk, dyad, who, moment in rows)
    return set(latest.values()), set(monthly.values())


def next_months(rows: Iterable[tuple[int, int, str, dt.datetime]]) -> dict[int, dt.date | None]:
    """From (response id, dyad id, respondent, submitted_at): {response id: the first later month (`month_of`) in
    which its dyad has a response of the same respondent, or None}: what its score rows' `next_month` holds."""
    rows = list(rows)
    months: dict[tuple[int, str], set[dt.date]] = defaultdict(set)
    for _pk, dyad, who, moment in rows:
        months[(dyad, who)].add(month_of(moment))
    ordered = {key: sorted(values) for key, values in months.items()}
    following = {}
    for pk, dyad, who, moment in rows:
        later = ordered[(dyad, who)]
        i = bisect_right(later, month_of(moment))
        following[pk] = later[i] if i < len(later) else None
    return following


# The submit path's statements, written once: through the ORM, compiling them cost more than running them
# (a third of a submission). Table names come from the models; FOR UPDATE is left out where there is none (SQLite
# serialises writers anyway).
_TABLES = {"score": DomainScore._meta.db_table, "response": Response._meta.db_table, "dyad": Dyad._meta.db_table}
_LOCK = "SELECT clinician_id FROM {dyad} WHERE id = %s"
_THEIR_SCORES = """
SELECT s.domain, s.score FROM {score} s JOIN {response} r ON r.id = s.response_id
WHERE r.visit_id = %s AND r.respondent = %s
"""
# The dyad's latest response for one respondent, and its latest of one month, get the flags; rows that hold them
# (or should) are the only ones written. One statement, so it needs no second look at the dyad's responses.
_MOVE_FLAGS = """
UPDATE {score} SET
    is_latest = COALESCE({score}.response_id = pick.latest_id, false),
    is_month_latest = CASE WHEN {score}.month = %s THEN COALESCE({score}.response_id = pick.month_latest_id, false)
                           ELSE {score}.is_month_latest END
FROM (
    SELECT
        (SELECT id FROM {response} WHERE dyad_id = %s AND respondent = %s
         ORDER BY submitted_at DESC, id DESC LIMIT 1) AS latest_id,
        (SELECT id FROM {response} WHERE dyad_id = %s AND respondent = %s AND submitted_at >= %s AND submitted_at < %s
         ORDER BY submitted_at DESC, id DESC LIMIT 1) AS month_latest_id
) AS pick
WHERE {score}.response_id IN (SELECT id FROM {response} WHERE dyad_id = %s AND respondent = %s)
  AND ({score}.is_latest OR ({score}.is_month_latest AND {score}.month = %s)
       OR {score}.response_id = pick.latest_id OR {score}.response_id = pick.month_latest_id)
"""


# The dyad's months with a response of one respondent are the months of its score rows (every response has a row
# per domain of its instrument, a missing score included). A new response in month M writes its rows with the
# first later month (`_LATER_MONTH`: usually none), and becomes the next month of the earlier rows whose next month
# was later or none (`_NEXT_MONTH_ADDED`: the previous month's rows, once a month; none on a dyad's first visit).
# Its own rows are never updated after they are written: an UPDATE of fresh rows rewrote them and their indexes,
# a fifth of a submission's time.
_DYADS_RESPONSES = "SELECT id FROM {response} WHERE dyad_id = %s AND respondent = %s"
_LATER_MONTH = "SELECT min(month) FROM {score} WHERE response_id IN (" + _DYADS_RESPONSES + ") AND month > %s"
_NEXT_MONTH_ADDED = """
UPDATE {score} SET next_month = %s
WHERE response_id IN (""" + _DYADS_RESPONSES + """) AND month < %s AND (next_month IS NULL OR next_month > %s)
"""
# A deleted response in month M: if no other response of the dyad's is left in M, the rows that pointed at M point
# at the month after it with a response (or none).
_NEXT_MONTH_REMOVED = """
UPDATE {score} SET next_month = (
    SELECT min(o.month) FROM {score} o WHERE o.response_id IN (""" + _DYADS_RESPONSES + """) AND o.month > %s)
WHERE response_id IN (""" + _DYADS_RESPONSES + """) AND next_month = %s
  AND NOT EXISTS (SELECT 1 FROM {score} o WHERE o.response_id IN (""" + _DYADS_RESPONSES + """) AND o.month = %s)
"""


def _sql(template: str) -> str:
    return template.format(**_TABLES)


def lock_dyad(dyad_id: int) -> int | None:
    """Lock the dyad for the rest of the transaction and return its clinician's id (None if it is gone).

    Two submissions of one dyad (two visits' links, or the patient and the clinician of one visit) then run
    one after the other, so each sees the other's rows when it sets the flags and the paired scores.
    """
    lock = _sql(_LOCK) + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    with connection.cursor() as cursor:
        cursor.execute(lock, [dyad_id])
        row = cursor.fetchone()
        return row[0] if row else None


def other_side(respondent: str) -> str:
    return Respondent.CLINICIAN if respondent == Respondent.PATIENT else Respondent.PATIENT


def scores_of_other_side(response) -> dict[str, float | None]:
    """The other respondent's scores of the same visit, {domain: score} (empty until they answer)."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_THEIR_SCORES), [response.visit_id, other_side(response.respondent)])
        return dict(cursor.fetchall())


def wave_bands(response, mine: dict[str, float | None], theirs: dict[str, float | None]) -> dict[str, str]:
    """{shared domain: band} of the response's wave once both sides have answered (`theirs` is the other side's
    scores): each domain judged by the wave's rule, item pairs beyond measurement error from instrument 1.1,
    the domain rule for 1.0 (measurement.gaps). Two queries: the wave's answers, then its versions' specs."""
    patient, clinician = (mine, theirs) if response.respondent == Respondent.PATIENT else (theirs, mine)
    measures = selectors.paired_measures(Response.objects.filter(visit_id=response.visit_id))
    return gaps.wave_bands(clinician, patient, measures.get(response.visit_id))


def pair_other_side(response, scores: dict[str, float | None], bands: dict[str, str]) -> None:
    """Give the other respondent's score rows of the visit this response's scores as their pairs, and the
    wave's bands."""
    DomainScore.objects.filter(response__visit_id=response.visit_id, respondent=other_side(response.respondent)).update(
        paired_score=Case(
            *[When(domain=domain, then=Value(score, output_field=FloatField())) for domain, score in scores.items()],
            default=Value(None, output_field=FloatField()),
        ),
        paired_band=Case(
            *[When(domain=domain, then=Value(band)) for domain, band in bands.items()],
            default=Value(None),
            output_field=DomainScore._meta.get_field("paired_band"),
        ),
    )


def move_flags(dyad_id: int, respondent: str, moment: dt.datetime) -> None:
    """Put the dyad's flags (for this respondent) where they belong after a response submitted or deleted at
    `moment` came or went: its latest response overall, and its latest of that moment's month."""
    ops = connection.ops
    month = month_of(moment)
    start, end = (ops.adapt_datetimefield_value(bound) for bound in month_bounds(month))
    month = ops.adapt_datefield_value(month)
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_MOVE_FLAGS),
            [month, dyad_id, respondent, dyad_id, respondent, start, end, dyad_id, respondent, month],
        )


def later_month(response) -> dt.date | None:
    """The first month after `response`'s in which its dyad has a response of the same respondent: its score rows'
    `next_month` (None for a response in the dyad's latest month, which is nearly every submission)."""
    month = connection.ops.adapt_datefield_value(month_of(response.submitted_at))
    with connection.cursor() as cursor:
        cursor.execute(_sql(_LATER_MONTH), [response.dyad_id, response.respondent, month])
        (later,) = cursor.fetchone()
    return dt.date.fromisoformat(later) if isinstance(later, str) else later  # SQLite returns the text


def next_month_added(response) -> None:
    """Point the dyad's earlier rows at `response`'s month where it is now their next month (under the dyad's
    lock, after its own rows were written with `later_month`)."""
    month = connection.ops.adapt_datefield_value(month_of(response.submitted_at))
    with connection.cursor() as cursor:
        cursor.execute(_sql(_NEXT_MONTH_ADDED), [month, response.dyad_id, response.respondent, month, month])


def next_month_removed(dyad_id: int, respondent: str, moment: dt.datetime) -> None:
    """Keep `next_month` right after a response submitted at `moment` was deleted (under the dyad's lock)."""
    month = connection.ops.adapt_datefield_value(month_of(moment))
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_NEXT_MONTH_REMOVED),
            [dyad_id, respondent, month, dyad_id, respondent, month, dyad_id, respondent, month],
        )


# For rebuilding every row at once: UPDATE ... FROM runs on PostgreSQL and SQLite (3.33+) alike.
_COPIES = """
UPDATE {score} SET practice_id = r.practice_id, clinician_id = d.clinician_id, respondent = r.respondent,
       submitted_at = r.submitted_at, paired_score = NULL, is_latest = false, is_month_latest = false
FROM {response} r JOIN {dyad} d ON d.id = r.dyad_id
WHERE r.id = {score}.response_id
"""
_PAIRS = """
UPDATE {score} SET paired_score = theirs.score
FROM {response} mine
JOIN {response} other ON other.visit_id = mine.visit_id AND other.respondent <> mine.respondent
JOIN {score} theirs ON theirs.response_id = other.id
WHERE mine.id = {score}.response_id AND theirs.domain = {score}.domain
"""


def rebuild(score_model=DomainScore, response_model=Response, dyad_model=Dyad, using: str = "default") -> int:
    """Recompute every score row's copies, pairs, months and flags from the responses; returns the rows seen.

    For the migration that added them (which passes its historical models), and for an operator after a change
    of TIME_ZONE (months are local) or data repaired by hand (`manage.py rebuild_read_model`). Set-based: one
    statement for the copies, one for the pairs, one per month, the flags by id in chunks.
    """
    from django.db import connections

    tables = {"score": score_model._meta.db_table, "response": response_model._meta.db_table,
              "dyad": dyad_model._meta.db_table}
    with connections[using].cursor() as cursor:
        cursor.execute(_COPIES.format(**tables))
        cursor.execute(_PAIRS.format(**tables))
    scores, responses = score_model.objects.using(using), response_model.objects.using(using).order_by("submitted_at")
    first, last = responses.first(), responses.last()
    month = month_of(first.submitted_at) if first else None
    while month and month <= month_of(last.submitted_at):
        start, end = month_bounds(month)
        scores.filter(submitted_at__gte=start, submitted_at__lt=end).update(month=month)
        month = next_month(month)
    latest, monthly = latest_response_ids(responses.values_list("id", "dyad_id", "respondent", "submitted_at"))
    for flag, ids in (("is_latest", sorted(latest)), ("is_month_latest", sorted(monthly))):
        for start in range(0, len(ids), 500):
            scores.filter(response_id__in=ids[start : start + 500]).update(**{flag: True})
    return scores.count()


def rebuild_next_months(score_model=DomainScore, response_model=Response, using: str = "default") -> int:
    """Recompute every score row's `next_month` from the responses (`next_months`); returns the responses seen.

    After `rebuild` (which sets the months), for the migration that added the column (with its historical models)
    and `manage.py rebuild_read_model`: one UPDATE per month that some rows point at, by id in chunks."""
    scores = score_model.objects.using(using)
    responses = response_model.objects.using(using).values_list("id", "dyad_id", "respondent", "submitted_at")
    following = next_months(responses)
    targets: dict[dt.date | None, list[int]] = defaultdict(list)
    for pk, month in following.items():
        targets[month].append(pk)
    for month, ids in targets.items():
        ids.sort()
        for start in range(0, len(ids), 500):
            scores.filter(response_id__in=ids[start : start + 500]).update(next_month=month)
    return len(following)


def rebuild_bands(score_model=DomainScore, response_model=Response, answer_model=Answer,
                  version_model=InstrumentVersion, using: str = "default", chunk: int = 500) -> int:
    """Recompute every paired score row's band (`wave_bands`) from the waves' answers; returns the waves judged.

    After `rebuild` (which pairs the rows), for the migration that added the bands (with its historical models)
    and `manage.py rebuild_read_model`. Waves in chunks: one read of their answers, one of their scores, and an
    UPDATE per domain and band.
    """
    scores = score_model.objects.using(using)
    scores.exclude(paired_band=None).update(paired_band=None)
    visits = sorted(set(
        scores.filter(paired_score__isnull=False, domain__in=scoring.SHARED_DOMAINS)
        .values_list("response__visit_id", flat=True)
    ))
    for start in range(0, len(visits), chunk):
        some = visits[start : start + chunk]
        responses = response_model.objects.using(using).filter(visit_id__in=some)
        measures = selectors.paired_measures(responses, answer_model, version_model)
        sides: dict[int, dict[str, dict]] = {}
        ids: dict[int, list[int]] = {}
        for response_id, visit_id, respondent, domain, score in scores.filter(response__in=responses).values_list(
            "response_id", "response__visit_id", "respondent", "domain", "score"
        ):
            sides.setdefault(visit_id, {Respondent.CLINICIAN: {}, Respondent.PATIENT: {}})[respondent][domain] = score
            ids.setdefault(visit_id, []).append(response_id)
        targets: dict[tuple[str, str], set[int]] = {}
        for visit_id, side in sides.items():
            bands = gaps.wave_bands(side[Respondent.CLINICIAN], side[Respondent.PATIENT], measures.get(visit_id))
            for domain, band in bands.items():
                targets.setdefault((domain, band), set()).update(ids[visit_id])
        for (domain, band), response_ids in targets.items():
            scores.filter(response_id__in=response_ids, domain=domain).update(paired_band=band)
    return len(visits)


@receiver(post_delete, sender=Response, dispatch_uid="surveys.latest.response_deleted")
def response_deleted(sender, instance: Response, **kwargs) -> None:
    """A deleted response (an erasure, an admin's delete) hands its flags to the dyad's next latest and
    takes its scores out of the other side's pairs."""
    if lock_dyad(instance.dyad_id) is None:  # the dyad is already gone: nothing left to flag
        return
    DomainScore.objects.filter(
        response__visit_id=instance.visit_id, respondent=other_side(instance.respondent)
    ).update(paired_score=None, paired_band=None)
    move_flags(instance.dyad_id, instance.respondent, instance.submitted_at)
    next_month_removed(instance.dyad_id, instance.respondent, instance.submitted_at)
