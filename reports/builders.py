"""Report content: each clinician's section, the practice figures, and the files (HTML + ZIP of tidy CSVs).

Suppression happens here, as the numbers first become rows: which figures are hidden is decided once per report
from the period's whole per-clinician breakdown (`figures.disclosure`, the dashboard's rule), and every number
becomes a row through `figures.figure.release` before anything is drawn, tabled or stored, so no file (and no
part payload in the database) can hold a hidden figure. Numbers come from `figures.queries`, charts from
`figures.charts`.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from figures import charts, psychometrics, queries
from figures.disclosure import Audience, Suppression, counts_by_key, decide_period, decide_rolling
from figures.figure import CAUTION, NO_RESPONSES, Figure, hidden_note, release
from figures.panels import (
    TrendPoint,
    casemix_fits,
    casemix_note,
    casemix_rule_note,
    compare_by_domain,
    concordance_points,
    concordance_series,
    funnel_explanation,
    funnel_figure,
    trend_explanation,
    trend_figure,
    trend_points,
    window_months,
)
from measurement import casemix, gaps, scoring
from measurement import psychometrics as measures
from measurement.control import ControlPoint
from plumbing import csvfile
from plumbing.period import Period
from surveys import casemix as casemix_labels
from surveys.domains import domain_label
from surveys.models import Respondent

SHARED = scoring.SHARED_DOMAINS
SELF_VIEW = scoring.SHARED_DOMAINS + scoring.COMPETENCY_DOMAINS
BINS = list(range(0, 100, queries.BIN_WIDTH))


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()


# --- what to hide: decided once per report from the whole per-clinician breakdown -----------------------


@dataclass(frozen=True)
class Hiding:
    """Which figures every file of a report hides, one `panels.Suppression` per kind of figure, each decided
    from the period's whole per-clinician breakdown, so that sections, heatmap, practice summary and CSVs
    agree and no figure shown gives a hidden one back by subtraction (docs/measurement.md)."""

    patient: Suppression  # key: domain (patients' view; also the score distribution)
    clinician_view: Suppression  # key: domain (the clinicians' own questionnaires)
    gaps: Suppression  # key: domain (pairs of the same visit)
    trend: Suppression  # key: (first day of a rolling quarter's last month, domain) (patients' view)


def decide_hiding(practice, start: dt.date, end: dt.date) -> Hiding:
    whole = Period(start, end)
    audience = Audience(min_n=practice.min_reporting_n)  # a report file is not for platform admins only
    pairs: dict = defaultdict(lambda: defaultdict(int))
    for pair in queries.concordance(practice, whole):
        pairs[pair.domain][pair.clinician_id] += pair.waves
    # The period's figures and its months', for the practice and each clinician, decided together as the
    # dashboard decides them (figures.disclosure.decide_period).
    patient, _monthly = decide_period(
        counts_by_key(queries.clinician_domain_summaries(practice, whole)),
        queries.clinician_monthly_counts(practice, whole),
        audience,
    )
    months, windows, quarters = queries.rolling_counts(practice, whole)
    return Hiding(
        patient=patient,
        clinician_view=Suppression.decide(
            counts_by_key(queries.clinician_domain_summaries(practice, whole, Respondent.CLINICIAN)), audience),
        gaps=Suppression.decide({domain: dict(c) for domain, c in pairs.items()}, audience),
        trend=decide_rolling(months, windows, quarters, audience),
    )


def hider(suppression: Suppression, clinician, min_n: int) -> Callable[[object, int], bool]:
    """(key, n) -> hidden? for the practice's figures (clinician None) or one clinician's."""
    return suppression.hider(clinician.pk if clinician else None, Audience(min_n=min_n))


# --- rows: the one place numbers become shareable ------------------------------------------------------


def summary_fields(summary: scoring.Summary | None, *, hidden: bool, min_n: int) -> dict:
    """n, mean, sd and interval of one figure, or the reason it is not shown (`figures.figure.release`)."""
    figure = release(summary, hidden=hidden, min_n=min_n)
    return {"n": figure.n, "mean": figure.mean, "sd": figure.sd, "ci_low": figure.ci_low, "ci_high": figure.ci_high,
            "few_responses": figure.few, "suppressed": figure.hidden, "note": figure.note}


def _scope(clinician) -> dict:
    if clinician is None:
        return {"scope": "practice", "clinician": ""}
    return {"scope": "clinician", "clinician": clinician.get_username()}


def _n(summary: scoring.Summary | None) -> int:
    return summary.n if summary else 0


def domain_rows(summaries, respondent: str, domains, clinician, min_n: int, suppression: Suppression) -> list[dict]:
    hidden = hider(suppression, clinician, min_n)
    return [
        {**_scope(clinician), "respondent": respondent, "domain": domain,
         **summary_fields(summaries.get(domain), hidden=hidden(domain, _n(summaries.get(domain))), min_n=min_n)}
        for domain in domains
    ]


def trend_rows(summaries, window_ends, clinician, min_n: int, suppression: Suppression) -> list[dict]:
    """The rolling quarters of the trend, each with its control limits (`figures.panels.trend_points`)."""
    points = trend_points(summaries, window_ends, SHARED, hider(suppression, clinician, min_n), min_n)
    rows = []
    for end in window_ends:
        for domain in SHARED:
            point = points[domain][window_ends.index(end)]
            if point is None:
                continue
            limits = point.limits
            rows.append({
                **_scope(clinician), "quarter_ending": end.strftime("%Y-%m"), "months": window_months(end),
                "domain": domain,
                **summary_fields(summaries.get((end, domain)), hidden=point.figure.hidden, min_n=min_n),
                "centre": None if limits is None else point.centre,
                "lower_limit": None if limits is None else limits.lower,
                "upper_limit": None if limits is None else limits.upper,
                "beyond_limits": None if limits is None else limits.called,
            })
    return rows


def distribution_rows(distribution, summaries, clinician, min_n: int, suppression: Suppression) -> list[dict]:
    """Hidden with the domain's patients' figure of the same scope (the same dyads)."""
    is_hidden = hider(suppression, clinician, min_n)
    rows = []
    for domain in SHARED:
        hidden = is_hidden(domain, _n(summaries.get(domain)))
        counts = distribution.get(domain, {})
        for start in BINS:
            rows.append({
                **_scope(clinician), "domain": domain, "bin_start": start,
                "bin_end": 100 if start == BINS[-1] else start + queries.BIN_WIDTH - 1,
                "count": None if hidden else counts.get(start, 0),
                "suppressed": hidden, "note": hidden_note(min_n) if hidden else "",
            })
    return rows


def gap_rows(waves, clinician, min_n: int, suppression: Suppression) -> list[dict]:
    """Clinician-minus-patient gap per shared domain over each dyad's latest wave (`queries.judged_latest_waves`):
    the mean with its interval, the contract's count of |gap| >= 25 (`flagged`), and how the waves spread, each
    judged by its own rule: item pairs beyond measurement error from 1.1, the domain rule for 1.0."""
    hidden = hider(suppression, clinician, min_n)
    spread = gaps.distribution(waves)
    rows = []
    for domain in SHARED:
        values = [w.gap for w in waves if w.domain == domain]
        fields = summary_fields(scoring.summarize(values), hidden=hidden(domain, len(values)), min_n=min_n)
        counts = spread.get(domain, gaps.GapDistribution())
        withheld = fields["suppressed"]
        rows.append({
            **_scope(clinician), "domain": domain, "pairs": fields.pop("n"), "mean_gap": fields.pop("mean"),
            **fields, "flagged": None if withheld else sum(1 for g in values if scoring.gap_flagged(g)),
            "lower_beyond_error": None if withheld else counts.lower,
            "within_error": None if withheld else counts.within,
            "higher_beyond_error": None if withheld else counts.higher,
            "judged_by_item_pairs": None if withheld else counts.by_item_pairs,
        })
    return rows


def funnel_row(funnel: dict, clinician, median_minutes: float | None = None) -> dict:
    sent = funnel["sent"]
    return {**_scope(clinician), "sent": sent, "opened": funnel["opened"], "completed": funnel["completed"],
            "completion_rate": funnel["completed"] / sent if sent else None, "median_minutes": median_minutes}


def psychometrics_tables(practice, period: Period) -> list[psychometrics.DomainTable]:
    """The methods section's psychometrics (figures.psychometrics, the platform admins' page's table): per
    domain, questionnaire version and language, released only over at least 30 complete responses and the
    practice's minimum n, since managers read reports (docs/privacy.md). Item wordings in
    the language being rendered."""
    groups = psychometrics.psychometrics(practice, period)
    return psychometrics.tables(groups, psychometrics.release_threshold(practice.min_reporting_n),
                                translation.get_language() or settings.LANGUAGE_CODE, complementary=True)


def _version_fields(table: psychometrics.DomainTable) -> dict:
    return {"respondent": table.respondent, "instrument": table.instrument, "version": table.version,
            "language": table.language, "domain": table.domain}


def reliability_rows(tables: list[psychometrics.DomainTable], threshold: int) -> list[dict]:
    """One row per domain, version and language: alpha with its interval and omega, or why they are empty."""
    rows = []
    for t in tables:
        if not t.shown:
            note = f"shown from {threshold} complete responses"
        elif t.alpha is None:
            note = "not defined: no variation in the answers"
        elif t.omega is None:
            note = f"omega needs {measures.OMEGA_MIN_ITEMS} items and answers that vary"
        else:
            note = ""
        rows.append({**_version_fields(t), "items": t.item_count, "responses": t.responses,
                     "complete_responses": t.complete, "alpha": t.alpha, "alpha_low": t.alpha_low,
                     "alpha_high": t.alpha_high, "omega": t.omega, "ceiling_percent": t.ceiling_percent,
                     "ceiling_flagged": t.ceiling_flagged if t.shown else None, "note": note})
    return rows


def item_rows(tables: list[psychometrics.DomainTable]) -> list[dict]:
    """One row per item of each released domain table (none for a domain below the threshold)."""
    return [
        {**_version_fields(t), "item": item.code, "item_total": item.item_total, "floor_percent": item.floor_percent,
         "top_box_percent": item.ceiling_percent, "top_box_flagged": item.ceiling_flagged,
         "not_applicable_percent": item.not_applicable_percent, "missing_percent": item.missing_percent}
        for t in tables
        for item in t.items
    ]


# --- figures and tables for the HTML ----------------------------------------------------------------


def fmt(value, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = round(value, digits) + 0.0  # no "-0.0" for a rounding error below zero
        # In the active language's decimal mark (a decimal comma in Spanish), as the template's floatformat
        # writes the report's other numbers, so one file never mixes "72.5" and "0,85".
        text = formats.number_format(value, decimal_pos=digits, use_l10n=True)
        return "+" + text if sign and value >= 0 else text
    return str(value)


def _table_row(label: str, row: dict) -> dict:
    """A domain row as the HTML table shows it: the figure, or the reason in its place."""
    if row["suppressed"]:
        return {"label": label, "hidden": True, "note": row["note"]}
    interval = "—" if row["ci_low"] is None else f"{fmt(row['ci_low'])} – {fmt(row['ci_high'])}"
    return {"label": label, "hidden": False, "n": fmt(row["n"]), "mean": fmt(row["mean"]), "interval": interval,
            "sd": fmt(row["sd"]), "note": row["note"]}


def _series(name: str, rows: list[dict], colour: str | None = None) -> dict:
    shown = [None if r["suppressed"] else r for r in rows]
    series = {
        "name": name,
        "means": [r and r["mean"] for r in shown],
        "low": [r and r["ci_low"] for r in shown],
        "high": [r and r["ci_high"] for r in shown],
        "n": [r and r["n"] for r in shown],
    }
    if colour:
        series["colour"] = colour
    return series


def _figure(fig, div_id: str) -> str:
    return charts.figure_html(fig, div_id)


def _trend_figure(trend: list[dict], title: str, div_id: str) -> str | None:
    """The control chart of the trend's rows, drawn from the rows themselves (what the files hold)."""
    ends = sorted({r["quarter_ending"] for r in trend})
    if all(r["suppressed"] for r in trend):
        return None  # the section says instead that there is no trend to show
    window_ends = [dt.date.fromisoformat(e + "-01") for e in ends]
    by_key = {(r["quarter_ending"], r["domain"]): r for r in trend}
    points = {}
    for domain in SHARED:
        points[domain] = []
        for end, date in zip(ends, window_ends):
            row = by_key.get((end, domain))
            if row is None:
                points[domain].append(None)
                continue
            figure = release(None, hidden=True, min_n=0) if row["suppressed"] else Figure(
                n=row["n"], mean=row["mean"], sd=row["sd"], ci_low=row["ci_low"], ci_high=row["ci_high"])
            limits = None if row["lower_limit"] is None else ControlPoint(
                row["lower_limit"], row["upper_limit"], bool(row["beyond_limits"]))
            points[domain].append(TrendPoint(date, domain, figure, row["centre"], limits))
    figure = trend_figure(window_ends, points, title=title, labels={d: domain_label(d) for d in SHARED},
                          y_title=_("Mean score (0–100)"), marked_text=_("hidden: too few dyads"),
                          called_text=_("beyond the limits"))
    return None if figure is None else _figure(figure, div_id)


