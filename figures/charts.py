"""Charts: aggregates -> Plotly figures -> JSON or HTML fragments.

Pure functions on plain values (no ORM, no I/O), so the dashboard, the clinician pages and the offline reports
draw the same figure from the same numbers, and the figures can be tested without a database.

Every word a chart shows (titles, axis titles, legend names, tick labels, the "hidden" mark) comes from the
caller, already translated; the only literals here are language-neutral (numbers, "n =", ISO months).
Plotly renders text as a small HTML subset, so caller text is entity-escaped: a clinician called
"A <B>" is drawn literally instead of losing "<B>" as an unknown tag.

Nothing here reaches the network: no map tiles, no web fonts (a system font stack), no CDN. Pages draw
`figure_json` with static/js/charts.js (no inline script, so a strict CSP holds); self-contained reports use
`figure_html` and inline `plotly_js()` once.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio

from measurement import scoring
from plumbing import plotlyjs

PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

# Ten domains, eight colours. The six shared domains (charted together on every page) get six distinct
# colours; the four competencies (clinician-only, charted on their own) are distinct among themselves. Yellow is
# left out: thin lines and small markers in #F0E442 vanish on white.
DOMAIN_COLOURS = {
    "valuing": PALETTE[0],
    "power": PALETTE[1],
    "abiding": PALETTE[2],
    "trust": PALETTE[3],
    "hope": PALETTE[4],
    "known": PALETTE[5],
    "self_confidence": PALETTE[7],
    "emotional_self_management": PALETTE[0],
    "mindfulness": PALETTE[2],
    "knowledge": PALETTE[3],
}
assert set(DOMAIN_COLOURS) == set(scoring.SHARED_DOMAINS + scoring.COMPETENCY_DOMAINS)

# The two sides of a wave, the same on every chart that sets one against the other.
RESPONDENT_COLOURS = {"patient": PALETTE[0], "clinician": PALETTE[3]}

# Default order for series without a colour of their own: yellow last, for the same reason as above.
_SERIES_COLOURS = PALETTE[:6] + (PALETTE[7], PALETTE[6])

# The same in static/js/charts.js. Selection tools select nothing useful here: all axes are fixed.
# Never offer to send a chart to plotly's cloud: patient data stays on our servers (showSendToCloud; the plotly.js we
# ship has no Chart Studio button left, and plotly warns about its old option, so it is not set).
CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "sendDataToCloud", "editInChartStudio"],
}

HEIGHT = 360
FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
_INK = "#222222"
_GRID = "#e5e5e5"
_REFERENCE = "#666666"

# A small white template of our own: plotly's "plotly_white" would add ~6 kB of JSON to every figure.
_AXIS = {
    "showgrid": True,
    "gridcolor": _GRID,
    "linecolor": "#bbbbbb",
    "showline": True,
    "ticks": "outside",
    "tickcolor": "#bbbbbb",
    "zeroline": False,
    "automargin": True,
    "title": {"standoff": 8},
}
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": FONT_FAMILY, "size": 13, "color": _INK},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(_SERIES_COLOURS),
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
    }
)
# Every figure takes TEMPLATE as plotly's default, not in its own layout: plotly copies its default template into
# each figure unvalidated, while a template handed in the layout is validated again for every figure (about 1 ms a
# figure; the dashboard's seven builders 39.8 -> 36.1 ms, docs/performance.md). The figures' JSON is the same.
# Only this app draws with plotly here.
pio.templates["healing"] = TEMPLATE
pio.templates.default = "healing"


def _plain(text: str) -> str:
    """Caller text as plotly should draw it: literally (plotly decodes these entities back when rendering)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _colour(i: int, given: str | None = None) -> str:
    return given or _SERIES_COLOURS[i % len(_SERIES_COLOURS)]


