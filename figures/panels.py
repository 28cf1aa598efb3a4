"""What a dashboard shows: each panel is a figure plus the same numbers as a table, in page order.

Numbers come from `figures.queries`; which of them a person may see is decided once per page by
`figures.disclosure`, and each number becomes a `figures.figure.Figure` through `release` before it is tabled
or drawn, so pages, CSV downloads and reports cannot disagree (docs/measurement.md, docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from audit import services as audit
from audit.models import Action
from measurement import casemix, continuity, control, gaps, reflection, scoring
from measurement.statistics import (
    CEILING_NOTE_SHARE,
    MIN_DYADS,
    compare_summaries,
    funnel_limits,
    patients_for_reliability,
    widened,
)
from plumbing import csvfile
from plumbing.period import Period
from surveys import selectors
from surveys.domains import COMPETENCY_DOMAINS, SHARED_DOMAINS, domain_label
from surveys.models import Practice, Respondent

from . import charts, queries
from .disclosure import Audience, Suppression, counts_by_key, decide_period, decide_rolling
from .figure import HIDDEN, Figure, caution_note, release, suppression_note

_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}
_TITLE_SPACE = 38  # pixels of top margin charts._layout keeps for a title (48 with one, 10 without)


@dataclass
class Panel:
    key: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    figure: object = None  # a plotly Figure, or None when there is nothing to draw
    notes: list[str] = field(default_factory=list)  # about this panel alone, shown under it
    shared_notes: list[str] = field(default_factory=list)  # true of several panels: shown once a page (page_notes)

    @property
    def figure_json(self) -> str | None:
        """The figure as JSON that is safe inside <script type="application/json"> (names may hold '<')."""
        if self.figure is None:
            return None
        return mark_safe(charts.figure_json(self.figure).translate(_JSON_SCRIPT_ESCAPES))

    def csv_rows(self) -> list[list]:
        """The table as a file holds it: a withheld number is an empty cell (its row's note says why)."""
        return [[None if value is HIDDEN else value for value in row] for row in self.rows]


def for_page(panel_list: list[Panel], shared: list[str]) -> list[Panel]:
    """Panels as a page shows them, each thing said once (issue 14).

    The card's heading names each chart, so the drawing drops its own title (the space plotly kept for it goes
    back to the plot). The notes in `shared` (suppression and caution, true of every figure on the page) move
    from each panel's own notes to its `shared_notes`, which the page shows once (`page_notes`), not under
    every chart. Reports draw their own figures and keep their titles."""
    for panel in panel_list:
        layout = getattr(panel.figure, "layout", None)
        if layout is not None and layout.title.text:
            layout.title.text = None
            layout.margin.t = max(10, (layout.margin.t or 0) - _TITLE_SPACE)
        panel.shared_notes = [note for note in panel.notes if note in shared]
        panel.notes = [note for note in panel.notes if note not in shared]
    return panel_list


def page_notes(panel_list: list[Panel]) -> list[str]:
    """The notes several panels share, each once, in page order."""
    return list(dict.fromkeys(note for panel in panel_list for note in panel.shared_notes))


def release_table(panel: Panel, practice: Practice, period: Period, *, request=None) -> list[str]:
    """A panel's table as CSV lines, recorded in the audit trail (who took which chart's numbers, for when)."""
    audit.record(Action.EXPORT, request=request, practice=practice, chart=panel.key,
                 start=str(period.start), end=str(period.end))
    return list(csvfile.lines([str(column) for column in panel.columns], panel.csv_rows(), bom=True))


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
        # A median of a handful of completions (one clinician's, filtered) is nearly one patient's own time.
        median_minutes=(
            queries.median_minutes_to_complete(practice, period)
            if funnel["completed"] >= practice.min_reporting_n else None
        ),
        responses=queries.responses_in(practice, period).count(),
    )


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
    by_domain, by_window = decide(practice, whole, audience)
    scope_hidden = by_domain.hider(focus, audience)
    any_hidden = any(scope_hidden(d, _n(practice_level.get(d))) for d in SHARED_DOMAINS)
    notes = [suppression_note(audience.min_n), caution_note()]
    # The comparing-clinicians figures of each domain, from every clinician's summary (ICC(1) over the whole
    # breakdown); only figures the viewer may see are tabled or drawn.
    compared = compare_by_domain(by_clinician)
    # A practice mean is over dyads that cluster within clinicians: its interval is widened by the design effect.
    # Filtered to one clinician, the figure is that clinician's: one cluster, nothing to widen.
    design_effects = {} if focus else {domain: compared[domain].design_effect for domain in SHARED_DOMAINS}
    ceilings = queries.ceiling_counts(practice, period)
    # Filtered to one clinician, the practice-level figures are that clinician's: named so, not "Practice".
    scope_name = names.get(focus, _("Practice")) if focus else _("Practice")
    return for_page([
        _domain_panel(practice_level, scope_hidden, audience.min_n, notes, design_effects, ceilings, scope_name),
        _heatmap_panel(by_clinician, names, by_domain, audience, notes, compared),
        _means_panel(by_clinician, practice_level, names, by_domain, audience, focus, notes, compared),
        _trend_panel(
            "trends",
            _("Trend by domain: rolling quarters"),
            queries.rolling_summaries(practice, period),
            queries.rolling_moments(practice, period).window_ends,
            SHARED_DOMAINS,
            by_window.hider(focus, audience),
            audience.min_n,
            notes,
        ),
        _distribution_panel(queries.score_distribution(practice, period), any_hidden, notes),
        _concordance_panel(queries.concordance(practice, period), any_hidden, notes, pair_hider(practice, period, audience, focus)),
        _continuity_panel(
            queries.visit_counts(practice, period), names, by_clinician, practice_level, by_domain, audience, focus
        ),
        casemix_panel(practice, period, audience, clinicians),
        _funnel_panel(tiles),
    ], notes)