def _gaps_figure(rows: list[dict], title: str, div_id: str) -> str | None:
    """How the waves' gaps spread per domain (lower beyond error, within, higher): a mean near zero can hide
    large gaps both ways, so the report draws the spread and tables the mean."""
    counts = [None if r["suppressed"] or not r["pairs"] else
              (r["lower_beyond_error"], r["within_error"], r["higher_beyond_error"]) for r in rows]
    if all(c is None for c in counts):
        return None
    return _figure(
        charts.gap_bands([domain_label(r["domain"]) for r in rows], counts, title=title,
                         band_names=tuple(str(name) for name in GAP_BAND_NAMES), x_title=_("Share of waves")),
        div_id,
    )


GAP_BAND_NAMES = (gettext_lazy("Clinician lower, beyond error"), gettext_lazy("Within error"),
                  gettext_lazy("Clinician higher, beyond error"))
ITEM_PAIR_RULE = gettext_lazy("item pairs, beyond measurement error (instrument 1.1)")
DOMAIN_RULE = gettext_lazy("domain rule (instrument 1.0)")


def _gap_table(rows: list[dict]) -> list[dict]:
    table = []
    for r in rows:
        if r["suppressed"]:
            table.append({"label": domain_label(r["domain"]), "hidden": True, "note": r["note"]})
            continue
        interval = "—" if r["ci_low"] is None else f"{fmt(r['ci_low'])} – {fmt(r['ci_high'])}"
        by_pairs = r["judged_by_item_pairs"]
        rule = "; ".join(
            ([str(ITEM_PAIR_RULE)] if by_pairs else [])
            + ([str(DOMAIN_RULE)] if r["pairs"] and by_pairs < r["pairs"] else [])
        )
        table.append({"label": domain_label(r["domain"]), "hidden": False, "n": fmt(r["pairs"]),
                      "mean": fmt(r["mean_gap"], sign=True), "interval": interval,
                      "lower": fmt(r["lower_beyond_error"]), "within": fmt(r["within_error"]),
                      "higher": fmt(r["higher_beyond_error"]), "rule": rule, "note": r["note"]})
    return table