def _one_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _layout(title: str, *, height: int = HEIGHT, legend: bool = True, **extra) -> dict:
    layout = {
        "title": {"text": _plain(title), "x": 0, "xanchor": "left", "pad": {"l": 6}, "font": {"size": 16}},
        "height": height,
        "autosize": True,
        "margin": {"l": 10, "r": 10, "t": 48, "b": 10, "pad": 0},
        "showlegend": legend,
        "hovermode": "closest",
    }
    if legend:
        # Under the plot, clear of the x-axis title: "container" coordinates ignore how far the axis
        # labels pushed the plot's margin.
        layout["legend"] = {
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yref": "container",
            "yanchor": "bottom",
            "title": {"text": ""},
        }
        layout["margin"] = {**layout["margin"], "b": 40}
    layout.update(extra)
    return layout


def _score_axis(title: str = "", **extra) -> dict:
    """0-100 score axis with ticks every 20; markers at 0 and 100 stay whole via cliponaxis=False on traces."""
    return {"title": {"text": _plain(title)}, "range": [0, 100], "tick0": 0, "dtick": 20, "fixedrange": True,
            **extra}


def _line(x0: float, y0: float, x1: float, y1: float, dash: str, *, xref: str = "x", yref: str = "y") -> dict:
    return {
        "type": "line", "xref": xref, "yref": yref, "x0": x0, "y0": y0, "x1": x1, "y1": y1,
        "line": {"color": _REFERENCE, "width": 1.5, "dash": dash}, "layer": "below",
    }


def heatmap(
    row_labels: list[str],
    column_labels: list[str],
    values: list[list[float | None]],
    *,
    title: str,
    hidden_text: str = "hidden",
    colorbar_title: str = "",
    uncoloured: list[list[bool]] | None = None,
    uncoloured_text: str = "",
) -> go.Figure:
    """Clinician x domain means. None cells are suppressed figures: left blank and marked `hidden_text`.

    `uncoloured` cells (figures not reliable enough to compare clinicians) show their mean in grey on no colour:
    a colour would rank them. The colour scale spans the coloured means (to the next 5 below and above), so the
    differences that are there can be seen; with none, 0 to 100.
    Rows and columns are placed by index with the labels as tick text, so two clinicians with the same
    display name stay two rows instead of being merged into one category.
    """
    if len(values) != len(row_labels) or any(len(row) != len(column_labels) for row in values):
        raise ValueError("values must have one row per row label and one column per column label")
    rows, cols = range(len(row_labels)), range(len(column_labels))
    grey = [[bool(uncoloured and uncoloured[i][j]) for j in cols] for i in rows]
    text = [[_one_decimal(v) for v in row] for row in values]
    hover = [
        [
            f"{_plain(row_labels[i])}<br>{_plain(column_labels[j])}: {text[i][j]}"
            + (f" ({_plain(uncoloured_text)})" if grey[i][j] else "")
            for j in cols
        ]
        for i in rows
    ]
    coloured = [[None if grey[i][j] else values[i][j] for j in cols] for i in rows]
    present = [v for row in coloured for v in row if v is not None]
    low, high = (5 * math.floor(min(present) / 5), 5 * math.ceil(max(present) / 5)) if present else (0, 100)
    if high - low < 10:  # a scale at least ten points wide: nearly equal means should look nearly equal
        high = min(100, low + 10)
        low = high - 10
    trace = go.Heatmap(
        x=list(cols),
        y=list(rows),
        z=coloured,
        zmin=low,
        zmax=high,
        colorscale="Cividis",
        text=text,
        texttemplate="%{text}",
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
        hoverongaps=False,
        xgap=2,
        ygap=2,
        colorbar={"title": {"text": _plain(colorbar_title)}, "thickness": 12, "outlinewidth": 0},
    )
    annotations = [
        {"x": j, "y": i, "xref": "x", "yref": "y", "text": _plain(hidden_text), "showarrow": False,
         "font": {"color": _REFERENCE, "size": 12, "style": "italic"}}
        for i in rows for j in cols if values[i][j] is None
    ] + [
        {"x": j, "y": i, "xref": "x", "yref": "y", "text": text[i][j], "showarrow": False,
         "font": {"color": _REFERENCE, "size": 12}}
        for i in rows for j in cols if values[i][j] is not None and grey[i][j]
    ]
    tick_axis = {"showgrid": False, "showline": False, "ticks": "", "fixedrange": True}
    layout = _layout(
        title,
        height=max(HEIGHT, 110 + 36 * len(row_labels)),
        legend=False,
        xaxis={**tick_axis, "tickmode": "array", "tickvals": list(cols),
               "ticktext": [_plain(c) for c in column_labels], "range": [-0.5, len(column_labels) - 0.5]},
        # First row on top, as in the table it mirrors.
        yaxis={**tick_axis, "tickmode": "array", "tickvals": list(rows),
               "ticktext": [_plain(r) for r in row_labels], "range": [len(row_labels) - 0.5, -0.5]},
        annotations=annotations,
    )
    return go.Figure(data=[trace], layout=layout)


