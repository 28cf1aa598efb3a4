"""What a dashboard or a report shows: each panel is a figure plus the same numbers as a table.

Built from `figures.queries` (the queries) and `figures.charts` (the figures), with suppression
applied here, once, so pages, CSV downloads and reports cannot disagree (docs/measurement.md):
a clinician-level figure with n below the practice's minimum is hidden from everyone but platform
admins, and figures with n under 30 carry the caution note.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from measurement import scoring
from plumbing.period import Period
from surveys.domains import COMPETENCY_DOMAINS, SHARED_DOMAINS, domain_label
from surveys.models import Practice, Respondent
from surveys.permissions import is_platform_admin

from . import charts, queries

HIDDEN = "hidden"
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@dataclass(frozen=True)
class Audience:
    """Who is looking: platform admins see every figure; everyone else is held to the practice's minimum n."""

    min_n: int
    sees_everything: bool = False

    @classmethod
    def for_user(cls, user, practice: Practice) -> Audience:
        return cls(min_n=practice.min_reporting_n, sees_everything=is_platform_admin(user))

    def hides(self, summary: scoring.Summary | None, clinician_level: bool) -> bool:
        if summary is None or not clinician_level or self.sees_everything:
            return False
        return scoring.is_suppressed(summary.n, self.min_n)


@dataclass
class Panel:
    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    figure: object = None  # a plotly Figure, or None when there is nothing to draw
    notes: list[str] = field(default_factory=list)

    @property
    def figure_json(self) -> str | None:
        """The figure as JSON that is safe inside <script type="application/json"> (names may hold '<')."""
        if self.figure is None:
            return None
        return mark_safe(charts.figure_json(self.figure).translate(_JSON_SCRIPT_ESCAPES))


def suppression_note(min_n: int) -> str:
    return _(
        "Figures for a single clinician based on fewer than %(n)s patients are hidden, so that no patient's "
        "answers can be singled out."
    ) % {"n": min_n}


def caution_note() -> str:
    return _("Figures from fewer than %(n)s patients are marked: few responses, interpret with care.") % {
        "n": scoring.CAUTION_N
    }


def _summary_cells(summary: scoring.Summary | None, hidden: bool) -> list:
    if hidden:
        return [HIDDEN] * 4
    if summary is None:
        return [0, None, None, None]
    return [summary.n, summary.mean, summary.ci_low, summary.ci_high]


def _caution(summary: scoring.Summary | None, hidden: bool = False) -> str:
    if hidden or summary is None or not summary.n:
        return ""
    return _("few responses: interpret with care") if summary.few else ""


# --- practice dashboard -----------------------------------------------------------------------


@dataclass
class Tiles:
    sent: int
    opened: int
    completed: int
    completion_rate: float | None
    median_minutes: float | None
    responses: int


def practice_tiles(practice: Practice, period: Period) -> Tiles:
    funnel = queries.invitation_funnel(practice, period)
    rate = funnel["completed"] / funnel["sent"] if funnel["sent"] else None
    return Tiles(
        sent=funnel["sent"],
        opened=funnel["opened"],
        completed=funnel["completed"],
        completion_rate=rate,
        median_minutes=queries.median_minutes_to_complete(practice, period),
        responses=queries.responses_in(practice, period).count(),
    )


@dataclass(frozen=True)
class Suppression:
    """Which figures a manager's dashboard hides, decided once per domain (and per month) from the whole
    per-clinician breakdown, so that no figure shown in one view gives back a hidden one by subtraction
    from another (scoring.complementary_suppression). Platform admins see everything."""

    hidden: dict  # key (domain, or (month, domain)) -> set of clinician ids
    practice_hidden: frozenset  # keys whose practice-level figure is hidden too

    @classmethod
    def decide(cls, counts: dict, audience: Audience) -> Suppression:
        if audience.sees_everything:
            return cls({}, frozenset())
        hidden, practice_hidden = {}, set()
        for key, per_clinician in counts.items():
            hidden[key], practice_too = scoring.complementary_suppression(per_clinician, audience.min_n)
            if practice_too:
                practice_hidden.add(key)
        return cls(hidden, frozenset(practice_hidden))

    def hides(self, key, clinician_id: int | None) -> bool:
        """A clinician's figure (clinician_id given) or the practice's (None) for this domain or month."""
        if clinician_id is None:
            return key in self.practice_hidden
        return clinician_id in self.hidden.get(key, ())


def _counts(by_clinician: dict) -> dict:
    counts: dict = {}
    for (clinician_id, domain), summary in by_clinician.items():
        counts.setdefault(domain, {})[clinician_id] = summary.n
    return counts


