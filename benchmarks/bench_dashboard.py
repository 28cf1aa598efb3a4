"""bench dashboard: everything the practice dashboard computes, for a practice with 20,000 visits.

Ours: `practice_tiles` + `practice_panels` inside `queries.shared_reads()`, as the view runs them, for the
page's default period (the latest closed quarter: docs/privacy.md), timed twice: with the Plotly figures built
(the page's real cost)
and with the chart builders stubbed out (the data path: queries, summaries, tables). The targets (p50 <= 150 ms,
<= 1.5x raw) are checked on the data path; the figures' cost is reported beside it.
Baseline: one hand-written SQL statement returning the same numbers (tiles, funnel, practice, clinician and
the trend's rolling-quarter summaries, distribution, concordance, continuity of care) from the responses and their scores, checked equal to ours before
anything is timed; docs/performance.md ratio is taken against it. Beside it, for a period that runs to today, the
same statement reading the read model our path then reads (the latest flags and paired scores on the score rows,
surveys/latest.py), so the cost of Django and Python over the database is visible too (`ratio_vs_read_model`);
that statement is written for the flags of a period that runs to today, so for the page's default (a closed
quarter) it is left out. The data path and its baselines take turns, run after run, 31 runs each: this shared
machine's speed drifts over seconds, and taking turns lets each ratio compare the same moments.
Before timing, the process loads and freezes what it holds (`plumbing.runtime.load_and_freeze`), as each
gunicorn worker does before it serves.
Also: the number of queries at 2,000 and at 20,000 visits (they must be equal).
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

TARGET_P50_S = 0.150
TARGET_RATIO = 1.5

# The tiles (funnel, responses, median time to complete) read invitations and responses in both statements.
TILES_SQL = """
UNION ALL
SELECT 'funnel', NULL, NULL, NULL, NULL, count(*), count(*) FILTER (WHERE i.opened_at IS NOT NULL OR i.used_at IS NOT NULL),
       count(*) FILTER (WHERE i.used_at IS NOT NULL), NULL, NULL
FROM surveys_invitation i JOIN surveys_visit v ON v.id = i.visit_id
WHERE v.practice_id = %(practice)s AND i.respondent = 'patient' AND i.created_at >= %(start)s AND i.created_at < %(end)s
UNION ALL
SELECT 'responses', NULL, NULL, NULL, NULL, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM submitted_at - started_at))
           FILTER (WHERE started_at IS NOT NULL),
       NULL, NULL, NULL
FROM surveys_response
WHERE practice_id = %(practice)s AND respondent = 'patient' AND submitted_at >= %(start)s AND submitted_at < %(end)s
"""

# The practice, clinician and distribution figures, from a `scores` CTE (clinician_id, domain, score) of each
# dyad's latest patient scores: the same in both statements, which differ in how they find those scores.
SCORES_SQL = """
SELECT 'clinician', clinician_id, domain, NULL::date, NULL::int, count(*), sum(score), sum(score * score), NULL::float8, NULL::float8
FROM scores GROUP BY clinician_id, domain
UNION ALL
SELECT 'domain', NULL, domain, NULL, NULL, count(*), sum(score), sum(score * score), NULL, NULL FROM scores GROUP BY domain
UNION ALL
SELECT 'bin', NULL, domain, NULL, least(floor(score / 10)::int * 10, 90), count(*), NULL, NULL, NULL, NULL
FROM scores GROUP BY 3, 5
UNION ALL
"""

# Continuity of care (measurement.continuity) from visits over the year to the period's last day: the same in
# both statements, since visits have no read model.
CONTINUITY_CTES = """
visit_pairs AS (
    SELECT d.patient_id, d.clinician_id, count(*) AS n
    FROM surveys_visit v JOIN surveys_dyad d ON d.id = v.dyad_id
    WHERE v.practice_id = %(practice)s AND v.date >= %(year_start)s AND v.date <= %(last_day)s
    GROUP BY d.patient_id, d.clinician_id
),
patients AS (
    SELECT patient_id, sum(n) AS total, max(n) AS most, sum(n * n) AS squares
    FROM visit_pairs GROUP BY patient_id HAVING sum(n) >= 2
)
"""
CONTINUITY_SQL = """
UNION ALL
SELECT 'continuity', NULL, NULL, NULL, NULL, count(*), avg(most::float8 / total),
       avg((squares - total)::float8 / (total * (total - 1))), NULL, NULL