# --- a clinician's section (one task per clinician) ------------------------------------------------


def clinician_part(report, clinician) -> dict:
    """One clinician's rows and HTML section: what the part task stores for the report to gather."""
    practice, min_n = report.practice, report.practice.min_reporting_n
    own = Period(report.start, report.end, clinician_id=clinician.pk)
    whole = Period(report.start, report.end)
    # The complementary rule in clinician reports too: managers can open every clinician report of their
    # practice, so a figure shown there could be subtracted from the practice report's.
    hiding = decide_hiding(practice, report.start, report.end)
    patient = queries.domain_summaries(practice, own)
    rows = {
        "domains": domain_rows(patient, Respondent.PATIENT, SHARED, clinician, min_n, hiding.patient)
        + domain_rows(queries.domain_summaries(practice, own, Respondent.CLINICIAN), Respondent.CLINICIAN,
                      SELF_VIEW, clinician, min_n, hiding.clinician_view),
        "trend": trend_rows(queries.rolling_summaries(practice, own), queries.rolling_moments(practice, own).window_ends,
                            clinician, min_n, hiding.trend),
        "distribution": distribution_rows(queries.score_distribution(practice, own), patient, clinician, min_n,
                                          hiding.patient),
        "gaps": gap_rows(queries.judged_latest_waves(practice, own), clinician, min_n, hiding.gaps),
        "funnel": [funnel_row(queries.invitation_funnel(practice, own), clinician)],
    }
    name = display_name(clinician)
    practice_rows = domain_rows(queries.domain_summaries(practice, whole), Respondent.PATIENT, SHARED, None, min_n,
                                hiding.patient)
    patient_rows = [r for r in rows["domains"] if r["respondent"] == Respondent.PATIENT]
    self_rows = [r for r in rows["domains"] if r["respondent"] == Respondent.CLINICIAN]
    prefix = f"c{clinician.pk}"
    means = charts.means_with_intervals(
        [_series(name, patient_rows, charts.PALETTE[0]), _series(_("Practice"), practice_rows, charts.PALETTE[7])],
        [domain_label(d) for d in SHARED],
        title=_("Patients' view: %(name)s beside the practice") % {"name": name},
        y_title=_("Score (0–100)"),
    )
    context = {
        "clinician": name,
        "anchor": prefix,
        "patient_table": [_table_row(domain_label(r["domain"]), r) for r in patient_rows],
        "self_table": [_table_row(domain_label(r["domain"]), r) for r in self_rows],
        "gap_table": _gap_table(rows["gaps"]),
        "funnel": rows["funnel"][0],
        "means_figure": _figure(means, f"{prefix}-means"),
        "trend_figure": _trend_figure(
            rows["trend"], _("%(name)s: trend in rolling quarters (patients' view)") % {"name": name}, f"{prefix}-trend"
        ),
        "trend_note": trend_explanation(),
        "gaps_figure": _gaps_figure(rows["gaps"], _("%(name)s: own view against the patients'") % {"name": name},
                                    f"{prefix}-gaps"),
        "min_n": min_n,
        "suppressed_note": hidden_note(min_n),
    }
    html = render_to_string("reports/_clinician_section.html", context)
    return {
        "clinician": {"id": clinician.pk, "username": clinician.get_username(), "name": name},
        "rows": rows,
        "html": html,
    }