def means_with_intervals(
    series: list[dict], domain_labels: list[str], *, title: str, y_title: str
) -> go.Figure:
    """Means per domain with their 95% intervals, one series per group (patients, clinicians, practice...).

    A series is {"name", "means", "low", "high"} aligned with `domain_labels`, optionally "colour" and "n"
    (respondents per domain: shown on hover, and points with n below the caution threshold are drawn hollow,
    so the caller can explain "few responses: interpret with care" once, in a caption).
    """
    traces = []
    labels = [_plain(d) for d in domain_labels]
    for i, s in enumerate(series):
        means, low, high = list(s["means"]), list(s["low"]), list(s["high"])
        if not len(means) == len(low) == len(high) == len(domain_labels):
            raise ValueError(f"series {s['name']!r} is not aligned with the domain labels")
        plus = [None if m is None or h is None else h - m for m, h in zip(means, high)]
        minus = [None if m is None or lo is None else m - lo for m, lo in zip(means, low)]
        colour = _colour(i, s.get("colour"))
        marker = {"color": colour, "size": 10, "line": {"color": colour, "width": 2}}
        hover = "%{x}: %{y:.1f}<extra>%{fullData.name}</extra>"
        n = None
        if s.get("n") is not None:
            n = list(s["n"])
            marker["symbol"] = ["circle-open" if k is not None and k < scoring.CAUTION_N else "circle" for k in n]
            hover = "%{x}: %{y:.1f} (n = %{customdata})<extra>%{fullData.name}</extra>"
        traces.append(
            go.Scatter(
                x=labels,
                y=means,
                customdata=n,
                name=_plain(s["name"]),
                mode="markers",
                marker=marker,
                error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus,
                         "color": colour, "thickness": 1.5, "width": 4},
                hovertemplate=hover,
                cliponaxis=False,
            )
        )
    layout = _layout(
        title,
        # Series side by side within each domain instead of on top of each other.
        scattermode="group",
        scattergap=0.6 if len(series) > 1 else 0,
        xaxis={"type": "category", "showgrid": False, "fixedrange": True},
        yaxis=_score_axis(y_title),
    )
    return go.Figure(data=traces, layout=layout)