FROM patients
UNION ALL
SELECT 'continuity', vp.clinician_id, NULL, NULL, NULL, count(*), avg(p.most::float8 / p.total),
       avg((p.squares - p.total)::float8 / (p.total * (p.total - 1))), avg(vp.n::float8 / p.total), NULL
FROM visit_pairs vp JOIN patients p ON p.patient_id = vp.patient_id
GROUP BY vp.clinician_id
"""

# The trend's rolling quarters: each dyad's latest patient response of each month (over the five calendar quarters
# to the period's end), with its dyad's next month with a response (lead); a month's row counts in the windows
# ending that month and the next two that hold no later month of the dyad.
WINDOW_CTES = """
rs AS (
    SELECT id, dyad_id, submitted_at, date_trunc('month', submitted_at AT TIME ZONE %(tz)s)::date AS month
    FROM surveys_response
    WHERE practice_id = %(practice)s AND respondent = 'patient'
      AND submitted_at >= %(span_start)s AND submitted_at < %(end)s
),
latest_month AS (
    SELECT DISTINCT ON (dyad_id, month) id, dyad_id, month FROM rs ORDER BY dyad_id, month, submitted_at DESC, id DESC
),
month_scores AS (
    SELECT lm.month, s.domain, s.score,
           lead(lm.month) OVER (PARTITION BY lm.dyad_id, s.domain ORDER BY lm.month) AS next_month
    FROM latest_month lm JOIN surveys_domainscore s ON s.response_id = lm.id
),
window_scores AS (
    SELECT w.window_end, ms.domain, ms.score
    FROM month_scores ms
    CROSS JOIN LATERAL (SELECT (ms.month + make_interval(months => k))::date AS window_end
                        FROM generate_series(0, 2) AS k) w
    WHERE ms.score IS NOT NULL AND (ms.next_month IS NULL OR ms.next_month > w.window_end)
      AND w.window_end BETWEEN %(first_end)s AND %(last_end)s
),
"""

RAW_SQL = """
WITH r AS (
    SELECT id, dyad_id, visit_id, submitted_at, started_at
    FROM surveys_response
    WHERE practice_id = %(practice)s AND respondent = 'patient'
      AND submitted_at >= %(start)s AND submitted_at < %(end)s
),
latest AS (
    SELECT DISTINCT ON (dyad_id) id, dyad_id, visit_id FROM r ORDER BY dyad_id, submitted_at DESC, id DESC
),
scores AS (
    SELECT d.clinician_id, s.domain, s.score, l.visit_id
    FROM latest l JOIN surveys_dyad d ON d.id = l.dyad_id JOIN surveys_domainscore s ON s.response_id = l.id
    WHERE s.score IS NOT NULL
),
""" + WINDOW_CTES + CONTINUITY_CTES + """,
pairs AS (
    SELECT p.domain, p.score AS patient, c.score AS clinician, c.paired_band AS band
    FROM scores p
    JOIN surveys_response cr ON cr.visit_id = p.visit_id AND cr.respondent = 'clinician'
    JOIN surveys_domainscore c ON c.response_id = cr.id AND c.domain = p.domain
    WHERE p.domain IN ('valuing', 'power', 'abiding', 'trust', 'hope', 'known') AND c.score IS NOT NULL
)
""" + SCORES_SQL + """
SELECT 'month', NULL, domain, window_end, NULL, count(*), sum(score), sum(score * score), NULL, NULL
FROM window_scores GROUP BY window_end, domain
UNION ALL
SELECT 'concordance', NULL, domain, NULL, NULL, count(*), avg(patient), avg(clinician), avg(clinician - patient),
       count(*) FILTER (WHERE band IN ('lower', 'higher'))