def practice_panels(practice: Practice, period: Period, audience: Audience, clinicians: list, tiles: Tiles) -> list[Panel]:
    """Every panel of the practice dashboard, in page order.

    With a clinician filter every figure describes that one clinician, so it is shown only where the
    unfiltered breakdown would show that clinician's figure.
    """
    names = {c.pk: c.get_full_name() or c.username for c in clinicians}
    focus = period.clinician_id
    whole = Period(period.start, period.end, version_id=period.version_id)
    by_clinician = queries.clinician_domain_summaries(practice, whole)
    if focus:
        names = {pk: name for pk, name in names.items() if pk == focus}
    practice_level = queries.domain_summaries(practice, period)
    by_domain = Suppression.decide(_counts(by_clinician), audience)
    by_month = Suppression.decide(queries.clinician_monthly_counts(practice, whole), audience)
    domain_hidden = lambda domain: by_domain.hides(domain, focus)  # noqa: E731
    any_hidden = any(domain_hidden(d) for d in SHARED_DOMAINS)
    notes = [suppression_note(audience.min_n), caution_note()]
    return [
        _domain_panel(practice_level, domain_hidden, notes),
        _heatmap_panel(by_clinician, names, lambda pk, domain: by_domain.hides(domain, pk), notes),
        _means_panel(by_clinician, practice_level, names, by_domain, focus, notes),
        _trend_panel(
            "trends",
            _("Monthly trend by domain"),
            queries.monthly_summaries(practice, period),
            SHARED_DOMAINS,
            lambda month, domain: by_month.hides((month, domain), focus),
            notes,
        ),
        _distribution_panel(queries.score_distribution(practice, period), any_hidden, notes),
        _concordance_panel(queries.concordance(practice, period), any_hidden, notes),
        _funnel_panel(tiles),
    ]