def funnel_plot(domains: list[dict], *, title: str, x_title: str, y_title: str, unreliable: str) -> go.Figure:
    """Clinicians as a funnel plot, one small plot per domain: each clinician's mean against their number of
    patients, around the practice mean, with the 95% and 99.8% limits that chance alone stays inside
    (Spiegelhalter 2005). A plot, not a ranked list: only a point outside the limits says more than chance.

    A domain is {"label", "centre", "limits": [(n, lo95, hi95, lo998, hi998)...], "points": [{"name", "n",
    "mean", "reliable"}...]}. Points not reliable enough to compare are drawn grey and hollow (no ranking colour)
    and say so on hover (`unreliable`).
    """
    columns = 3
    rows = max(1, math.ceil(len(domains) / columns))
    gap_x, gap_y = 0.06, 0.16
    width, height = (1 - gap_x * (columns - 1)) / columns, (1 - gap_y * (rows - 1)) / rows
    traces, layout_axes, titles = [], {}, []
    # One figure built from plain dicts in one go: plotly validates every value it is handed, and adding the
    # traces one by one to a subplot figure cost about 0.15 s for six small plots.
    for i, domain in enumerate(domains):
        row, col = i // columns, i % columns
        suffix = "" if i == 0 else str(i + 1)
        x_ref, y_ref = "x" + suffix, "y" + suffix
        left, top = col * (width + gap_x), 1 - row * (height + gap_y)
        layout_axes["xaxis" + suffix] = {
            "domain": [left, left + width], "anchor": y_ref, "fixedrange": True,
            "title": {"text": _plain(x_title) if row == rows - 1 else ""},
        }
        layout_axes["yaxis" + suffix] = {
            "domain": [top - height, top], "anchor": x_ref, "range": [0, 100], "dtick": 20, "fixedrange": True,
            "title": {"text": _plain(y_title) if col == 0 else ""},
        }
        titles.append({"text": _plain(domain["label"]), "xref": "paper", "yref": "paper", "x": left + width / 2,
                       "y": top, "yanchor": "bottom", "xanchor": "center", "showarrow": False})
        sizes = [limit[0] for limit in domain["limits"]]
        # Each pair of limits (95%: dotted, 99.8%: dashed) is one trace, its lower and upper curves parted by a
        # gap (None): plotly's cost is per trace as much as per value.
        for (lower, upper), dash in (((1, 2), "dot"), ((3, 4), "dash")):
            traces.append({"type": "scatter", "x": [*sizes, None, *sizes],
                           "y": [*(limit[lower] for limit in domain["limits"]), None,
                                 *(limit[upper] for limit in domain["limits"])],
                           "mode": "lines", "line": {"color": _REFERENCE, "width": 1, "dash": dash},
                           "connectgaps": False, "hoverinfo": "skip", "showlegend": False,
                           "xaxis": x_ref, "yaxis": y_ref})
        if sizes:
            traces.append({"type": "scatter", "x": [min(sizes), max(sizes)], "y": [domain["centre"]] * 2,
                           "mode": "lines", "line": {"color": _REFERENCE, "width": 1}, "hoverinfo": "skip",
                           "showlegend": False, "xaxis": x_ref, "yaxis": y_ref})
        points = domain["points"]
        colours = [PALETTE[0] if p["reliable"] else "#888888" for p in points]
        traces.append({
            "type": "scatter",
            "x": [p["n"] for p in points],
            "y": [p["mean"] for p in points],
            "text": [_plain(p["name"]) + ("" if p["reliable"] else f" ({_plain(unreliable)})") for p in points],
            "mode": "markers",
            "marker": {"size": 9, "color": colours, "line": {"width": 1.5, "color": colours},
                       "symbol": ["circle" if p["reliable"] else "circle-open" for p in points]},
            "hovertemplate": "%{text}: %{y:.1f} (n = %{x})<extra></extra>",
            "showlegend": False,
            "cliponaxis": False,
            "xaxis": x_ref,
            "yaxis": y_ref,
        })
    # Room under the title for the small plots' own titles.
    layout = _layout(title, height=HEIGHT + 160 * (rows - 1), legend=False,
                     margin={"l": 10, "r": 10, "t": 84, "b": 10, "pad": 0}, annotations=titles, **layout_axes)
    return go.Figure(data=traces, layout=layout)


def _month_dtick(n_months: int) -> str:
    """A tick every month while they fit a small plot, then every quarter, then every year."""
    return "M1" if n_months <= 6 else "M3" if n_months <= 36 else "M12"