# --- the practice-level figures, gathered with the sections ----------------------------------------


def practice_content(report, parts: list[dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    """The practice-level sections (HTML) and rows; a clinician report gets only the practice's domain means
    for comparison, never another clinician's figures."""
    practice, min_n = report.practice, report.practice.min_reporting_n
    whole = Period(report.start, report.end)
    hiding = decide_hiding(practice, report.start, report.end)
    patient = queries.domain_summaries(practice, whole)
    rows: dict[str, list[dict]] = {
        "domains": domain_rows(patient, Respondent.PATIENT, SHARED, None, min_n, hiding.patient),
        "trend": [], "distribution": [], "gaps": [], "funnel": [],
    }
    tables = psychometrics_tables(practice, whole)
    rows["psychometrics"] = tables  # the HTML's table; the two CSVs below hold the same figures
    rows["reliability"] = reliability_rows(tables, psychometrics.release_threshold(min_n))
    rows["items"] = item_rows(tables)
    if report.kind == report.Kind.CLINICIAN:
        return [], rows

    self_view = queries.domain_summaries(practice, whole, Respondent.CLINICIAN)
    rows["domains"] += domain_rows(self_view, Respondent.CLINICIAN, SELF_VIEW, None, min_n, hiding.clinician_view)
    rows["trend"] = trend_rows(queries.rolling_summaries(practice, whole),
                               queries.rolling_moments(practice, whole).window_ends, None, min_n, hiding.trend)
    distribution = queries.score_distribution(practice, whole)
    rows["distribution"] = distribution_rows(distribution, patient, None, min_n, hiding.patient)
    pairs = queries.concordance(practice, whole)
    rows["gaps"] = gap_rows(queries.judged_latest_waves(practice, whole), None, min_n, hiding.gaps)
    pairs = [p for p in pairs if not hiding.gaps.hides(p.domain, None)]  # the scatter's dots too
    funnel = queries.invitation_funnel(practice, whole)
    rows["funnel"] = [funnel_row(funnel, None, queries.median_minutes_to_complete(practice, whole))]

    patient_rows = rows["domains"][: len(SHARED)]
    clinician_view = [r for r in rows["domains"] if r["respondent"] == Respondent.CLINICIAN and r["domain"] in SHARED]
    labels = [domain_label(d) for d in SHARED]
    sections = []

    sections.append({
        "anchor": "domains", "title": _("Domain scores"),
        "figures": [_figure(charts.means_with_intervals(
            [_series(_("Patients"), patient_rows, charts.RESPONDENT_COLOURS["patient"]),
             _series(_("Clinicians' view"), clinician_view, charts.RESPONDENT_COLOURS["clinician"])],
            labels, title=_("Domain means with 95% intervals"), y_title=_("Score (0–100)")), "p-means")],
        "table": [_table_row(domain_label(r["domain"]), r) for r in patient_rows],
        "notes": [_("The table is the patients' view: each dyad's most recent patient questionnaire in the period. "
                    "The clinicians' view is each dyad's most recent clinician questionnaire. "
                    "Hollow markers: fewer than 30 dyads.")],
    })

    names = [p["clinician"]["name"] for p in parts]
    compared = compare_by_domain(queries.clinician_domain_summaries(practice, whole))
    funnels = {d: {"label": domain_label(d), "compared": compared[d], "points": []} for d in SHARED}
    matrix, greyed, heat_table = [], [], []
    for part in parts:
        by_domain = {r["domain"]: r for r in part["rows"]["domains"] if r["respondent"] == Respondent.PATIENT}
        matrix.append([None if by_domain[d]["suppressed"] else by_domain[d]["mean"] for d in SHARED])
        reliable = {}
        for d in SHARED:
            comparison = compared[d].clinicians.get(part["clinician"]["id"])
            reliable[d] = comparison is not None and comparison.reliable
            if comparison is not None and not by_domain[d]["suppressed"] and by_domain[d]["mean"] is not None:
                funnels[d]["points"].append({"name": part["clinician"]["name"], "n": by_domain[d]["n"],
                                             "mean": by_domain[d]["mean"], "reliable": reliable[d]})
        greyed.append([not reliable[d] and not by_domain[d]["suppressed"] for d in SHARED])
        heat_table.append({
            "name": part["clinician"]["name"],
            "cells": [{"hidden": by_domain[d]["suppressed"], "mean": fmt(by_domain[d]["mean"]),
                       "n": fmt(by_domain[d]["n"]), "few": bool(by_domain[d]["few_responses"])} for d in SHARED],
        })
    if parts:
        sections.append({
            "anchor": "clinicians", "title": _("Clinicians by domain"),
            "figures": [_figure(charts.heatmap(names, labels, matrix, title=_("Mean score by clinician and domain"),
                                               hidden_text=_("hidden"), colorbar_title=_("Mean (0–100)"),
                                               uncoloured=greyed,
                                               uncoloured_text=_("not reliable enough to compare clinicians")),
                                "p-heatmap")],
            "heatmap": {"labels": labels, "rows": heat_table},
            "notes": [_("“hidden”: %(hidden)s. Cells marked * have fewer than 30 dyads: %(caution)s. "
                        "Means in grey are not reliable enough to compare clinicians (below 0.70), so they get no "
                        "ranking colour.") % {"hidden": hidden_note(min_n), "caution": CAUTION}],
        })
        funnel_plot = funnel_figure(list(funnels.values()), title=_("Clinicians compared: a funnel plot"))
        if funnel_plot is not None:
            sections.append({
                "anchor": "funnel-plot", "title": _("Clinicians compared"),
                "figures": [_figure(funnel_plot, "p-funnel-plot")],
                "notes": [funnel_explanation()],
            })

    trend = _trend_figure(rows["trend"], _("Trend by domain: rolling quarters (patients' view)"), "p-trend")
    sections.append({
        "anchor": "trend", "title": _("Trend"),
        "figures": [trend] if trend else [],
        "notes": [trend_explanation()] + ([] if trend else [NO_RESPONSES]),
    })

    counts = {(r["domain"], r["bin_start"]): r["count"] for r in rows["distribution"]}
    shown_domains = [d for d in SHARED if counts[(d, BINS[0])] is not None]
    if any(distribution.get(d) for d in shown_domains):
        sections.append({
            "anchor": "distribution", "title": _("Distribution of scores"),
            "figures": [_figure(charts.distribution(
                BINS,
                [{"name": domain_label(d), "counts": [counts[(d, b)] for b in BINS], "colour": charts.DOMAIN_COLOURS[d]}
                 for d in shown_domains],
                title=_("Patients' scores in bands of 10 points"), x_title=_("Score (0–100)"), y_title=_("Dyads")),
                "p-distribution")],
            "notes": [] if len(shown_domains) == len(SHARED) else [_("Domains left out: %(hidden)s.") % {"hidden": hidden_note(min_n)}],
        })

    figures = []
    if pairs:
        figures.append(_figure(charts.concordance(
            concordance_series(concordance_points(pairs)),
            title=_("Patient and clinician views of the same visit"), x_title=_("Patient's score"),
            y_title=_("Clinician's score")), "p-concordance"))
    gaps_figure = _gaps_figure(rows["gaps"], _("How the gaps spread (clinician minus patient)"), "p-gaps")
    if gaps_figure:
        figures.append(gaps_figure)
    sections.append({
        "anchor": "gaps", "title": _("Patient and clinician views"),
        "figures": figures, "gap_table": _gap_table(rows["gaps"]),
        "notes": [
            _("The bars show how the waves spread: the clinician's view lower than the patient's beyond measurement "
              "error, within it, or higher. From instrument 1.1 a wave is judged item by item and flagged only beyond "
              "measurement error and beyond one answer step; waves on instrument 1.0 keep the domain rule "
              "(|gap| ≥ %(threshold)s). In the scatter, the dotted lines mark the 1.0 rule's band.")
            % {"threshold": f"{scoring.GAP_FLAG_THRESHOLD:.0f}"}
        ],
    })

    funnel_figures = []
    if funnel["sent"]:
        funnel_figures.append(_figure(charts.funnel([_("Sent"), _("Opened"), _("Completed")],
                                                    [funnel["sent"], funnel["opened"], funnel["completed"]],
                                                    title=_("Patient invitations created in the period")), "p-funnel"))
    sections.append({
        "anchor": "invitations", "title": _("Invitations and responses"),
        "figures": funnel_figures, "funnel": rows["funnel"][0],
        "notes": [],
    })
    casemix_section, casemix_rows = casemix_content(practice, whole, hiding, parts)
    sections += [casemix_section] if casemix_section else []
    rows.update(casemix_rows)
    return sections, rows


# --- the files ------------------------------------------------------------------------------------------

CSV_COLUMNS = {
    "domains.csv": ["scope", "clinician", "respondent", "domain", "n", "mean", "sd", "ci_low", "ci_high",
                    "few_responses", "suppressed", "note"],
    "trend.csv": ["scope", "clinician", "quarter_ending", "months", "domain", "n", "mean", "sd", "ci_low", "ci_high",
                  "centre", "lower_limit", "upper_limit", "beyond_limits", "few_responses", "suppressed", "note"],
    "distribution.csv": ["scope", "clinician", "domain", "bin_start", "bin_end", "count", "suppressed", "note"],
    "gaps.csv": ["scope", "clinician", "domain", "pairs", "mean_gap", "sd", "ci_low", "ci_high", "flagged",
                 "lower_beyond_error", "within_error", "higher_beyond_error", "judged_by_item_pairs",
                 "few_responses", "suppressed", "note"],
    "funnel.csv": ["scope", "clinician", "sent", "opened", "completed", "completion_rate", "median_minutes"],
    "reliability.csv": ["respondent", "instrument", "version", "language", "domain", "items", "responses",
                        "complete_responses", "alpha", "alpha_low", "alpha_high", "omega", "ceiling_percent",
                        "ceiling_flagged", "note"],
    "items.csv": ["respondent", "instrument", "version", "language", "domain", "item", "item_total",
                  "floor_percent", "top_box_percent", "top_box_flagged", "not_applicable_percent", "missing_percent"],
}

_COMMON = {
    "scope": ("whose figure: the whole practice, or one clinician", "practice | clinician"),
    "clinician": ("the clinician's username; empty for practice figures", "text"),
    "domain": ("the domain of the Healing Relationships model (docs/measurement.md)",
               "valuing | power | abiding | trust | hope | known | self_confidence | emotional_self_management | "
               "mindfulness | knowledge"),
    "n": ("dyads counted: each dyad's most recent questionnaire in the period with this domain scored", "count"),
    "mean": ("mean domain score", "score 0–100"),
    "sd": ("standard deviation (n − 1); empty when n < 2", "score points"),
    "ci_low": ("lower end of the 95% confidence interval, mean − t(0.975, n−1)·sd/√n; empty when n < 2",
               "score 0–100"),
    "ci_high": ("upper end of the 95% confidence interval; empty when n < 2", "score 0–100"),
    "few_responses": (f"n below {scoring.CAUTION_N}: {CAUTION}", "1 (yes) | 0 (no)"),
    "suppressed": ("a clinician-level figure from fewer dyads than the practice's minimum, or a figure (a "
                   "clinician's or the practice's) that would give one back by subtraction: its numbers are "
                   "left empty", "1 (yes) | 0 (no)"),
    "note": ("why a figure is empty or needs care", "text"),
}
_PSYCHOMETRIC = {
    "respondent": ("whose questionnaire", "patient | clinician"),
    "instrument": ("instrument slug", "text"),
    "version": ("instrument version", "text"),
    "language": ("the language the questionnaire was answered in", "en | es"),
    "domain": _COMMON["domain"],
}
CODEBOOK = {
    "domains.csv": {
        **{k: _COMMON[k] for k in CSV_COLUMNS["domains.csv"] if k in _COMMON},
        "respondent": ("whose questionnaire: the patient's, or the clinician's view of the same dyad",
                       "patient | clinician"),
    },
    "trend.csv": {
        **{k: _COMMON[k] for k in CSV_COLUMNS["trend.csv"] if k in _COMMON},
        "quarter_ending": ("the last month of a rolling quarter: the three months ending that month; each dyad "
                           "counts once in it (its latest patient questionnaire of the three months)", "YYYY-MM"),
        "months": ("the rolling quarter's three months", "YYYY-MM – YYYY-MM"),
        "n": ("dyads counted in the rolling quarter", "count"),
        "centre": ("the control chart's centre line: the mean of the rolling quarters shown for this domain and "
                   "scope, each weighted by its n", "score 0–100"),
        "lower_limit": ("centre − 3·s/√n, s the pooled within-quarter standard deviation of the quarters shown "
                        "(an X-bar chart; docs/measurement.md); empty with fewer than 2 quarters shown",
                        "score 0–100"),
        "upper_limit": ("centre + 3·s/√n", "score 0–100"),
        "beyond_limits": ("the mean is outside its limits: a change worth a look; inside, the quarters differ by "
                          "chance", "True | False"),
    },
    "distribution.csv": {
        **{k: _COMMON[k] for k in CSV_COLUMNS["distribution.csv"] if k in _COMMON},
        "bin_start": ("lowest score in the band", "score 0–100"),
        "bin_end": ("highest score in the band (the last band includes 100)", "score 0–100"),
        "count": ("dyads whose latest patient score falls in the band", "count"),
    },
    "gaps.csv": {
        **{k: _COMMON[k] for k in CSV_COLUMNS["gaps.csv"] if k in _COMMON},
        "pairs": ("dyads whose latest patient questionnaire has the clinician's for the same visit", "count"),
        "mean_gap": ("mean of clinician score − patient score for the same visit", "score points, −100 to 100"),
        "sd": ("standard deviation of the gaps (n − 1)", "score points"),
        "ci_low": ("lower end of the 95% interval of the mean gap", "score points"),
        "ci_high": ("upper end of the 95% interval of the mean gap", "score points"),
        "flagged": (f"pairs with |gap| ≥ {scoring.GAP_FLAG_THRESHOLD:.0f}: the domain rule (instrument 1.0), "
                    "counted over every wave for comparison", "count"),
        "lower_beyond_error": ("pairs where the clinician's view is lower than the patient's beyond measurement "
                               "error and one answer step (item pairs, instrument 1.1), or by 25 or more (domain "
                               "rule, instrument 1.0)", "count"),
        "within_error": ("pairs not flagged by their rule", "count"),
        "higher_beyond_error": ("pairs where the clinician's view is higher, by the same rules", "count"),
        "judged_by_item_pairs": ("pairs judged item by item (instrument 1.1); the rest by the domain rule",
                                 "count"),
    },
    "funnel.csv": {
        "scope": _COMMON["scope"],
        "clinician": _COMMON["clinician"],
        "sent": ("patient invitations created in the period", "count"),
        "opened": ("of those, opened at least once (or answered)", "count"),
        "completed": ("of those, answered", "count"),
        "completion_rate": ("completed / sent; empty when none were sent", "proportion 0–1"),
        "median_minutes": ("median time from opening the questionnaire to sending it (practice only)", "minutes"),
    },
    "reliability.csv": {
        **_PSYCHOMETRIC,
        "items": ("items in the domain", "count"),
        "responses": ("dyads' latest responses in the period in this questionnaire version and language", "count"),
        "complete_responses": ("of those, the responses that answered every item of the domain", "count"),
        "alpha": ("Cronbach's alpha over complete responses; empty below the threshold in the note", "−∞ to 1"),
        "alpha_low": ("lower end of alpha's 95% interval (Feldt 1965)", "−∞ to 1"),
        "alpha_high": ("upper end of alpha's 95% interval (Feldt 1965)", "−∞ to 1"),
        "omega": ("McDonald's omega total from a one-factor maximum-likelihood model; empty for two items",
                  "0 to 1"),
        "ceiling_percent": ("domain scores of exactly 100, of the responses with the domain scored",
                            "percent 0–100"),
        "ceiling_flagged": ("domain scores at 100 above 15%: little room to show improvement", "1 (yes) | 0 (no)"),
        "note": _COMMON["note"],
    },
    "items.csv": {
        **_PSYCHOMETRIC,
        "item": ("item code (stable across versions when the meaning is unchanged)", "text"),
        "item_total": ("correlation of the item with the sum of the domain's other items, over complete responses",
                       "−1 to 1"),
        "floor_percent": ("answers at the least favourable end of the scale (reverse-worded items turned round), "
                          "of the item's scored answers", "percent 0–100"),
        "top_box_percent": ("answers at the most favourable end of the scale (the top box), of the item's scored "
                            "answers", "percent 0–100"),
        "top_box_flagged": ("top box above 15%: little room to show improvement", "1 (yes) | 0 (no)"),
        "not_applicable_percent": ("responses that answered “does not apply”, of all responses", "percent 0–100"),
        "missing_percent": ("responses that left the item unanswered, of all responses", "percent 0–100"),
    },
}


def codebook_rows() -> list[dict]:
    rows = []
    for file, columns in CSV_COLUMNS.items():
        for column in columns:
            meaning, unit = CODEBOOK[file][column]
            rows.append({"file": file, "column": column, "meaning": meaning, "unit_or_values": unit})
    return rows


def csv_files(practice_rows: dict[str, list[dict]], parts: list[dict]) -> dict[str, str]:
    files = {}
    for name, columns in CSV_COLUMNS.items():
        key = name.removesuffix(".csv")
        rows = list(practice_rows.get(key, []))
        for part in parts:
            rows += part["rows"].get(key, [])
        files[name] = csvfile.text(columns, rows, bom=True)  # for spreadsheets: UTF-8 with a byte order mark
    files["codebook.csv"] = csvfile.text(["file", "column", "meaning", "unit_or_values"], codebook_rows(), bom=True)
    return files


def report_css() -> str:
    path = finders.find("css/report.css")
    return Path(path).read_text(encoding="utf-8") if path else ""


def summary(report, practice_rows: dict, parts: list[dict]) -> dict:
    """The first page: the patients' view of whom the report is about, the invitations behind it, and how many
    clinician figures the disclosure rule left out, before any chart."""
    if report.kind == report.Kind.CLINICIAN:
        rows, funnel = parts[0]["rows"]["domains"] if parts else [], parts[0]["rows"]["funnel"][0] if parts else None
    else:
        rows, funnel = practice_rows["domains"], (practice_rows["funnel"] or [None])[0]
    patient_rows = [r for r in rows if r["respondent"] == Respondent.PATIENT]
    clinician_figures = [r for part in parts for r in part["rows"]["domains"] if r["respondent"] == Respondent.PATIENT]
    return {
        "table": [_table_row(domain_label(r["domain"]), r) for r in patient_rows],
        "dyads": max((r["n"] or 0 for r in patient_rows if not r["suppressed"]), default=0),
        "funnel": funnel,
        "hidden": sum(1 for r in clinician_figures if r["suppressed"]),
        "clinician_figures": len(clinician_figures),
    }


def report_languages() -> list[str]:
    """The interface languages, the default (English) first: its rendering is the one the CSVs come from."""
    codes = [code for code, _name in settings.LANGUAGES]
    return sorted(codes, key=lambda code: code != settings.LANGUAGE_CODE)


def clinician_part_in_each_language(report, clinician) -> dict:
    """`clinician_part` rendered once per interface language from the same figures (the part task reads inside
    `queries.shared_reads`, so the second rendering reads nothing again): the rows of the default language's
    rendering (the CSVs' notes stay English) and {language: HTML section}."""
    rendered = {}
    for language in report_languages():
        with translation.override(language):
            rendered[language] = clinician_part(report, clinician)
    return {**rendered[settings.LANGUAGE_CODE], "html": {lang: part["html"] for lang, part in rendered.items()}}


def section_html(part: dict) -> str:
    """A part's section in the active language; a part built before reports were bilingual has one, English."""
    html = part["html"]
    if isinstance(html, str):
        return html
    return html.get(translation.get_language(), html[settings.LANGUAGE_CODE])


def render_html(report, sections: list[dict], practice_rows: dict, parts: list[dict]) -> str:
    practice_table = [_table_row(domain_label(r["domain"]), r) for r in practice_rows["domains"]
                      if r["respondent"] == Respondent.PATIENT]
    context = {
        "summary": summary(report, practice_rows, parts),
        "report": report,
        "practice": report.practice,
        "title": title(report),
        "generated_at": timezone.localtime(),
        "sections": sections,
        "practice_table": practice_table,
        "clinician_sections": [section_html(part) for part in parts],
        "psychometrics": practice_rows["psychometrics"],
        "psychometrics_threshold": psychometrics.release_threshold(report.practice.min_reporting_n),
        "min_n": report.practice.min_reporting_n,
        "casemix_methods": practice_rows.get("casemix_methods"),
        "casemix_min": casemix.MIN_CASEMIX_DYADS,
        "caution_n": scoring.CAUTION_N,
        "gap_threshold": f"{scoring.GAP_FLAG_THRESHOLD:.0f}",
        "caution": CAUTION,
        "suppressed_note": hidden_note(report.practice.min_reporting_n),
        "css": report_css(),
        "plotly_js": charts.plotly_js(),
    }
    return render_to_string("reports/report.html", context)


def title(report) -> str:
    if report.kind == report.Kind.CLINICIAN:
        return _("%(practice)s: report for %(clinician)s, %(start)s to %(end)s") % {
            "practice": report.practice.name, "clinician": display_name(report.clinician), "start": report.start,
            "end": report.end}
    return _("%(practice)s: practice report, %(start)s to %(end)s") % {
        "practice": report.practice.name, "start": report.start, "end": report.end}


def file_stem(report) -> str:
    """Deterministic, so a rebuild or a duplicated task replaces the same two files."""
    who = f"-{slugify(report.clinician.get_username()) or report.clinician_id}" if report.clinician_id else ""
    return f"healing-{report.practice.slug}-{report.kind}{who}-{report.start}-to-{report.end}"


def report_dir(report) -> Path:
    return Path(settings.REPORTS_DIR) / report.practice.slug / str(report.pk)


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target under a unique temporary name, then rename over it: readers see the old file or
    the new one, never half of one, and two writers leave one file."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def remove_stale_temp_files(directory: Path, older_than: float) -> None:
    """Temporary files of a build that was killed; a live build cannot be older than the task time limit."""
    cutoff = time.time() - older_than
    for temp in directory.glob(".*.tmp"):
        try:
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
        except FileNotFoundError:
            pass


def zip_bytes(files: dict[str, str], when: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = timezone.localtime(when).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def html_name(stem: str, language: str) -> str:
    """`<stem>.html` in the default language (English), `<stem>.<language>.html` in another."""
    return f"{stem}.html" if language == settings.LANGUAGE_CODE else f"{stem}.{language}.html"


def build_files(report, parts: list[dict]) -> tuple[str, str]:
    """Write the report's HTML in each interface language and the ZIP; returns the paths, relative to
    REPORTS_DIR, of the default language's HTML (its siblings are named by `html_name`) and of the ZIP.

    Each language renders the same figures: the caller reads inside `queries.shared_reads`, so the second
    rendering reads nothing again and the files cannot disagree. The ZIP's CSVs (a data interface: English
    file names, columns and notes) come from the default language's rendering."""
    pages, files = {}, {}
    for language in report_languages():
        with translation.override(language):
            sections, practice_rows = practice_content(report, parts)
            pages[language] = render_html(report, sections, practice_rows, parts)
            if language == settings.LANGUAGE_CODE:
                files = csv_files(practice_rows, parts)
    directory = report_dir(report)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(directory, older_than=settings.CELERY_TASK_TIME_LIMIT)
    stem = file_stem(report)
    for language, html in pages.items():
        write_atomically(directory / html_name(stem, language), html.encode("utf-8"))
    html_path, zip_path = directory / html_name(stem, settings.LANGUAGE_CODE), directory / f"{stem}.zip"
    write_atomically(zip_path, zip_bytes(files, timezone.now()))
    root = Path(settings.REPORTS_DIR)
    return str(html_path.relative_to(root)), str(zip_path.relative_to(root))


# --- case-mix adjustment (a section of the practice report, and its model in the methods) -----------------

CASEMIX_CSV_COLUMNS = {
    "casemix.csv": ["scope", "clinician", "domain", "n", "mean", "adjusted_mean", "adjusted_ci_low",
                    "adjusted_ci_high", "suppressed", "note"],
    "casemix_model.csv": ["domain", "question", "answers", "reference", "n", "estimate", "se", "ci_low", "ci_high",
                          "note"],
}
CSV_COLUMNS.update(CASEMIX_CSV_COLUMNS)
CODEBOOK["casemix.csv"] = {
    **{k: _COMMON[k] for k in ("scope", "clinician", "domain", "n", "mean", "suppressed", "note")},
    "adjusted_mean": ("the clinician's mean adjusted for case mix: the model's prediction for the practice's mix of "
                      "patients (docs/measurement.md); empty when hidden or when too few patients answered the "
                      f"optional questions (fewer than {casemix.MIN_CASEMIX_DYADS})", "score 0–100"),
    "adjusted_ci_low": ("lower end of the adjusted mean's 95% interval (robust HC1 standard error)", "score 0–100"),
    "adjusted_ci_high": ("upper end of the adjusted mean's 95% interval", "score 0–100"),
}
CODEBOOK["casemix_model.csv"] = {
    "domain": _COMMON["domain"],
    "question": ("the optional question: age_band | education | general_health | mental_health | "
                 "time_with_clinician", "text"),
    "answers": ("the answers this coefficient stands for, joined by +; answers given by fewer dyads than the "
                "practice's minimum are pooled with their neighbours, and not_answered is a skipped question", "text"),
    "reference": ("the answers the coefficient is compared with (the most common)", "text"),
    "n": ("dyads in the model who gave these answers", "count"),
    "estimate": ("difference in the domain score from the reference answers, other things equal", "score points"),
    "se": ("robust (HC1) standard error", "score points"),
    "ci_low": ("lower end of the 95% interval", "score points"),
    "ci_high": ("upper end of the 95% interval", "score points"),
    "note": _COMMON["note"],
}


def casemix_content(practice, period: Period, hiding: Hiding, parts: list[dict]) -> tuple[dict | None, dict]:
    """The practice report's case-mix section (each clinician's raw and adjusted mean, for the figures the report
    shows), its rows for casemix.csv and casemix_model.csv, and the model per domain for the methods; fitted over
    the clinicians shown only (figures.panels.casemix_fits, the dashboard's)."""
    min_n = practice.min_reporting_n
    fits = casemix_fits(practice, period, hiding.patient, Audience(min_n=min_n))
    rows, model_rows, table = [], [], []
    for part in parts:
        by_domain = {r["domain"]: r for r in part["rows"]["domains"] if r["respondent"] == Respondent.PATIENT}
        cells = []
        for domain in SHARED:
            raw, fit = by_domain[domain], fits[domain]
            adjusted = None
            if not raw["suppressed"] and raw["mean"] is not None and fit is not None and fit.enough:
                mean = fit.clinicians.get(part["clinician"]["id"])
                adjusted = mean.adjusted if mean is not None else None
            note = raw["note"]
            if adjusted is None and not raw["suppressed"] and raw["mean"] is not None:
                note = "; ".join(filter(None, [note, _("too few answers to the optional questions to adjust")]))
            rows.append({
                "scope": "clinician", "clinician": part["clinician"]["username"], "domain": domain, "n": raw["n"],
                "mean": raw["mean"], "adjusted_mean": adjusted and adjusted.estimate,
                "adjusted_ci_low": adjusted and adjusted.ci_low, "adjusted_ci_high": adjusted and adjusted.ci_high,
                "suppressed": raw["suppressed"], "note": note,
            })
            cells.append({"hidden": raw["suppressed"], "mean": fmt(raw["mean"]),
                          "adjusted": fmt(adjusted and adjusted.estimate),
                          "interval": "—" if adjusted is None else f"{fmt(adjusted.ci_low)} – {fmt(adjusted.ci_high)}"})
        table.append({"name": part["clinician"]["name"], "cells": cells})
    methods = []
    for domain in SHARED:
        fit = fits[domain]
        entry = {"label": domain_label(domain), "shown": fit is not None and fit.enough,
                 "dyads": fit.n if fit else 0, "answered": fit.answered if fit else 0,
                 "r_squared": fmt(fit.r_squared, 3) if fit else "—", "coefficients": []}
        if entry["shown"]:
            for c in fit.coefficients:
                answers = "+".join(c.levels)
                reference = "+".join(c.reference)
                note = "" if c.estimate else _("aliased: the same dyads as another term")
                model_rows.append({
                    "domain": domain, "question": c.covariate, "answers": answers, "reference": reference, "n": c.n,
                    "estimate": c.estimate and c.estimate.estimate, "se": c.estimate and c.estimate.se,
                    "ci_low": c.estimate and c.estimate.ci_low, "ci_high": c.estimate and c.estimate.ci_high,
                    "note": note,
                })
                entry["coefficients"].append({
                    "question": str(casemix_labels.SHORT_NAMES[c.covariate]),
                    "answers": _(" or ").join(casemix_labels.answer_label(c.covariate, level) for level in c.levels),
                    "reference": _(" or ").join(casemix_labels.answer_label(c.covariate, level) for level in c.reference),
                    "n": c.n,
                    "estimate": fmt(c.estimate and c.estimate.estimate, sign=True),
                    "interval": "—" if not c.estimate else f"{fmt(c.estimate.ci_low)} – {fmt(c.estimate.ci_high)}",
                    "note": note,
                })
        methods.append(entry)
    section = None
    if parts:
        section = {
            "anchor": "casemix", "title": _("Adjusted for case mix"),
            "casemix": {"labels": [domain_label(d) for d in SHARED], "rows": table},
            "notes": [casemix_note(), casemix_rule_note(), _("The model and its coefficients are in the methods.")],
        }
    return section, {"casemix": rows, "casemix_model": model_rows, "casemix_methods": methods}