def compare_by_domain(by_clinician: dict) -> dict:
    """{domain: SummaryComparison} from {(clinician id, domain): Summary}: ICC(1), design effect, funnel and each
    clinician's reliability, over every clinician's figure (hidden ones too: they are not shown, but the
    practice's clinicians are what the ICC describes)."""
    return {
        domain: compare_summaries(
            {pk: (s.n, s.mean, s.sd) for (pk, d), s in by_clinician.items() if d == domain and s.n}
        )
        for domain in SHARED_DOMAINS
    }


@queries.read_once
def decide(practice: Practice, whole: Period, audience: Audience) -> tuple[Suppression, Suppression]:
    """What every page about this period hides (`disclosure.decide_period`), from the practice's whole
    per-clinician breakdown of the period and its months; with a version filter, also from the dyads it
    leaves out. Second: what its trend of rolling quarters hides (`disclosure.decide_rolling`, key: (window's
    last month, domain)), from the same query as the months. Decided once within a `shared_reads` block: the
    dashboard's panels and its case-mix fit ask for the same decision."""
    quarter = counts_by_key(queries.clinician_domain_summaries(practice, whole))
    monthly = queries.clinician_monthly_counts(practice, whole)
    rolling_months, rolling_windows, quarters = queries.rolling_counts(practice, whole)
    outside = outside_months = outside_windows = None
    if whole.version_id:
        every = Period(whole.start, whole.end)
        outside = _minus(counts_by_key(queries.clinician_domain_summaries(practice, every)), quarter)
        outside.update(_minus(queries.clinician_monthly_counts(practice, every), monthly))
        every_months, every_windows, _quarters = queries.rolling_counts(practice, every)
        outside_months = _minus(every_months, rolling_months)
        outside_windows = _minus(every_windows, rolling_windows)
    by_domain, _by_month = decide_period(quarter, monthly, audience, outside=outside)
    by_window = decide_rolling(rolling_months, rolling_windows, quarters, audience,
                               outside_months=outside_months, outside_windows=outside_windows)
    return by_domain, by_window


def _minus(every: dict, some: dict) -> dict:
    """{key: {clinician: n}} of `every` less `some`: the dyads a filter left out."""
    return {
        key: {pk: n - some.get(key, {}).get(pk, 0) for pk, n in per_clinician.items()}
        for key, per_clinician in every.items()
    }


def _n(summary: scoring.Summary | None) -> int:
    return summary.n if summary else 0


def _interval_series(name: str, figures: list[Figure]) -> dict:
    """A means_with_intervals series: the figures that may be drawn, gaps where they may not."""
    return {
        "name": str(name),
        "means": [f.mean if f.shown else None for f in figures],
        "low": [f.ci_low if f.shown else None for f in figures],
        "high": [f.ci_high if f.shown else None for f in figures],
    }