def trend(months: list[datetime.date], series: list[dict], *, title: str, y_title: str,
          marked: Sequence[datetime.date] = (), marked_text: str = "", called_text: str = "") -> go.Figure:
    """Rolling-quarter means over time on a control chart, one small plot per series (domain).

    A series is {"name", "values"} aligned with `months` (each the last month of its rolling quarter),
    optionally "colour" (e.g. DOMAIN_COLOURS[code]) and its control chart: "centre" (a number), "lower" and
    "upper" (aligned limits, None where there are none) and "called" (aligned booleans: beyond the limits).
    The band between the limits is shaded and the centre line drawn; a called point gets a ring and says
    `called_text` on hover, so the eye goes to the points that say more than chance. Missing points are gaps,
    never bridged: a line across a window without data would claim a trend nobody measured. Each month in
    `marked` gets `marked_text` written upright at the foot of every small plot, so a hole says why it is there
    (a printed chart has no hover). Built from plain dicts in one go, as the funnel plot is (plotly validates
    every value it is handed).
    """
    columns = 3 if len(series) > 4 else 2 if len(series) > 1 else 1
    rows = max(1, math.ceil(len(series) / columns))
    gap_x, gap_y = 0.06, 0.2 if rows > 1 else 0
    width, height = (1 - gap_x * (columns - 1)) / columns, (1 - gap_y * (rows - 1)) / rows
    x = [m.isoformat() for m in months]
    traces, axes, annotations = [], {}, []
    first, last = (min(months), max(months)) if months else (None, None)
    for i, s in enumerate(series):
        values = list(s["values"])
        if len(values) != len(months):
            raise ValueError(f"series {s['name']!r} is not aligned with the months")
        row, col = i // columns, i % columns
        suffix = "" if i == 0 else str(i + 1)
        x_ref, y_ref = "x" + suffix, "y" + suffix
        left, top = col * (width + gap_x), 1 - row * (height + gap_y)
        xaxis = {
            "domain": [max(0.0, left), min(1.0, left + width)], "anchor": y_ref, "type": "date",
            # ISO months: plotly's month names are English unless a locale bundle is loaded.
            "tickformat": "%Y-%m", "hoverformat": "%Y-%m", "dtick": _month_dtick(len(months)),
            "ticklabelmode": "instant", "fixedrange": True, "showgrid": False,
        }
        if months:
            xaxis["tick0"] = first.isoformat()
            xaxis["range"] = [(first - datetime.timedelta(days=15)).isoformat(),
                              (last + datetime.timedelta(days=15)).isoformat()]
        axes["xaxis" + suffix] = xaxis
        axes["yaxis" + suffix] = {**_score_axis(y_title if col == 0 else ""),
                                  "domain": [max(0.0, top - height), min(1.0, top)], "anchor": x_ref}
        if len(series) > 1:
            annotations.append({"text": _plain(s["name"]), "xref": "paper", "yref": "paper", "x": left + width / 2,
                                "y": top, "yanchor": "bottom", "xanchor": "center", "showarrow": False})
        colour = _colour(i, s.get("colour"))
        on_axes = {"xaxis": x_ref, "yaxis": y_ref, "showlegend": False}
        lower, upper = s.get("lower"), s.get("upper")
        if lower is not None and upper is not None and any(v is not None for v in upper):
            traces.append({"type": "scatter", "x": x, "y": list(upper), "mode": "lines", "connectgaps": False,
                           "line": {"color": _REFERENCE, "width": 1, "dash": "dash", "shape": "hvh"},
                           "hoverinfo": "skip", **on_axes})
            traces.append({"type": "scatter", "x": x, "y": list(lower), "mode": "lines", "connectgaps": False,
                           "line": {"color": _REFERENCE, "width": 1, "dash": "dash", "shape": "hvh"},
                           "fill": "tonexty", "fillcolor": "rgba(102, 102, 102, 0.12)", "hoverinfo": "skip",
                           **on_axes})
        if s.get("centre") is not None and months:
            traces.append({"type": "scatter", "x": [x[0], x[-1]], "y": [s["centre"]] * 2, "mode": "lines",
                           "line": {"color": _REFERENCE, "width": 1.5}, "hoverinfo": "skip", **on_axes})
        traces.append({
            "type": "scatter", "x": x, "y": values, "name": _plain(s["name"]), "mode": "lines+markers",
            "connectgaps": False, "line": {"color": colour, "width": 2, "dash": s.get("dash", "solid")},
            "marker": {"color": colour, "size": 7}, "hovertemplate": "%{x|%Y-%m}: %{y:.1f}<extra>%{fullData.name}</extra>",
            "cliponaxis": False, **on_axes,
        })
        called = [bool(c) for c in s.get("called") or [False] * len(months)]
        if any(called):
            points = [(m, v) for m, v, c in zip(x, values, called) if c and v is not None]
            traces.append({
                "type": "scatter", "x": [m for m, _v in points], "y": [v for _m, v in points], "mode": "markers",
                "marker": {"size": 16, "color": "rgba(0, 0, 0, 0)", "line": {"color": PALETTE[3], "width": 2.5},
                           "symbol": "circle-open"},
                "hovertemplate": "%{x|%Y-%m}: %{y:.1f} (" + _plain(called_text) + ")<extra></extra>",
                "cliponaxis": False, **on_axes,
            })
        annotations += [
            {"x": month.isoformat(), "y": 0, "xref": x_ref, "yref": y_ref, "yanchor": "bottom",
             "text": _plain(marked_text), "textangle": -90, "showarrow": False,
             "font": {"size": 10, "color": "#5f6368"}}
            for month in marked
        ]
    top_margin = 84 if len(series) > 1 else 48
    layout = _layout(title, height=HEIGHT + 200 * (rows - 1), legend=False,
                     margin={"l": 10, "r": 10, "t": top_margin, "b": 10, "pad": 0}, annotations=annotations, **axes)
    return go.Figure(data=traces, layout=layout)