FROM pairs GROUP BY domain
""" + CONTINUITY_SQL + TILES_SQL


# The same numbers from the read model: each dyad's latest rows are flagged, the clinician's score is on the row.
READ_MODEL_SQL = """
WITH scores AS (
    SELECT clinician_id, domain, score, paired_score, paired_band
    FROM surveys_domainscore
    WHERE practice_id = %(practice)s AND respondent = 'patient' AND is_latest
      AND submitted_at >= %(start)s AND submitted_at < %(end)s AND score IS NOT NULL
),
""" + WINDOW_CTES + CONTINUITY_CTES + SCORES_SQL + """
SELECT 'month', NULL, domain, window_end, NULL, count(*), sum(score), sum(score * score), NULL, NULL
FROM window_scores GROUP BY window_end, domain
UNION ALL
SELECT 'concordance', NULL, domain, NULL, NULL, count(*), avg(score), avg(paired_score), avg(paired_score - score),
       count(*) FILTER (WHERE paired_band IN ('lower', 'higher'))
FROM scores WHERE paired_score IS NOT NULL AND domain IN ('valuing', 'power', 'abiding', 'trust', 'hope', 'known')
GROUP BY domain
""" + CONTINUITY_SQL + TILES_SQL


def raw_numbers(cursor, params, sql: str = RAW_SQL) -> dict:
    cursor.execute(sql, params)
    out = defaultdict(dict)
    for kind, clinician, domain, month, bin_, n, a, b, c, d in cursor.fetchall():
        if kind == "clinician":
            out[kind][(clinician, domain)] = (n, a, b)
        elif kind == "domain":
            out[kind][domain] = (n, a, b)
        elif kind == "bin":
            out[kind][(domain, bin_)] = n
        elif kind == "month":
            out[kind][(month, domain)] = (n, a, b)
        elif kind == "concordance":
            out[kind][domain] = (n, a, b, c, d)
        elif kind == "continuity":
            out[kind][clinician] = (n, a, b, c)
        elif kind == "funnel":
            out[kind] = {"sent": n, "opened": int(a), "completed": int(b)}
        elif kind == "responses":
            out[kind] = {"count": n, "median_minutes": None if a is None else a / 60}
    return out


def check_equal(ours: dict, raw: dict) -> list[str]:
    """Every number the dashboard shows, ours against the raw SQL's; returns the differences (none expected)."""
    from measurement import scoring
    problems = []

    def close(x, y):
        return (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9))

    def summaries(name, ours_map, raw_map):
        if set(ours_map) != set(raw_map):
            problems.append(f"{name}: keys differ ({len(ours_map)} vs {len(raw_map)})")
            return
        for key, (n, total, total_sq) in raw_map.items():
            expected, got = scoring.summarize_moments(n, total, total_sq), ours_map[key]
            if got.n != expected.n or not close(got.mean, expected.mean) or not close(got.sd, expected.sd):
                problems.append(f"{name} {key}: {got} != {expected}")

    summaries("domain", ours["domain"], raw["domain"])
    summaries("clinician", ours["clinician"], raw["clinician"])
    summaries("month", ours["month"], raw["month"])
    ours_bins = {(d, b): n for d, bins in ours["distribution"].items() for b, n in bins.items() if n}
    if ours_bins != raw["bin"]:
        problems.append("distribution differs")
    by_domain = defaultdict(list)
    for pair in ours["pairs"]:
        by_domain[pair.domain].append(pair)
    for domain, (n, patient, clinician, gap, flagged) in raw["concordance"].items():
        pairs = by_domain[domain]  # each stands for `waves` equal waves
        waves = sum(p.waves for p in pairs)
        mine = (
            waves,
            sum(p.patient * p.waves for p in pairs) / waves,
            sum(p.clinician * p.waves for p in pairs) / waves,
            sum((p.clinician - p.patient) * p.waves for p in pairs) / waves,
            sum(p.waves for p in pairs if p.flagged),
        )
        if mine[0] != n or mine[4] != flagged or not all(close(x, y) for x, y in zip(mine[1:4], (patient, clinician, gap))):
            problems.append(f"concordance {domain}: {mine} != {(n, patient, clinician, gap, flagged)}")
    if set(by_domain) != set(raw["concordance"]):
        problems.append("concordance domains differ")
    if "continuity" in raw:
        practice, clinicians = ours["continuity"]
        mine = {None: practice, **clinicians}
        if set(mine) != set(raw["continuity"]):
            problems.append("continuity: clinicians differ")
        for key, (n, upc, coc, share) in raw["continuity"].items():
            got = mine.get(key)
            if got is None or got.patients != n or not all(
                close(x, y) for x, y in zip((got.upc, got.coc, got.share_with_clinician), (upc, coc, share))
            ):
                problems.append(f"continuity {key}: {got} != {(n, upc, coc, share)}")
    tiles = ours["tiles"]
    if {"sent": tiles.sent, "opened": tiles.opened, "completed": tiles.completed} != raw["funnel"]:
        problems.append(f"funnel: {tiles} != {raw['funnel']}")
    if tiles.responses != raw["responses"]["count"] or not close(tiles.median_minutes, raw["responses"]["median_minutes"]):
        problems.append(f"responses: {tiles} != {raw['responses']}")
    return problems