def _domain_panel(summaries, hidden, min_n: int, notes, design_effects: dict, ceilings: dict, scope_name) -> Panel:
    """The practice's figure per domain, its interval widened by the design effect, and the share of patients at
    the top of the scale (at 100) beside the mean, flagged above CEILING_NOTE_SHARE (docs/measurement.md)."""
    panel = Panel(
        "domains",
        _("Domain scores"),
        [_("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("SD"), _("Design effect"),
         _("% at 100"), _("Note")],
    )
    figures = []
    for domain in SHARED_DOMAINS:
        summary = summaries.get(domain)
        deff = design_effects.get(domain)
        shown_summary = widened(summary, deff) if summary else summary
        figure = release(shown_summary, hidden=hidden(domain, _n(summary)), min_n=min_n)
        figures.append(figure)
        at_top = ceilings.get(domain, 0) / summary.n if figure.shown and summary.n else None
        note = figure.note
        if at_top is not None and at_top > CEILING_NOTE_SHARE:
            note = "; ".join(filter(None, [note, _ceiling_note(at_top)]))
        if figure.hidden:
            extra = [HIDDEN, HIDDEN, HIDDEN]
        else:
            extra = [figure.sd, deff if figure.shown else None, None if at_top is None else 100 * at_top]
        panel.rows.append([domain_label(domain), *figure.cells(), *extra, note])
    if any(f.shown for f in figures):
        panel.figure = charts.means_with_intervals(
            [_interval_series(scope_name, figures)],
            [domain_label(d) for d in SHARED_DOMAINS],
            title=panel.title,
            y_title=_("Score (0–100)"),
        )
    panel.notes = notes + [
        _(
            "Scores run from 0 (every answer at the bottom of the scale) to 100 (every answer at the top). Patients of "
            "one clinician answer alike, so a practice interval is widened by the square root of the design effect: "
            "1 means no such clustering, 2 means the practice's patients carry the information of half as many "
            "independent ones. The share at 100 counts the patients who gave every answer at the top; above 15 in "
            "100 the scale can no longer show how much better some relationships are."
        )
    ]
    return panel


def _ceiling_note(share: float) -> str:
    return _("%(share)s%% of patients at 100: the mean cannot show how much better some relationships are") % {
        "share": f"{100 * share:.0f}"
    }


def _heatmap_panel(by_clinician, names, suppression: Suppression, audience: Audience, notes, compared: dict) -> Panel:
    """Clinicians by domain, each figure with its reliability: one below 0.70 shows its mean without colour (a
    colour would rank it) and says how many patients would make it reliable (docs/measurement.md)."""
    panel = Panel(
        "heatmap",
        _("Clinicians by domain"),
        [_("Clinician"), _("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("Reliability"),
         _("Note")],
    )
    matrix, greyed = [], []
    for pk, name in names.items():
        hidden = suppression.hider(pk, audience)
        line, grey_line = [], []
        for domain in SHARED_DOMAINS:
            summary = by_clinician.get((pk, domain))
            figure = release(summary, hidden=hidden(domain, _n(summary)), min_n=audience.min_n)
            comparison = None if figure.hidden else compared[domain].clinicians.get(pk)
            reliability, note = (HIDDEN if figure.hidden else None), figure.note
            if comparison is not None:
                reliability = comparison.reliability
            unreliable = figure.shown and not (comparison is not None and comparison.reliable)
            if unreliable:
                note = "; ".join(filter(None, [note, _unreliable_note(patients_for_reliability(compared[domain].icc))]))
            panel.rows.append([name, domain_label(domain), *figure.cells(), reliability, note])
            line.append(figure.mean if figure.shown else None)
            grey_line.append(unreliable)
        matrix.append(line)
        greyed.append(grey_line)
    if names:
        panel.figure = charts.heatmap(
            list(names.values()),
            [domain_label(d) for d in SHARED_DOMAINS],
            matrix,
            title=panel.title,
            hidden_text=_("hidden"),
            colorbar_title=_("Mean (0–100)"),
            uncoloured=greyed,
            uncoloured_text=_("not reliable enough to compare clinicians"),
        )
    panel.notes = notes + [
        _(
            "Colours compare only figures reliable enough to compare clinicians (0.70 or more); the others show their "
            "mean in grey. Reliability is how far a clinician's mean would come out the same with other patients: "
            "it grows with the number of patients and with how much clinicians really differ."
        )
    ]
    return panel


def _means_panel(
    by_clinician, practice_level, names, suppression: Suppression, audience: Audience, focus, notes, compared: dict
) -> Panel:
    """Clinicians compared as a funnel plot (docs/measurement.md), with each figure's reliability beside it.

    `compared`: the comparisons per domain, from every clinician's summary; only figures the viewer may see are
    tabled or drawn. A figure whose reliability is below 0.70 says so, with the number of
    patients that would make it reliable, and is drawn without ranking colour.
    """
    panel = Panel(
        "means",
        _("Clinicians compared: a funnel plot"),
        [_("Series"), _("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"), _("Reliability"),
         _("Funnel"), _("Note")],
    )
    funnels = [{"label": domain_label(domain), "points": [], "compared": compared[domain]} for domain in SHARED_DOMAINS]
    # The practice's row first (not a comparison); filtered to one clinician, only that clinician's row.
    sources = [] if focus else [(_("Practice"), lambda d: practice_level.get(d), None)]
    sources += [(name, (lambda d, pk=pk: by_clinician.get((pk, d))), pk) for pk, name in names.items()]
    for name, lookup, clinician_id in sources:
        hidden = suppression.hider(clinician_id, audience)
        for domain, funnel in zip(SHARED_DOMAINS, funnels):
            summary = lookup(domain)
            figure = release(summary, hidden=hidden(domain, _n(summary)), min_n=audience.min_n)
            comparison = None if clinician_id is None else funnel["compared"].clinicians.get(clinician_id)
            reliability = funnel_position = None
            note = figure.note
            if figure.hidden:
                reliability = funnel_position = HIDDEN
            elif comparison is not None:
                reliability, funnel_position = comparison.reliability, comparison.funnel
                if not comparison.reliable:
                    note = "; ".join(filter(None, [note, _unreliable_note(comparison.patients_needed)]))
                funnel["points"].append(
                    {"name": str(name), "n": figure.n, "mean": figure.mean, "reliable": comparison.reliable}
                )
            panel.rows.append([name, domain_label(domain), *figure.cells(), reliability, funnel_position, note])
    panel.figure = funnel_figure(funnels, title=panel.title)
    panel.notes = notes + [funnel_explanation()]
    return panel


def _curve_sizes(largest: int, points: int = 40) -> list[int]:
    """Numbers of patients to draw the funnel's curves at: every one at first, then spaced out geometrically, so a
    clinician with 1,300 patients costs 40 points per curve, not 1,300 (plotly validates every value it is given)."""
    sizes, ratio = [], (largest / MIN_DYADS) ** (1 / points) if largest > MIN_DYADS else 1
    size = float(MIN_DYADS)
    while size < largest:
        sizes.append(round(size))
        size = max(size * ratio, size + 1)
    return sorted(set(sizes + [largest]))


def _unreliable_note(patients_needed: int | None) -> str:
    if patients_needed is None:
        return _("not reliable enough to compare clinicians")
    return _("not reliable enough to compare clinicians: about %(n)s patients would make it reliable") % {
        "n": patients_needed
    }


def funnel_figure(funnels: list[dict], *, title: str):
    """The funnel plot (dashboard and report alike) of the points the viewer may see, around the mean of the
    clinicians taking part; None when no domain has a point to draw.

    `funnels`: per domain, {"label", "compared": SummaryComparison, "points": [{"name", "n", "mean", "reliable"}]}.
    """
    domains = []
    for funnel in funnels:
        compared = funnel["compared"]
        if not funnel["points"] or compared.within_sd is None:
            continue
        largest = max(max(p["n"] for p in funnel["points"]), MIN_DYADS) + 5
        limits = [
            (limit.n, limit.lower_95, limit.upper_95, limit.lower_998, limit.upper_998)
            for limit in funnel_limits(compared.centre, compared.within_sd, _curve_sizes(largest))
        ]
        domains.append(
            {"label": funnel["label"], "centre": compared.centre, "limits": limits, "points": funnel["points"]}
        )
    if not domains:
        return None
    return charts.funnel_plot(
        domains,
        title=title,
        x_title=_("Patients"),
        y_title=_("Mean (0–100)"),
        unreliable=_("not reliable enough to compare clinicians"),
    )


def funnel_explanation() -> str:
    """What a funnel plot shows, in a sentence under it (dashboard and report)."""
    return _(
        "Each dot is one clinician: their mean against their number of patients. The lines around the practice "
        "mean are the limits that chance alone stays inside 95 and 99.8 times in 100; only a dot outside "
        "them says more than chance. Hollow grey dots are not reliable enough to compare clinicians."
    )


@dataclass(frozen=True)
class TrendPoint:
    """One rolling quarter of one domain as it may be released, with its control limits (None when it is hidden
    or the domain has too few points shown for limits)."""

    end: dt.date  # first day of the window's last month
    domain: str
    figure: Figure
    centre: float | None
    limits: control.ControlPoint | None


def trend_points(summaries, window_ends, domains, hidden, min_n: int) -> dict[str, list[TrendPoint | None]]:
    """{domain: a TrendPoint per window end (None: no responses)}: the trend's figures released one by one, then
    each domain's control chart over the figures shown only, so the centre line and the limits never carry a
    hidden figure (docs/measurement.md, "Trends"). hidden: ((window's last month, domain), n) -> bool."""
    points = {}
    for domain in domains:
        figures = []
        for end in window_ends:
            summary = summaries.get((end, domain))
            figures.append(None if summary is None else
                           release(summary, hidden=hidden((end, domain), summary.n), min_n=min_n))
        chart = control.control_chart([(f.n, f.mean, f.sd) if f is not None and f.shown else None for f in figures])
        points[domain] = [
            None if figure is None else TrendPoint(end, domain, figure, chart.centre if chart else None,
                                                   chart.points[i] if chart else None)
            for i, (end, figure) in enumerate(zip(window_ends, figures))
        ]
    return points


def trend_figure(window_ends, points: dict, *, title: str, labels: dict, y_title: str, marked_text: str,
                 called_text: str):
    """The control chart of `trend_points` (dashboard and report alike); None when there is no point at all.
    labels: {domain: its label}. A window end where every domain is hidden is written "hidden" on the chart, so
    a trend whose points are all hidden is still drawn and says why it is empty."""
    series = []
    for domain, domain_points in points.items():
        shown = [p if p is not None and p.figure.shown else None for p in domain_points]
        series.append({
            "name": labels[domain],
            "values": [p and p.figure.mean for p in shown],
            "colour": charts.DOMAIN_COLOURS.get(domain),
            "centre": next((p.centre for p in shown if p is not None and p.centre is not None), None),
            "lower": [p.limits.lower if p and p.limits else None for p in shown],
            "upper": [p.limits.upper if p and p.limits else None for p in shown],
            "called": [bool(p and p.limits and p.limits.called) for p in shown],
        })
    if all(p is None for ps in points.values() for p in ps):
        return None
    marked = [end for i, end in enumerate(window_ends)
              if all(ps[i] is None or not ps[i].figure.shown for ps in points.values())
              and any(ps[i] is not None and ps[i].figure.hidden for ps in points.values())]
    return charts.trend(list(window_ends), series, title=title, y_title=y_title, marked=marked,
                        marked_text=marked_text, called_text=called_text)


def _trend_panel(key, title, summaries, window_ends, domains, hidden, min_n: int, notes) -> Panel:
    """Rolling quarters on a control chart, one small plot per domain, and the same numbers as a table."""
    panel = Panel(
        key,
        title,
        [_("Quarter ending"), _("Months"), _("Domain"), _("n"), _("Mean"), _("95% CI low"), _("95% CI high"),
         _("Centre line"), _("Lower limit"), _("Upper limit"), _("Beyond the limits"), _("Note")],
    )
    points = trend_points(summaries, window_ends, domains, hidden, min_n)
    for domain, domain_points in points.items():
        for point in domain_points:
            if point is None:
                continue
            if point.figure.hidden:
                control_cells = [HIDDEN] * 4
            elif point.limits is None:
                control_cells = [None] * 4
            else:
                control_cells = [point.centre, point.limits.lower, point.limits.upper,
                                 _("yes") if point.limits.called else _("no")]
            panel.rows.append([point.end.strftime("%Y-%m"), window_months(point.end), domain_label(domain),
                               *point.figure.cells(), *control_cells, point.figure.note])
    panel.figure = trend_figure(window_ends, points, title=title, labels={d: domain_label(d) for d in domains},
                                y_title=_("Mean score (0–100)"), marked_text=_("hidden"),
                                called_text=_("beyond the limits"))
    panel.notes = [*notes, trend_explanation()]
    return panel


def window_months(end: dt.date) -> str:
    """"2026-01 – 2026-03": the three months of the rolling quarter ending in `end`'s month."""
    index = end.year * 12 + end.month - 1 - (queries.WINDOW_MONTHS - 1)
    return f"{index // 12}-{index % 12 + 1:02d} – {end.strftime('%Y-%m')}"


def trend_explanation() -> str:
    """What a trend's band means, in plain words under it (dashboard, My relationships and report)."""
    return _("Points inside the band differ by chance; a point outside it is a change worth a look.") + " " + _(
        "Each point is a rolling quarter: the three months ending that month, each patient counted once. The "
        "line in the middle is the average of the points shown; the band around it narrows as a point holds "
        "more patients."
    )


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


def pair_hider(practice: Practice, period: Period, audience: Audience, focus: int | None) -> Callable[[str, int], bool]:
    """(domain, paired visits) -> hidden? for the concordance of the practice (focus None) or one clinician.

    Decided from the paired visits themselves, per clinician and domain, as reports decide their gaps
    (`reports.builders.decide_hiding`): a clinician who answered two of their visits has two pairs however many
    patients answered, and the practice's pairs minus the other clinicians' shown ones must not give them back."""
    unfiltered = Period(period.start, period.end, version_id=period.version_id)
    counts: dict = {}
    for pair in queries.concordance(practice, unfiltered):
        by_clinician = counts.setdefault(pair.domain, {})
        by_clinician[pair.clinician_id] = by_clinician.get(pair.clinician_id, 0) + pair.waves
    return Suppression.decide(counts, audience).hider(focus, audience)


def _concordance_panel(pairs, hidden, notes, hides: Callable[[str, int], bool]) -> Panel:
    """Both views of the same visits, per domain. A domain's row and dots rest on its paired visits, which can be
    far fewer than its patient figure's dyads: each domain is hidden on its own pair count (`pair_hider`), row
    and dots, whatever its patient figure."""
    per_domain = Counter()
    for pair in pairs:
        per_domain[pair.domain] += pair.waves
    too_few = {domain for domain in SHARED_DOMAINS if per_domain[domain] and hides(domain, per_domain[domain])}
    pairs = [pair for pair in pairs if pair.domain not in too_few]
    panel = Panel(
        "concordance",
        _("Patient and clinician views of the same visit"),
        [_("Domain"), _("Pairs"), _("Patient mean"), _("Clinician mean"), _("Mean gap"), _("SD of gaps"),
         _("Gaps beyond measurement error")],
    )
    if hidden:
        panel.notes = notes[:1]
        return panel
    points = concordance_points(pairs)
    by_domain: dict[str, list] = {domain: [] for domain in SHARED_DOMAINS}
    for pair in pairs:
        by_domain[pair.domain].append(pair)
    for domain in SHARED_DOMAINS:
        if domain in too_few:
            panel.rows.append([domain_label(domain), *[HIDDEN] * 6])
            continue
        domain_points = points[domain]
        gaps = scoring.summarize_counted((clinician - patient, waves) for (patient, clinician), waves in domain_points.items())
        n = gaps.n
        panel.rows.append(
            [
                domain_label(domain),
                n,
                sum(patient * waves for (patient, _c), waves in domain_points.items()) / n if n else None,
                sum(clinician * waves for (_p, clinician), waves in domain_points.items()) / n if n else None,
                gaps.mean,
                gaps.sd,
                sum(pair.waves for pair in by_domain[domain] if pair.flagged),
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
        ),
        _(
            "Gaps beyond measurement error are judged visit by visit, by the questionnaire's rule: from version 1.1, "
            "item by item over the mirrored questions, and only when the two views differ by more than one answer "
            "step and by more than chance; for version 1.0, which has no mirrored questions, a gap of 25 points or "
            "more. The SD of gaps shows how far they spread both ways around the mean."
        ),
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


def _continuity_panel(visit_counts, names, by_clinician, practice_level, suppression: Suppression,
                      audience: Audience, focus) -> Panel:
    """Continuity of care beside the abiding scores (docs/measurement.md): per clinician, their patients' share of
    visits with them and the patients' UPC and COC, over the year to the period's end; the abiding mean is the
    figure the page releases for that clinician (hidden where it is hidden)."""
    panel = Panel(
        "continuity",
        _("Continuity of care and abiding"),
        [_("Series"), _("Patients with 2 or more visits"), _("Share of visits with this clinician"),
         _("Usual provider continuity (UPC)"), _("Continuity of care index (COC)"),
         _("Being there over time: mean"), _("Note")],
    )
    practice, clinicians = continuity.summarize(visit_counts)
    rows = [] if focus else [(_("Practice"), practice, practice_level.get("abiding"), None)]
    rows += [(name, clinicians.get(pk), by_clinician.get((pk, "abiding")), pk) for pk, name in names.items()]
    for name, figures, abiding, clinician_id in rows:
        figures = figures or continuity.Continuity(patients=0, upc=None, coc=None)
        hidden = suppression.hider(clinician_id, audience)
        released = release(abiding, hidden=hidden("abiding", _n(abiding)), min_n=audience.min_n)
        panel.rows.append([
            name, figures.patients, None if figures.share_with_clinician is None else 100 * figures.share_with_clinician,
            figures.upc, figures.coc, HIDDEN if released.hidden else released.mean, released.note,
        ])
    panel.notes = [
        _(
            "Continuity counts visits over the year to the end of the period, for patients seen at least twice. "
            "UPC is the share of a patient's visits with the clinician they saw most; COC is 1 when every visit "
            "was with one clinician and 0 when no clinician was seen twice. Being there over time (abiding) begins "
            "with seeing the same clinician: a clinician whose patients often see others has less to build on."
        )
    ]
    return panel


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
    # The same decision as the manager's dashboard: the practice figure beside one's own is shown only where
    # it cannot give back a colleague's hidden figure.
    by_domain, by_window = decide(practice, practice_period, audience)
    window_ends = queries.rolling_moments(practice, practice_period).window_ends
    return for_page([
        _comparison_panel(own, overall, by_domain, audience, clinician.pk),
        _trend_panel(
            "my_trend",
            _("My trend: rolling quarters"),
            queries.rolling_summaries(practice, own_period),
            window_ends,
            SHARED_DOMAINS,
            by_window.hider(clinician.pk, audience),
            audience.min_n,
            [suppression_note(audience.min_n), caution_note()],
        ),
        _gaps_panel(queries.judged_latest_waves(practice, own_period), audience),
        _self_ratings_panel(
            selectors.own_self_assessments(clinician, practice),
            queries.monthly_summaries(practice, own_period, respondent=Respondent.CLINICIAN),
            audience.min_n,
        ),
    ], [suppression_note(audience.min_n), caution_note()])


def clinician_reflection(practice: Practice, clinician, period: Period, audience: Audience) -> reflection.Reflection | None:
    """Something for a clinician to reflect on (measurement.reflection): their relatively weakest domain among
    their figures reliable enough to compare clinicians, with suggestions; None when no figure qualifies.

    Only figures the page itself releases take part: the clinician's mean and the practice's beside it, each
    shown under the same disclosure decision as "My scores beside the practice's", so the suggestion reveals
    nothing the page hides. Reliability comes from every clinician's summary, as on the manager's dashboard.
    Inside `queries.shared_reads()` it reuses the page's reads (no query of its own)."""
    own_period = Period(period.start, period.end, clinician_id=clinician.pk, version_id=period.version_id)
    practice_period = Period(period.start, period.end, version_id=period.version_id)
    own = queries.domain_summaries(practice, own_period)
    overall = queries.domain_summaries(practice, practice_period)
    compared = compare_by_domain(queries.clinician_domain_summaries(practice, practice_period))
    by_domain, _by_month = decide(practice, practice_period, audience)
    mine_hidden, practice_hidden = by_domain.hider(clinician.pk, audience), by_domain.hider(None, audience)
    standings = []
    for domain in SHARED_DOMAINS:
        mine = release(own.get(domain), hidden=mine_hidden(domain, _n(own.get(domain))), min_n=audience.min_n)
        theirs = release(
            overall.get(domain), hidden=practice_hidden(domain, _n(overall.get(domain))), min_n=audience.min_n
        )
        comparison = compared[domain].clinicians.get(clinician.pk)
        if mine.shown and theirs.shown and comparison is not None:
            standings.append(reflection.Standing(domain, mine.mean, theirs.mean, comparison.reliability))
    return reflection.reflect(standings)


def _self_ratings_panel(assessments, visit_monthly, few_below: int) -> Panel:
    """'My competency self-ratings': the periodic self-assessments (one questionnaire a period, solid diamonds)
    and, where per-visit questionnaires carried the competencies (clinician 1.0), their monthly means, hollow
    where built from fewer than `few_below` questionnaires (issue 14). The clinician's own answers about
    themselves: nothing is withheld from them."""
    panel = Panel(
        "competencies",
        _("My competency self-ratings"),
        [_("Period"), _("Source"), _("Domain"), _("Questionnaires"), _("Score"), _("Note")],
    )
    periodic, per_visit = _("Self-assessment"), _("Visit questionnaires")
    few = _("few questionnaires: interpret with care")
    series = []
    for domain in COMPETENCY_DOMAINS:
        label = domain_label(domain)
        dates, values = [], []
        for assessment in assessments:
            score = assessment.scores.get(domain)
            panel.rows.append([assessment.period_start.strftime("%Y-%m"), periodic, label, 1, score, ""])
            dates.append(assessment.period_start)
            values.append(score)
        if dates:
            series.append({"name": f"{label} · {periodic}", "dates": dates, "values": values, "symbol": "diamond",
                           "colour": charts.DOMAIN_COLOURS.get(domain)})
        months = sorted(month for month, code in visit_monthly if code == domain)
        ns, means = [], []
        for month in months:
            summary = visit_monthly[(month, domain)]
            panel.rows.append([month.strftime("%Y-%m"), per_visit, label, summary.n, summary.mean,
                               few if summary.n < few_below else ""])
            ns.append(summary.n)
            means.append(summary.mean)
        if months:
            series.append({"name": f"{label} · {per_visit}", "dates": months, "values": means, "n": ns,
                           "dash": "dot", "colour": charts.DOMAIN_COLOURS.get(domain)})
    if series:
        panel.figure = charts.self_ratings(series, title=panel.title, y_title=_("Score (0–100)"), few_below=few_below)
    panel.notes = [
        _("Diamonds: your periodic self-assessment, one questionnaire each period. Dotted lines: the competency "
          "questions of your visit questionnaires, averaged by month; hollow points are built from fewer than "
          "%(n)s questionnaires, so one visit can move them a lot.") % {"n": few_below},
    ]
    return panel


def _comparison_panel(own, overall, suppression: Suppression, audience: Audience, clinician_id: int) -> Panel:
    panel = Panel(
        "comparison",
        _("My scores beside the practice's"),
        [_("Domain"), _("My n"), _("My mean"), _("My 95% CI low"), _("My 95% CI high"),
         _("Practice n"), _("Practice mean"), _("Practice 95% CI low"), _("Practice 95% CI high"), _("Note")],
    )
    mine, practice = [], []
    mine_hidden, practice_hidden = suppression.hider(clinician_id, audience), suppression.hider(None, audience)
    for domain in SHARED_DOMAINS:
        own_figure = release(own.get(domain), hidden=mine_hidden(domain, _n(own.get(domain))), min_n=audience.min_n)
        practice_figure = release(
            overall.get(domain), hidden=practice_hidden(domain, _n(overall.get(domain))), min_n=audience.min_n
        )
        mine.append(own_figure)
        practice.append(practice_figure)
        panel.rows.append([domain_label(domain), *own_figure.cells(), *practice_figure.cells(), own_figure.note])
    panel.figure = charts.means_with_intervals(
        [_interval_series(_("Me"), mine), _interval_series(_("Practice"), practice)],
        [domain_label(d) for d in SHARED_DOMAINS],
        title=panel.title,
        y_title=_("Score (0–100)"),
    )
    panel.notes = [suppression_note(audience.min_n), caution_note()]
    return panel


def _gaps_panel(waves: list[gaps.WaveGap], audience) -> Panel:
    """The clinician's view against their patients' over each dyad's latest wave: the mean gap with its interval,
    and how the waves spread (lower than the patient's beyond measurement error, within it, higher), because
    a mean near zero can hide large gaps both ways. The spread is shown only where the mean is: the same n."""
    panel = Panel(
        "gaps",
        _("My view against my patients' view"),
        [_("Domain"), _("Waves"), _("Mean gap (me − patient)"), _("95% CI low"), _("95% CI high"),
         _("Me lower, beyond error"), _("Within error"), _("Me higher, beyond error"), _("Flag rule"), _("Note")],
    )
    spread = gaps.distribution(waves)
    bars = []
    for domain in SHARED_DOMAINS:
        summary = scoring.summarize([w.gap for w in waves if w.domain == domain]) if domain in spread else None
        figure = release(summary, hidden=audience.hides(summary), min_n=audience.min_n)
        counts = spread.get(domain, gaps.GapDistribution())
        shown = not figure.hidden and counts.n > 0
        bands = [HIDDEN] * 3 if figure.hidden else [counts.lower, counts.within, counts.higher]
        panel.rows.append([domain_label(domain), *figure.cells(), *bands, _flag_rule(counts) if shown else None, figure.note])
        bars.append(tuple(bands) if shown else None)
    if any(bars):
        panel.figure = charts.gap_bands(
            [domain_label(d) for d in SHARED_DOMAINS], bars,
            band_names=(_("Me lower, beyond error"), _("Within error"), _("Me higher, beyond error")),
            title=_("How my gaps spread"), x_title=_("Share of waves"),
        )
    panel.notes = [
        _(
            "A positive gap means you rated the relationship higher than your patient did. Each bar is your "
            "patients' latest visits with both questionnaires. Grey: your view and your patient's "
            "differ by no more than measurement error, or by one answer step at most (such as Agree against "
            "Strongly agree). Blue: you rated the relationship lower than your patient did, beyond that; red: "
            "higher. A mean gap near zero can hide large gaps both ways, so look at both ends."
        ),
        _(
            "From instrument 1.1 each of your items mirrors one of your patient's, and a gap is judged item by item. "
            "Visits answered on instrument 1.0 have no item pairs: they keep the domain rule (instrument 1.0), a "
            "gap of 25 points or more."
        ),
        suppression_note(audience.min_n),
    ]
    return panel


def _flag_rule(counts: gaps.GapDistribution) -> str:
    """Which rule decided a domain's flags: the item pairs (1.1), the domain rule (1.0), or both in a period
    that spans the change of instrument."""
    rules = []
    if counts.by_item_pairs:
        rules.append(_("item pairs, beyond measurement error (instrument 1.1)"))
    if counts.by_domain_rule:
        rules.append(_("domain rule (instrument 1.0)"))
    return "; ".join(rules)


# --- case-mix adjustment ----------------------------------------------------------------------------------


def casemix_fits(practice: Practice, whole: Period, suppression: Suppression, audience: Audience) -> dict:
    """{domain: measurement.casemix.CaseMixFit or None}, each fitted over the dyads of the clinicians whose figure
    for that domain the viewer may see: a hidden clinician's patients take no part in any adjusted figure or
    coefficient, and answers given by fewer dyads than the practice's minimum are pooled with their neighbours
    (docs/privacy.md, docs/measurement.md). One query (queries.casemix_cells), shared by the dashboard and the
    report."""
    by_clinician = queries.clinician_domain_summaries(practice, whole)
    rows = queries.casemix_cells(practice, whole)
    if not rows:
        return dict.fromkeys(SHARED_DOMAINS)
    width = len(casemix.COVARIATES)
    table = casemix.cell_table([row[0] for row in rows], [row[1 : 1 + width] for row in rows])
    fits = {}
    for i, domain in enumerate(SHARED_DOMAINS):
        # Each domain's n, sum and sum of squares: three columns per domain, after the answers.
        n, total, total_sq = (1 + width + 3 * i + j for j in range(3))
        shown = {
            pk: not suppression.hider(pk, audience)(domain, _n(by_clinician.get((pk, domain)))) for pk in table.clinicians
        }
        counts = [row[n] if shown[row[0]] else 0 for row in rows]
        fits[domain] = casemix.fit(
            table, counts, [row[total] for row in rows], [row[total_sq] for row in rows], min_level_n=audience.min_n
        )
    return fits


def casemix_note() -> str:
    """What an adjusted mean is, in a sentence (dashboard and report)."""
    return _(
        "Adjusted means estimate each clinician's mean as if they had seen the practice's usual mix of patients "
        "(age, education, general and mental health, and how long they have seen this clinician, from the optional "
        "questions at the end of the form). Older and healthier patients tend to rate care higher, so a clinician "
        "whose patients are younger or less well can look worse than they are; the adjusted mean takes that out."
    )


def casemix_rule_note(min_dyads: int = casemix.MIN_CASEMIX_DYADS) -> str:
    return _(
        "Adjusted means are shown once at least %(n)s patients of the clinicians shown have answered at least one "
        "of the optional questions, and only for clinicians whose own figure is shown."
    ) % {"n": min_dyads}


def casemix_panel(practice: Practice, period: Period, audience: Audience, clinicians: list) -> Panel:
    """Each clinician's raw mean beside their case-mix-adjusted mean, per domain (docs/measurement.md).

    Only clinicians whose figure the page shows get an adjusted mean; with a clinician filter, that clinician's
    rows, adjusted over the whole practice's case mix."""
    panel = Panel(
        "casemix",
        _("Adjusted for case mix"),
        [_("Clinician"), _("Domain"), _("n"), _("Mean"), _("Adjusted mean"), _("Adjusted 95% CI low"),
         _("Adjusted 95% CI high"), _("Note")],
    )
    whole = Period(period.start, period.end, version_id=period.version_id)
    by_clinician = queries.clinician_domain_summaries(practice, whole)
    by_domain, _by_month = decide(practice, whole, audience)
    fits = casemix_fits(practice, whole, by_domain, audience)
    names = {c.pk: c.get_full_name() or c.username for c in clinicians}
    if period.clinician_id:
        names = {pk: name for pk, name in names.items() if pk == period.clinician_id}
    for pk, name in names.items():
        hidden = by_domain.hider(pk, audience)
        for domain in SHARED_DOMAINS:
            summary = by_clinician.get((pk, domain))
            figure = release(summary, hidden=hidden(domain, _n(summary)), min_n=audience.min_n)
            fit = fits[domain]
            adjusted = fit.clinicians.get(pk) if fit is not None and fit.enough and figure.shown else None
            estimate = adjusted.adjusted if adjusted is not None else None
            if figure.hidden:
                cells = [HIDDEN, HIDDEN, HIDDEN]
            elif estimate is None:
                cells = [None, None, None]
            else:
                cells = [estimate.estimate, estimate.ci_low, estimate.ci_high]
            note = figure.note
            if figure.shown and estimate is None:
                note = "; ".join(filter(None, [note, _("too few answers to the optional questions to adjust")]))
            panel.rows.append([name, domain_label(domain), *figure.cells()[:2], *cells, note])
    panel.notes = [casemix_note(), casemix_rule_note(), suppression_note(audience.min_n)]
    return panel