def bin_labels(bins: Sequence[int], top: int = 100) -> list[str]:
    """"0–9", "10–19", ..., "90–100": the last bin includes the top score."""
    labels = []
    for k, start in enumerate(bins):
        end = top if k == len(bins) - 1 else bins[k + 1] - 1
        labels.append(f"{start}–{end}")
    return labels


def distribution(
    bins: list[int], series: list[dict], *, title: str, x_title: str, y_title: str
) -> go.Figure:
    """Counts per score bin, one grouped bar per series {"name", "counts", "colour"?}."""
    labels = bin_labels(bins)
    traces = []
    for i, s in enumerate(series):
        counts = list(s["counts"])
        if len(counts) != len(bins):
            raise ValueError(f"series {s['name']!r} is not aligned with the bins")
        traces.append(
            go.Bar(
                x=labels,
                y=counts,
                name=_plain(s["name"]),
                marker={"color": _colour(i, s.get("colour"))},
                hovertemplate="%{x}: %{y}<extra>%{fullData.name}</extra>",
            )
        )
    most = max((c for s in series for c in s["counts"]), default=0)
    yaxis = {"title": {"text": _plain(y_title)}, "rangemode": "tozero", "tickformat": "d", "fixedrange": True}
    if most < 5:
        yaxis["dtick"] = 1  # whole respondents only: no 0.5 ticks on a small sample
    layout = _layout(
        title,
        barmode="group",
        bargap=0.2,
        bargroupgap=0.05,
        xaxis={"type": "category", "title": {"text": _plain(x_title)}, "showgrid": False, "fixedrange": True},
        yaxis=yaxis,
    )
    return go.Figure(data=traces, layout=layout)