def main():
    args = bench.arguments("dashboard", __doc__)
    small_visits, large_visits = (200, 2000) if args.small else (2000, 20_000)
    repeat = 3 if args.small else 31
    with bench.bench_database("dashboard", args.database_url, args.keep):
        from django.conf import settings
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from demo.seed import add_demo_visits, seed_demo
        from figures import charts, panels, queries
        from measurement import continuity
        from plumbing.period import released_quarter
        from plumbing.runtime import load_and_freeze

        result = seed_demo(practices=1, clinicians=10, visits=small_visits, seed=5)
        practice = result.first_practice
        clinicians = queries.practice_clinicians(practice)
        audience = panels.Audience(min_n=practice.min_reporting_n)
        period = released_quarter(timezone.localdate(), timezone.localdate())  # what the page shows by default

        def dashboard():
            with queries.shared_reads():
                tiles = panels.practice_tiles(practice, period)
                return panels.practice_panels(practice, period, audience, clinicians, tiles)

        def query_count() -> int:
            with CaptureQueriesContext(connection) as captured:
                dashboard()
            return len(captured)

        bench.vacuum_analyze()
        queries_small = query_count()
        add_demo_visits(practice, large_visits - small_visits, seed=6)
        bench.vacuum_analyze()
        queries_large = query_count()
        bench.log(f"dashboard: {queries_small} queries at {small_visits} visits, {queries_large} at {large_visits}")

        start, end = period.bounds
        window_ends = queries.rolling_moments(practice, period).window_ends
        params = {"practice": practice.pk, "start": start, "end": end, "tz": settings.TIME_ZONE,
                  "year_start": period.end - dt.timedelta(days=364), "last_day": period.end,
                  "span_start": queries.trend_span(period).bounds[0], "first_end": window_ends[0],
                  "last_end": window_ends[-1]}
        with connection.cursor() as cursor:
            raw = raw_numbers(cursor, params)
            raw_read_model = raw_numbers(cursor, params, READ_MODEL_SQL) if period.reaches_today else None
        with queries.shared_reads():
            ours = {
                "tiles": panels.practice_tiles(practice, period),
                "domain": queries.domain_summaries(practice, period),
                "clinician": queries.clinician_domain_summaries(practice, period),
                "month": queries.rolling_summaries(practice, period),
                "distribution": queries.score_distribution(practice, period),
                "pairs": queries.concordance(practice, period),
                "continuity": continuity.summarize(queries.visit_counts(practice, period)),
            }
        problems = check_equal(ours, raw)
        if raw_read_model is not None:
            problems += [f"read model: {p}" for p in check_equal(ours, raw_read_model)]
        for problem in problems:
            bench.log("dashboard: MISMATCH", problem)

        # As a gunicorn worker does before serving (gunicorn.conf.py): the views and catalogs loaded, then
        # everything alive frozen out of the collector's walks.
        load_and_freeze()
        bench.log("dashboard: timing")
        with_figures = bench.timed(dashboard, repeat, warmup=2)
        builders = ("means_with_intervals", "heatmap", "trend", "distribution", "concordance", "funnel", "funnel_plot")
        saved = {name: getattr(charts, name) for name in builders}

        def raw_query():
            with connection.cursor() as cursor:
                raw_numbers(cursor, params)

        def read_model_query():
            with connection.cursor() as cursor:
                raw_numbers(cursor, params, READ_MODEL_SQL)

        # Ours and the baselines take turns, run after run (bench.interleaved), so each ratio compares the same
        # moments of a machine whose speed drifts.
        timed = {"data_path": dashboard, "raw": raw_query}
        if period.reaches_today:
            timed["read_model"] = read_model_query
        for name in builders:
            setattr(charts, name, lambda *a, **k: None)
        try:
            times = bench.interleaved(timed, repeat, warmup=2)
        finally:
            for name, builder in saved.items():
                setattr(charts, name, builder)
        data_path, baseline = times["data_path"], times["raw"]
        baseline_read_model = times.get("read_model")
        sizes = {
            "practices": 1,
            "clinicians": len(clinicians),
            "visits": practice.visits.count(),
            "patient_responses_in_period": ours["tiles"].responses,
            "concordance_waves": sum(p.waves for p in ours["pairs"]),
            "concordance_distinct_pairs": len(ours["pairs"]),
        }

    ours_p50, raw_p50, figures_p50 = (bench.percentile(t, 50) for t in (data_path, baseline, with_figures))
    read_model_p50 = bench.percentile(baseline_read_model, 50) if baseline_read_model else None
    data_ratio = bench.ratio(ours_p50, raw_p50)
    read_model_ratio = bench.ratio(ours_p50, read_model_p50) if read_model_p50 else None
    bench.emit(
        {
            "bench": "dashboard",
            "small": args.small,
            "data": sizes,
            "ours_s": round(ours_p50, 4),
            "period": f"{period.start}..{period.end}",
            "ours": "p50 of practice_tiles + practice_panels in shared_reads(), chart builders stubbed (data path)",
            "ours_with_figures_s": round(figures_p50, 4),
            "ours_p90_s": round(bench.percentile(data_path, 90), 4),
            "baseline_s": round(raw_p50, 4),
            "baseline": "p50 of one hand-written SQL statement returning the same numbers from responses, scores and visits",
            "baseline_read_model_s": round(read_model_p50, 4) if read_model_p50 else None,
            "baseline_read_model": "p50 of the same statement over the read model our path reads (latest flags, paired "
            "scores); none for a closed quarter, which reads through the window",
            "ratio": data_ratio,
            "ratio_vs_read_model": read_model_ratio,
            "ratio_with_figures": bench.ratio(figures_p50, raw_p50),
            "same_numbers": not problems,
            "mismatches": problems[:10],
            "queries": {f"at_{small_visits}_visits": queries_small, f"at_{large_visits}_visits": queries_large},
            "target": {"p50_s_max": TARGET_P50_S, "ratio_max": TARGET_RATIO, "queries": "equal at both sizes"},
            "met": {
                "p50": ours_p50 <= TARGET_P50_S,
                "ratio": data_ratio is not None and data_ratio <= TARGET_RATIO,
                **({"ratio_vs_read_model": read_model_ratio <= TARGET_RATIO} if read_model_ratio else {}),
                "queries": queries_small == queries_large,
            },
            "repeat": repeat,
        }
    )


if __name__ == "__main__":
    main()