def _domain_panel(summaries, hidden_domain, notes) -> Panel:
    panel = Panel(
        "domains",
        _("Domain scores"),
        [_("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("SD"), _("Note")],
    )
    for domain in SHARED_DOMAINS:
        summary = summaries.get(domain)
        hidden = summary is not None and hidden_domain(domain)
        sd = HIDDEN if hidden else (summary.sd if summary else None)
        panel.rows.append([domain_label(domain), *_summary_cells(summary, hidden), sd, _caution(summary, hidden)])
    shown = [None if row[1] == HIDDEN else row for row in panel.rows]
    if any(row and row[2] is not None for row in shown):
        panel.figure = charts.means_with_intervals(
            [
                {
                    "name": _("Practice"),
                    "means": [row[2] if row else None for row in shown],
                    "low": [row[3] if row else None for row in shown],
                    "high": [row[4] if row else None for row in shown],
                }
            ],
            [domain_label(d) for d in SHARED_DOMAINS],
            title=panel.title,
            y_title=_("Score (0–100)"),
        )
    panel.notes = notes
    return panel


def _heatmap_panel(by_clinician, names, hidden_cell, notes) -> Panel:
    panel = Panel(
        "heatmap",
        _("Clinicians by domain"),
        [_("Clinician"), _("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("Note")],
    )
    matrix = []
    for pk, name in names.items():
        line = []
        for domain in SHARED_DOMAINS:
            summary = by_clinician.get((pk, domain))
            hidden = summary is not None and hidden_cell(pk, domain)
            panel.rows.append([name, domain_label(domain), *_summary_cells(summary, hidden), _caution(summary, hidden)])
            line.append(None if hidden or summary is None else summary.mean)
        matrix.append(line)
    if names:
        panel.figure = charts.heatmap(
            list(names.values()),
            [domain_label(d) for d in SHARED_DOMAINS],
            matrix,
            title=panel.title,
            hidden_text=_("hidden"),
            colorbar_title=_("Mean (0–100)"),
        )
    panel.notes = notes
    return panel


def _means_panel(by_clinician, practice_level, names, suppression, focus, notes) -> Panel:
    panel = Panel(
        "means",
        _("Domain means with 95% intervals by clinician"),
        [_("Series"), _("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("Note")],
    )
    series = []
    sources = [(_("Practice"), lambda d: practice_level.get(d), focus)]
    sources += [(name, (lambda d, pk=pk: by_clinician.get((pk, d))), pk) for pk, name in names.items()]
    for name, lookup, clinician_id in sources:
        means, low, high = [], [], []
        for domain in SHARED_DOMAINS:
            summary = lookup(domain)
            hidden = summary is not None and suppression.hides(domain, clinician_id)
            panel.rows.append([name, domain_label(domain), *_summary_cells(summary, hidden), _caution(summary, hidden)])
            shown = None if hidden or summary is None else summary
            means.append(shown.mean if shown else None)
            low.append(shown.ci_low if shown else None)
            high.append(shown.ci_high if shown else None)
        series.append({"name": str(name), "means": means, "low": low, "high": high})
    panel.figure = charts.means_with_intervals(
        series, [domain_label(d) for d in SHARED_DOMAINS], title=panel.title, y_title=_("Score (0–100)")
    )
    panel.notes = notes
    return panel


def _months(summaries) -> list[dt.date]:
    return sorted({month for month, _domain in summaries})


def _trend_panel(key, title, summaries, domains, hidden_point, notes) -> Panel:
    panel = Panel(key, title, [_("Month"), _("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("Note")])
    months = _months(summaries)
    series = []
    for domain in domains:
        values = []
        for month in months:
            summary = summaries.get((month, domain))
            hidden = summary is not None and hidden_point(month, domain)
            if summary is not None:
                panel.rows.append([month.strftime("%Y-%m"), domain_label(domain), *_summary_cells(summary, hidden), _caution(summary, hidden)])
            values.append(None if hidden or summary is None else summary.mean)
        series.append({"name": domain_label(domain), "values": values, "colour": charts.DOMAIN_COLOURS.get(domain)})
    if months:
        panel.figure = charts.trend(months, series, title=title, y_title=_("Mean score (0–100)"))
    panel.notes = notes
    return panel


def _distribution_panel(distribution, hidden, notes) -> Panel:
    panel = Panel("distribution", _("Distribution of scores"), [_("Domain"), _("Score range"), _("Patients")])
    bins = list(range(0, 100, queries.BIN_WIDTH))
    panel.notes = notes[:1]
    if hidden:
        return panel
    series = []
    for domain in SHARED_DOMAINS:
        counts = [distribution.get(domain, {}).get(b, 0) for b in bins]
        for start, count in zip(bins, counts):
            panel.rows.append([domain_label(domain), f"{start}–{start + queries.BIN_WIDTH - 1 if start < 90 else 100}", count])
        series.append({"name": domain_label(domain), "counts": counts, "colour": charts.DOMAIN_COLOURS.get(domain)})
    if distribution:
        panel.figure = charts.distribution(
            bins, series, title=panel.title, x_title=_("Score (0–100)"), y_title=_("Patients")
        )
    return panel


def _concordance_panel(pairs, hidden, notes) -> Panel:
    panel = Panel(
        "concordance",
        _("Patient and clinician views of the same visit"),
        [_("Domain"), _("Pairs"), _("Patient mean"), _("Clinician mean"), _("Mean gap"), _("Flagged (|gap| ≥ 25)")],
    )
    if hidden:
        panel.notes = notes[:1]
        return panel
    gaps = queries.gaps_by_domain(pairs)
    points = concordance_points(pairs)
    for domain in SHARED_DOMAINS:
        domain_gaps, domain_points = gaps.get(domain, []), points[domain]
        n = len(domain_gaps)
        panel.rows.append(
            [
                domain_label(domain),
                n,
                sum(patient * waves for (patient, _c), waves in domain_points.items()) / n if n else None,
                sum(clinician * waves for (_p, clinician), waves in domain_points.items()) / n if n else None,
                sum(domain_gaps) / n if n else None,
                sum(1 for g in domain_gaps if scoring.gap_flagged(g)),
            ]
        )
    if pairs:
        panel.figure = charts.concordance(
            concordance_series(points), title=panel.title, x_title=_("Patient's score"), y_title=_("Clinician's score")
        )
    panel.notes = [
        _(
            "Each dot is the dyads whose latest visit with both questionnaires had these two scores: the bigger "
            "the dot, the more dyads (hover for the number). Dotted lines mark a gap of 25 points."
        )
    ]
    return panel


def concordance_points(pairs) -> dict[str, Counter]:
    """{shared domain: {(patient, clinician): waves}} from queries.concordance's pairs, clinicians together."""
    points: dict[str, Counter] = {domain: Counter() for domain in SHARED_DOMAINS}
    for pair in pairs:
        points[pair.domain][(pair.patient, pair.clinician)] += pair.waves
    return points


def concordance_series(points: dict[str, Counter]) -> list[dict]:
    """The concordance chart's series, one per domain with waves (labels translated once per domain)."""
    return [
        {"name": domain_label(domain), "points": counts, "colour": charts.DOMAIN_COLOURS.get(domain)}
        for domain, counts in points.items()
        if counts
    ]


def _funnel_panel(tiles: Tiles) -> Panel:
    panel = Panel("funnel", _("Invitation funnel"), [_("Stage"), _("Invitations"), _("Share of sent")])
    stages = [(_("Sent"), tiles.sent), (_("Opened"), tiles.opened), (_("Completed"), tiles.completed)]
    for label, count in stages:
        panel.rows.append([label, count, count / tiles.sent if tiles.sent else None])
    if tiles.sent:
        panel.figure = charts.funnel([str(label) for label, _count in stages], [c for _l, c in stages], title=panel.title)
    return panel


# --- a clinician's own page -------------------------------------------------------------------


def clinician_panels(practice: Practice, clinician, period: Period, audience: Audience) -> list[Panel]:
    """'My relationships': own figures beside the practice's, trends, gaps and competencies."""
    own_period = Period(period.start, period.end, clinician_id=clinician.pk, version_id=period.version_id)
    practice_period = Period(period.start, period.end, version_id=period.version_id)
    own = queries.domain_summaries(practice, own_period)
    overall = queries.domain_summaries(practice, practice_period)
    own_monthly = queries.monthly_summaries(practice, own_period)
    return [
        _comparison_panel(own, overall, audience),
        _trend_panel(
            "my_trend",
            _("My monthly trend"),
            own_monthly,
            SHARED_DOMAINS,
            lambda month, domain: audience.hides(own_monthly.get((month, domain)), True),
            [suppression_note(audience.min_n), caution_note()],
        ),
        _gaps_panel(queries.clinician_gap_summaries(practice, own_period), audience),
        _trend_panel(
            "competencies",
            _("My competency self-ratings"),
            queries.monthly_summaries(practice, own_period, respondent=Respondent.CLINICIAN),
            COMPETENCY_DOMAINS,
            lambda month, domain: False,  # the clinician's own answers about themselves: nothing to protect
            [],
        ),
    ]


def _comparison_panel(own, overall, audience) -> Panel:
    panel = Panel(
        "comparison",
        _("My scores beside the practice's"),
        [_("Domain"), _("My n"), _("My mean"), _("My 95% CI low"), _("My 95% CI high"),
         _("Practice n"), _("Practice mean"), _("Practice 95% CI low"), _("Practice 95% CI high"), _("Note")],
    )
    mine, practice = {"name": _("Me"), "means": [], "low": [], "high": []}, {"name": _("Practice"), "means": [], "low": [], "high": []}
    for domain in SHARED_DOMAINS:
        own_summary, practice_summary = own.get(domain), overall.get(domain)
        hidden = audience.hides(own_summary or scoring.Summary(0, None, None, None, None), True)
        panel.rows.append(
            [domain_label(domain), *_summary_cells(own_summary, hidden), *_summary_cells(practice_summary, False), _caution(own_summary, hidden)]
        )
        for target, summary, is_hidden in ((mine, own_summary, hidden), (practice, practice_summary, False)):
            shown = None if is_hidden or summary is None else summary
            target["means"].append(shown.mean if shown else None)
            target["low"].append(shown.ci_low if shown else None)
            target["high"].append(shown.ci_high if shown else None)
    panel.figure = charts.means_with_intervals(
        [mine, practice], [domain_label(d) for d in SHARED_DOMAINS], title=panel.title, y_title=_("Score (0–100)")
    )
    panel.notes = [suppression_note(audience.min_n), caution_note()]
    return panel


def _gaps_panel(gap_summaries, audience) -> Panel:
    panel = Panel(
        "gaps",
        _("My view against my patients' view"),
        [_("Domain"), _("Waves"), _("Mean gap (me − patient)"), _("95% CI low"), _("95% CI high"), _("Note")],
    )
    means = []
    for domain in SHARED_DOMAINS:
        summary = gap_summaries.get(domain)
        hidden = audience.hides(summary or scoring.Summary(0, None, None, None, None), True)
        panel.rows.append([domain_label(domain), *_summary_cells(summary, hidden), _caution(summary, hidden)])
        means.append(None if hidden or summary is None else summary.mean)
    if any(m is not None for m in means):
        panel.figure = charts.gaps(
            [domain_label(d) for d in SHARED_DOMAINS], means, title=panel.title, y_title=_("Points (clinician − patient)")
        )
    panel.notes = [
        _("A positive gap means you rated the relationship higher than your patient did; waves with a gap of 25 points or more are flagged below."),
        suppression_note(audience.min_n),
    ]
    return panel