def concordance(series: list[dict], *, title: str, x_title: str, y_title: str) -> go.Figure:
    """Patient (x) against clinician (y) score per wave, one trace per series: {"name", "points", "colour"}, where
    points maps (x, y) to the number of waves with those two scores.

    Waves with the same two scores share one marker whose size grows with their number (shown on hover): a
    practice's year holds tens of thousands of waves on a few hundred distinct score pairs, and a dot each
    would hide the density under overplotting and weigh megabytes.
    The dashed diagonal is agreement; the dotted lines bound the band outside which a wave is flagged
    (|gap| >= scoring.GAP_FLAG_THRESHOLD). They are layout shapes, not traces, so they need no legend name.
    go.Scatter (SVG), not Scattergl: WebGL neither prints nor renders without a GPU.
    """
    hover = (
        f"{_plain(x_title)}: %{{x:.1f}}<br>{_plain(y_title)}: %{{y:.1f}}<br>n = %{{customdata}}"
        "<extra>%{fullData.name}</extra>"
    )
    traces = []
    for i, group in enumerate(series):
        points = sorted(group["points"].items())
        traces.append(
            go.Scatter(
                x=[x for (x, _y), _n in points],
                y=[y for (_x, y), _n in points],
                customdata=[n for _point, n in points],
                name=_plain(group["name"]),
                mode="markers",
                marker={
                    "color": _colour(i, group.get("colour")),
                    "size": [min(8 + 3 * math.sqrt(n - 1), 30) for _point, n in points],
                    "opacity": 0.7,
                    "line": {"color": "white", "width": 0.5},
                },
                hovertemplate=hover,
                cliponaxis=False,
            )
        )
    flag = scoring.GAP_FLAG_THRESHOLD
    shapes = [
        _line(0, 0, 100, 100, "dash"),
        _line(0, flag, 100 - flag, 100, "dot"),
        _line(flag, 0, 100, 100 - flag, "dot"),
    ]
    layout = _layout(
        title,
        height=440,
        xaxis=_score_axis(x_title, constrain="domain"),
        # Square: equal units on both axes, so the diagonal is at 45 degrees and distances read true.
        yaxis=_score_axis(y_title, scaleanchor="x", scaleratio=1, constrain="domain"),
        shapes=shapes,
    )
    return go.Figure(data=traces, layout=layout)


def funnel(stages: list[str], counts: list[int], *, title: str) -> go.Figure:
    """Invitations to answers: each stage's count and its share of the first stage."""
    if len(stages) != len(counts):
        raise ValueError("one count per stage")
    trace = go.Funnel(
        y=[_plain(s) for s in stages],
        x=list(counts),
        textinfo="value+percent initial",
        textposition="inside",
        marker={"color": PALETTE[0]},
        connector={"fillcolor": "#dbe9f4", "line": {"width": 0}},
        hovertemplate="%{y}: %{x} (%{percentInitial:.0%})<extra></extra>",
    )
    layout = _layout(title, legend=False, yaxis={"showgrid": False, "showline": False, "ticks": "",
                                                  "fixedrange": True},
                     xaxis={"fixedrange": True})
    return go.Figure(data=[trace], layout=layout)


# Where a wave's gap falls (measurement.gaps.BANDS): the clinician's view lower than the patient's beyond
# measurement error (the patient's colour: the patient rated higher), within it (grey), or higher (the clinician's).
GAP_BAND_COLOURS = (RESPONDENT_COLOURS["patient"], "#BBBBBB", RESPONDENT_COLOURS["clinician"])


def gap_bands(
    domain_labels: list[str],
    counts: list[tuple[int, int, int] | None],
    *,
    band_names: tuple[str, str, str],
    title: str,
    x_title: str,
) -> go.Figure:
    """How each domain's wave gaps spread: one horizontal bar per domain, split into the share of waves where the
    clinician's view was lower than the patient's beyond measurement error, within it, and higher (band_names
    in that order). Shares, so domains with different numbers of waves compare; counts on hover. A domain whose
    counts are None (withheld) keeps its row, empty, so the rows line up with the table."""
    if len(domain_labels) != len(counts):
        raise ValueError("one set of counts per domain label")
    labels = [_plain(d) for d in domain_labels]
    traces = []
    for band, (name, colour) in enumerate(zip(band_names, GAP_BAND_COLOURS)):
        shares, numbers = [], []
        for row in counts:
            total = sum(row) if row else 0
            shares.append(100.0 * row[band] / total if total else None)
            numbers.append(row[band] if row else None)
        traces.append(
            go.Bar(
                y=labels,
                x=shares,
                customdata=numbers,
                orientation="h",
                name=_plain(name),
                marker={"color": colour},
                hovertemplate="%{y}: %{x:.0f}% (n = %{customdata})<extra>%{fullData.name}</extra>",
            )
        )
    layout = _layout(
        title,
        barmode="stack",
        bargap=0.3,
        xaxis={"title": {"text": _plain(x_title)}, "range": [0, 100], "dtick": 25, "ticksuffix": "%",
               "fixedrange": True},
        # First domain on top, as in the table.
        yaxis={"type": "category", "autorange": "reversed", "showgrid": False, "fixedrange": True},
    )
    layout["legend"]["traceorder"] = "normal"  # lower, within, higher, as the bars read (stacks default to reversed)
    return go.Figure(data=traces, layout=layout)


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON, safe inside <script type="application/json"> (pages draw it with charts.js).

    <, > and & are written as \\u escapes, as Django's json_script does: a label containing "</script>" or
    "<!--" cannot end the element early, and json parsing gives back exactly the same figure.
    """
    return (
        fig.to_json()
        .replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
    )


def figure_html(fig: go.Figure, div_id: str) -> str:
    """A <div> and its drawing script for a self-contained report that inlines plotly_js() once itself."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def plotly_js() -> str:
    """The plotly.js the pages serve (plumbing.plotlyjs: the partial bundle of the version the figures were built
    for, with the trace types drawn here), for a report to inline: the same library on paper and on screen."""
    return plotlyjs.source()  # names no CDN: the build rewrote the map outlines' default (tools/plotly-bundle)


def self_ratings(series: list[dict], *, title: str, y_title: str, few_below: int) -> go.Figure:
    """A clinician's competency self-ratings over time. A series is {"name", "dates", "values"}, optionally
    "colour", "dash", "symbol" and "n" (questionnaires behind each point). Points from fewer than `few_below`
    questionnaires are drawn hollow and say their n on hover, so a month built from one questionnaire no longer
    looks like a settled average (issue 14); the caller explains the hollow points once, in a note.
    """
    traces = []
    for i, s in enumerate(series):
        dates, values = list(s["dates"]), list(s["values"])
        if len(dates) != len(values):
            raise ValueError(f"series {s['name']!r} is not aligned with its dates")
        colour = _colour(i, s.get("colour"))
        symbol = s.get("symbol", "circle")
        marker = {"color": colour, "size": 9, "symbol": symbol, "line": {"color": colour, "width": 2}}
        hover = "%{x|%Y-%m}: %{y:.1f}<extra>%{fullData.name}</extra>"
        n = s.get("n")
        if n is not None:
            n = list(n)
            marker["symbol"] = [f"{symbol}-open" if k is not None and k < few_below else symbol for k in n]
            hover = "%{x|%Y-%m}: %{y:.1f} (n = %{customdata})<extra>%{fullData.name}</extra>"
        traces.append(
            go.Scatter(
                x=dates,
                y=values,
                customdata=n,
                name=_plain(s["name"]),
                mode="lines+markers",
                connectgaps=False,
                line={"color": colour, "width": 2, "dash": s.get("dash", "solid")},
                marker=marker,
                hovertemplate=hover,
                cliponaxis=False,
            )
        )
    xaxis = {"type": "date", "tickformat": "%Y-%m", "fixedrange": True, "showgrid": False}
    return go.Figure(data=traces, layout=_layout(title, xaxis=xaxis, yaxis=_score_axis(y_title)))
