"""figures.charts: plain numbers in, Plotly figures out. No database needed."""

import datetime
import json
import re

import plotly.graph_objects as go
import pytest

from figures import charts
from measurement import scoring

DOMAINS_ES = ["Valoración", "Poder", "Permanencia", "Confianza", "Esperanza", "Ser conocido"]
MONTHS = [datetime.date(2024, m, 1) for m in range(1, 7)]
BINS = list(range(0, 100, 10))


def heatmap_fig(**kw):
    return charts.heatmap(
        ["Dra. Ruiz", "Dr. Pérez"],
        DOMAINS_ES[:3],
        [[81.25, None, 50.0], [None, 20.0, 0.0]],
        title="Media por clínico y dominio",
        hidden_text="oculto",
        colorbar_title="Puntuación",
        **kw,
    )


def means_fig():
    return charts.means_with_intervals(
        [
            {"name": "Pacientes", "means": [80.0, None, 60.0], "low": [75.0, None, 50.0], "high": [86.0, None, 70.0]},
            {"name": "Clínicos", "means": [70.0, 72.0, 65.0], "low": [60.0, 66.0, 55.0], "high": [79.0, 78.0, 75.0],
             "colour": charts.RESPONDENT_COLOURS["clinician"], "n": [40, 12, 30]},
        ],
        DOMAINS_ES[:3],
        title="Medias con intervalos",
        y_title="Puntuación (0–100)",
    )


def trend_fig():
    return charts.trend(
        MONTHS,
        [
            {"name": "Esperanza", "values": [60.0, 62.0, None, 70.0, 71.0, 75.0],
             "colour": charts.DOMAIN_COLOURS["hope"]},
            {"name": "Confianza", "values": [50.0, 55.0, 58.0, None, 61.0, 66.0]},
        ],
        title="Tendencia mensual",
        y_title="Puntuación",
    )


def distribution_fig():
    return charts.distribution(
        BINS,
        [
            {"name": "Pacientes", "counts": [0, 1, 2, 3, 5, 9, 14, 22, 30, 18]},
            {"name": "Clínicos", "counts": [0, 0, 1, 4, 8, 15, 20, 25, 19, 10], "colour": charts.PALETTE[3]},
        ],
        title="Distribución",
        x_title="Puntuación",
        y_title="Respuestas",
    )


SERIES = [
    {"name": "Valoración", "points": {(100.0, 100.0): 1, (80.0, 70.0): 3}},
    {"name": "Confianza", "points": {(40.0, 90.0): 1}, "colour": charts.PALETTE[4]},
]


def concordance_fig():
    return charts.concordance(SERIES, title="Concordancia", x_title="Paciente", y_title="Clínico")


def funnel_fig():
    return charts.funnel(["Invitados", "Abiertos", "Respondidos"], [500, 380, 290], title="Embudo")


def funnel_plot_fig():
    domain = {"label": "Valuing", "centre": 70.0, "limits": [(n, 60.0, 80.0, 55.0, 85.0) for n in (2, 10)],
              "points": [{"name": "Ann", "n": 10, "mean": 75.0, "reliable": True}]}
    return charts.funnel_plot([domain], title="Funnel", x_title="Patients", y_title="Mean", unreliable="no")


def gaps_fig(counts=((1, 6, 3), (0, 10, 0), None, (4, 4, 2), (2, 2, 6), (0, 0, 0))):
    return charts.gap_bands(DOMAINS_ES, list(counts), band_names=("Yo más bajo", "Dentro del error", "Yo más alto"),
                            title="Cómo se reparten mis diferencias", x_title="Porcentaje de rondas")


ALL_FIGURES = [heatmap_fig, means_fig, trend_fig, distribution_fig, concordance_fig, funnel_fig, gaps_fig]


# Palette


def test_domain_colours_cover_every_domain_from_the_palette():
    assert set(charts.DOMAIN_COLOURS) == set(scoring.SHARED_DOMAINS + scoring.COMPETENCY_DOMAINS)
    assert set(charts.DOMAIN_COLOURS.values()) <= set(charts.PALETTE)


def test_the_six_shared_domains_have_distinct_colours():
    assert len({charts.DOMAIN_COLOURS[d] for d in scoring.SHARED_DOMAINS}) == 6


def test_the_four_competencies_have_distinct_colours():
    assert len({charts.DOMAIN_COLOURS[d] for d in scoring.COMPETENCY_DOMAINS}) == 4


def test_palette_is_okabe_ito():
    assert charts.PALETTE == (
        "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
    )


# Common layout


@pytest.mark.parametrize("make", ALL_FIGURES)
def test_it_returns_a_figure_with_the_common_layout(make):
    fig = make()
    assert isinstance(fig, go.Figure)
    assert fig.layout.height >= 360
    assert fig.layout.template.layout.plot_bgcolor == "white"
    assert fig.layout.template.layout.paper_bgcolor == "white"
    # The template is plotly's default (charts.py), so it must still travel in the JSON the page draws.
    assert json.loads(charts.figure_json(fig))["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
    if fig.layout.showlegend:
        assert fig.layout.legend.orientation == "h"
        assert fig.layout.legend.yanchor == "bottom" and fig.layout.legend.y == 0  # under the plot


@pytest.mark.parametrize("make", ALL_FIGURES)
def test_it_needs_no_network(make):
    text = charts.figure_json(make())
    assert "http" not in text
    assert "mapbox" not in text
    assert "scattergl" not in text


@pytest.mark.parametrize("make", [means_fig, trend_fig, concordance_fig])
def test_score_axes_run_from_0_to_100_in_steps_of_20(make):
    yaxis = make().layout.yaxis
    assert tuple(yaxis.range) == (0, 100)
    assert yaxis.dtick == 20 and yaxis.tick0 == 0


def test_titles_and_labels_come_from_the_caller():
    assert heatmap_fig().layout.title.text == "Media por clínico y dominio"
    assert heatmap_fig().data[0].colorbar.title.text == "Puntuación"
    assert means_fig().layout.yaxis.title.text == "Puntuación (0–100)"
    assert [t.name for t in means_fig().data] == ["Pacientes", "Clínicos"]
    assert list(means_fig().data[0].x) == DOMAINS_ES[:3]
    fig = distribution_fig()
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("Puntuación", "Respuestas")
    fig = concordance_fig()
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("Paciente", "Clínico")
    assert "Paciente" in fig.data[0].hovertemplate and "Clínico" in fig.data[0].hovertemplate
    assert gaps_fig().layout.xaxis.title.text == "Porcentaje de rondas"
    assert list(funnel_fig().data[0].y) == ["Invitados", "Abiertos", "Respondidos"]


def test_caller_text_is_drawn_literally_not_as_markup():
    fig = charts.heatmap(["A <b>&</b>"], ["x"], [[1.0]], title="<i>t</i>")
    assert list(fig.layout.yaxis.ticktext) == ["A &lt;b&gt;&amp;&lt;/b&gt;"]
    assert fig.layout.title.text == "&lt;i&gt;t&lt;/i&gt;"


# heatmap


def test_heatmap_passes_values_through_with_none_preserved():
    fig = heatmap_fig()
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert [list(row) for row in trace.z] == [[81.25, None, 50.0], [None, 20.0, 0.0]]
    # The colour scale spans the means there are (to the next 5), so their differences show.
    assert (trace.zmin, trace.zmax) == (0, 85)
    assert list(fig.layout.yaxis.ticktext) == ["Dra. Ruiz", "Dr. Pérez"]
    assert list(fig.layout.xaxis.ticktext) == DOMAINS_ES[:3]


def test_heatmap_shows_uncoloured_cells_in_grey_text_and_scales_colour_to_the_others():
    fig = heatmap_fig(uncoloured=[[True, False, False], [False, False, False]], uncoloured_text="poco fiable")
    (trace,) = fig.data
    assert [list(row) for row in trace.z] == [[None, None, 50.0], [None, 20.0, 0.0]]
    assert (trace.zmin, trace.zmax) == (0, 50)
    grey = [a for a in fig.layout.annotations if a.text == "81.2" or a.text == "81.3"]
    assert [(a.x, a.y) for a in grey] == [(0, 0)]
    assert "poco fiable" in trace.hovertext[0][0]


def test_heatmap_keeps_nearly_equal_means_on_a_scale_ten_points_wide():
    fig = charts.heatmap(["a", "b"], ["x"], [[71.0], [72.0]], title="t")
    assert (fig.data[0].zmin, fig.data[0].zmax) == (70, 80)


def test_heatmap_marks_exactly_the_hidden_cells():
    fig = heatmap_fig()
    marked = {(a.y, a.x) for a in fig.layout.annotations}
    assert marked == {(0, 1), (1, 0)}
    assert {a.text for a in fig.layout.annotations} == {"oculto"}


def test_heatmap_shows_values_to_one_decimal_and_nothing_in_hidden_cells():
    trace = heatmap_fig().data[0]
    assert [list(row) for row in trace.text] == [["81.2", "", "50.0"], ["", "20.0", "0.0"]]
    assert trace.texttemplate == "%{text}"
    assert trace.hoverongaps is False


def test_heatmap_uses_a_colour_blind_safe_scale():
    assert heatmap_fig().data[0].colorscale == go.Heatmap(colorscale="Cividis").colorscale


def test_heatmap_keeps_two_clinicians_with_the_same_name_apart():
    fig = charts.heatmap(["Dr. Pérez", "Dr. Pérez"], ["a"], [[10.0], [90.0]], title="t")
    assert list(fig.data[0].y) == [0, 1]
    assert list(fig.layout.yaxis.ticktext) == ["Dr. Pérez", "Dr. Pérez"]


def test_heatmap_default_hidden_text_can_be_overridden():
    fig = charts.heatmap(["a"], ["b"], [[None]], title="t")
    assert fig.layout.annotations[0].text == "hidden"


def test_heatmap_rejects_values_that_do_not_match_the_labels():
    with pytest.raises(ValueError):
        charts.heatmap(["a", "b"], ["x", "y"], [[1.0, 2.0], [3.0]], title="t")


# means_with_intervals


def test_means_with_intervals_draws_dots_with_asymmetric_error_bars():
    fig = means_fig()
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    assert all(t.mode == "markers" for t in fig.data)
    patients, clinicians = fig.data
    assert list(patients.y) == [80.0, None, 60.0]
    assert patients.error_y.symmetric is False
    assert list(patients.error_y.array) == [6.0, None, 10.0]  # high - mean
    assert list(patients.error_y.arrayminus) == [5.0, None, 10.0]  # mean - low
    assert list(clinicians.error_y.array) == [9.0, 6.0, 10.0]
    assert list(clinicians.error_y.arrayminus) == [10.0, 6.0, 10.0]


def test_means_with_intervals_sets_series_side_by_side():
    assert means_fig().layout.scattermode == "group"


def test_means_with_intervals_colours_series_from_the_palette_or_the_caller():
    patients, clinicians = means_fig().data
    assert patients.marker.color == charts.PALETTE[0]
    assert clinicians.marker.color == charts.RESPONDENT_COLOURS["clinician"]
    assert clinicians.error_y.color == charts.RESPONDENT_COLOURS["clinician"]


def test_means_with_intervals_draws_few_responses_hollow():
    clinicians = means_fig().data[1]
    assert list(clinicians.marker.symbol) == ["circle", "circle-open", "circle"]  # n = 40, 12, 30
    assert list(clinicians.customdata) == [40, 12, 30]


def test_means_with_intervals_rejects_a_misaligned_series():
    with pytest.raises(ValueError):
        charts.means_with_intervals(
            [{"name": "x", "means": [1.0], "low": [0.0], "high": [2.0]}], ["a", "b"], title="t", y_title="y"
        )


# trend


def test_trend_draws_one_small_plot_per_domain_with_lines_that_leave_gaps():
    fig = trend_fig()
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    hope, trust = lines
    assert hope.connectgaps is False and trust.connectgaps is False
    assert list(hope.x) == [m.isoformat() for m in MONTHS]
    assert list(hope.y) == [60.0, 62.0, None, 70.0, 71.0, 75.0]
    assert hope.line.color == charts.DOMAIN_COLOURS["hope"]
    assert trust.line.color in charts.PALETTE
    assert (hope.xaxis, hope.yaxis) == ("x", "y") and (trust.xaxis, trust.yaxis) == ("x2", "y2")
    assert [a.text for a in fig.layout.annotations] == ["Esperanza", "Confianza"]  # each small plot named


def control_fig():
    return charts.trend(
        MONTHS,
        [{"name": "Hope", "values": [60.0, 62.0, None, 70.0, 71.0, 90.0], "centre": 66.0,
          "lower": [58.0, 58.0, None, 59.0, 59.0, 60.0], "upper": [74.0, 74.0, None, 73.0, 73.0, 72.0],
          "called": [False, False, False, False, False, True]}],
        title="t", y_title="y", called_text="beyond the limits",
    )


def test_trend_draws_the_band_between_the_limits_and_the_centre_line():
    fig = control_fig()
    upper, lower, centre = fig.data[:3]
    assert list(upper.y) == [74.0, 74.0, None, 73.0, 73.0, 72.0]
    assert list(lower.y) == [58.0, 58.0, None, 59.0, 59.0, 60.0]
    assert lower.fill == "tonexty"  # the shaded band
    assert list(centre.y) == [66.0, 66.0] and list(centre.x) == [MONTHS[0].isoformat(), MONTHS[-1].isoformat()]


def test_trend_rings_a_called_point_and_says_so_on_hover():
    ring = control_fig().data[-1]
    assert list(ring.x) == [MONTHS[-1].isoformat()] and list(ring.y) == [90.0]
    assert "beyond the limits" in ring.hovertemplate
    assert not [t for t in trend_fig().data if t.mode == "markers"]  # nothing called, no ring


def test_trend_writes_why_at_each_marked_month_so_a_printed_hole_explains_itself():
    fig = charts.trend(MONTHS, [{"name": "Hope", "values": [60.0, 62.0, None, 70.0, 71.0, 75.0]}], title="t",
                       y_title="y", marked=[MONTHS[2]], marked_text="hidden: too few dyads")
    assert [(a.x, a.text, a.textangle) for a in fig.layout.annotations] == [
        (MONTHS[2].isoformat(), "hidden: too few dyads", -90)
    ]
    assert all(a.textangle is None for a in trend_fig().layout.annotations)  # nothing marked, nothing written


def test_trend_ticks_months_as_iso_months():
    xaxis = trend_fig().layout.xaxis
    assert xaxis.type == "date"
    assert xaxis.dtick == "M1"
    assert xaxis.tickformat == "%Y-%m"  # plotly's month names would be English


# distribution


def test_distribution_draws_grouped_bars_per_bin():
    fig = distribution_fig()
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert fig.layout.barmode == "group"
    patients, clinicians = fig.data
    assert list(patients.x) == ["0–9", "10–19", "20–29", "30–39", "40–49",
                                "50–59", "60–69", "70–79", "80–89", "90–100"]
    assert list(patients.y) == [0, 1, 2, 3, 5, 9, 14, 22, 30, 18]
    assert patients.marker.color == charts.PALETTE[0]
    assert clinicians.marker.color == charts.PALETTE[3]


# concordance


def test_concordance_draws_one_svg_scatter_per_series():
    fig = concordance_fig()
    assert [t.type for t in fig.data] == ["scatter", "scatter"]  # never scattergl: it neither prints nor runs offline
    valuing, trust = fig.data
    assert (valuing.name, list(valuing.x), list(valuing.y)) == ("Valoración", [80.0, 100.0], [70.0, 100.0])
    assert (trust.name, list(trust.x), list(trust.y)) == ("Confianza", [40.0], [90.0])
    # Waves with the same two scores share one marker, bigger for more waves, their number on hover.
    assert list(valuing.customdata) == [3, 1] and list(trust.customdata) == [1]
    assert valuing.marker.size[0] > valuing.marker.size[1] == trust.marker.size[0]
    assert "%{customdata}" in valuing.hovertemplate
    assert trust.marker.color == charts.PALETTE[4]
    assert valuing.marker.color in charts.PALETTE


def test_concordance_has_the_identity_line_and_the_gap_band():
    lines = {(s.x0, s.y0, s.x1, s.y1): s.line.dash for s in concordance_fig().layout.shapes}
    assert lines[(0, 0, 100, 100)] == "dash"
    assert lines[(0, 25, 75, 100)] == "dot"
    assert lines[(25, 0, 100, 75)] == "dot"


def test_concordance_axes_are_square_from_0_to_100():
    layout = concordance_fig().layout
    assert tuple(layout.xaxis.range) == tuple(layout.yaxis.range) == (0, 100)
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis.scaleratio == 1


# funnel


def test_funnel_shows_values_and_percent_of_the_first_stage():
    (trace,) = funnel_fig().data
    assert trace.type == "funnel"
    assert list(trace.x) == [500, 380, 290]
    assert trace.textinfo == "value+percent initial"


# gaps


def test_gap_bands_stack_the_three_bands_as_shares_of_each_domains_waves():
    fig = gaps_fig()
    assert [t.name for t in fig.data] == ["Yo más bajo", "Dentro del error", "Yo más alto"]
    assert fig.layout.barmode == "stack"
    lower, within, higher = fig.data
    assert all(t.type == "bar" and t.orientation == "h" and list(t.y) == DOMAINS_ES for t in fig.data)
    assert list(lower.x)[0] == pytest.approx(10.0) and list(higher.x)[0] == pytest.approx(30.0)
    assert list(within.customdata)[:2] == [6, 10]  # the counts, on hover
    assert tuple(fig.layout.xaxis.range) == (0, 100)


def test_gap_bands_leave_withheld_and_empty_domains_blank():
    lower, within, higher = gaps_fig().data
    for trace in (lower, within, higher):
        assert list(trace.x)[2] is None and list(trace.customdata)[2] is None  # withheld
        assert list(trace.x)[5] is None  # no waves: no share to draw


def test_gap_bands_colour_the_sides_as_everywhere_else():
    lower, within, higher = gaps_fig().data
    assert lower.marker.color == charts.RESPONDENT_COLOURS["patient"]
    assert higher.marker.color == charts.RESPONDENT_COLOURS["clinician"]


# Output


@pytest.mark.parametrize("make", ALL_FIGURES)
def test_figure_json_round_trips(make):
    fig = make()
    assert json.loads(charts.figure_json(fig)) == json.loads(fig.to_json())


def test_figure_json_cannot_end_its_script_element():
    fig = charts.funnel(["</script><script>alert(1)</script>", "<!--"], [2, 1], title="&")
    text = charts.figure_json(fig)
    assert "<" not in text and ">" not in text
    assert json.loads(text)["data"][0]["y"][0] == "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def test_figure_html_needs_no_network():
    html = charts.figure_html(heatmap_fig(), "chart-heatmap")
    assert 'id="chart-heatmap"' in html
    assert "<script src" not in html
    assert "cdn" not in html.lower()
    assert '"displaylogo": false' in html


def test_plotly_js_is_the_bundle_the_pages_serve_for_the_version_the_figures_were_built_for():
    import plotly

    js = charts.plotly_js()
    assert js.lstrip().startswith("/**")
    # The Python package builds figures for one plotly.js version; the vendored bundle is that version.
    full_bundle_banner = plotly.offline.get_plotlyjs()[:200]
    version = re.search(r"plotly\.js (v[\d.]+)", full_bundle_banner).group(1)
    assert f"plotly.js {version} (partial bundle" in js[:200]
    assert len(js) < 1_500_000  # the full bundle is 4.8 MB
    # Not even the map charts' default addresses: a report file names no CDN.
    assert not re.search(r"https?://cdn\.", js) and 'topojsonURL:{valType:"string",noBlank:!0,dflt:"topojson/"}' in js


@pytest.mark.parametrize("make", [*ALL_FIGURES, funnel_plot_fig])
def test_every_chart_draws_only_trace_types_the_served_plotly_js_holds(make):
    from plumbing import plotlyjs

    # Otherwise the page would draw an empty chart: rebuild the bundle with the new type (tools/plotly-bundle/).
    assert {trace.type for trace in make().data} <= plotlyjs.trace_types()


def test_the_served_plotly_js_holds_the_types_we_draw_and_not_the_heavy_ones():
    from plumbing import plotlyjs

    assert plotlyjs.trace_types() == {"scatter", "bar", "heatmap", "funnel"}


def test_no_chart_offers_to_send_its_data_to_plotlys_cloud():
    from pathlib import Path

    assert charts.CONFIG["showSendToCloud"] is False
    page_script = (Path(__file__).resolve().parents[2] / "static" / "js" / "charts.js").read_text()
    assert "showSendToCloud: false" in page_script
    # The plotly.js we ship has no Chart Studio button to offer (so no option to turn it off).
    assert "showEditInChartStudio" not in charts.plotly_js() and "showEditInChartStudio" not in page_script


def test_building_a_report_figure_warns_about_no_unknown_plotly_option():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = charts.figure_html(charts.heatmap(["a"], ["x"], [[50.0]], title="t"), "w-test")
    assert "w-test" in html


def test_the_funnel_plot_draws_each_domain_with_its_limits_and_no_ranking_colour_for_unreliable_points():
    domains = [
        {
            "label": label,
            "centre": 70.0,
            "limits": [(n, 70 - 20 / n, 70 + 20 / n, 70 - 30 / n, 70 + 30 / n) for n in range(2, 12)],
            "points": [{"name": "Ann", "n": 10, "mean": 75.0, "reliable": True},
                       {"name": "Bob <b>", "n": 3, "mean": 60.0, "reliable": False}],
        }
        for label in ("Valuing", "Trust")
    ]
    fig = charts.funnel_plot(domains, title="Funnel", x_title="Patients", y_title="Mean", unreliable="not reliable")
    points = [trace for trace in fig.data if trace.mode == "markers"]
    assert len(points) == 2  # one small plot per domain
    assert list(points[0].marker.symbol) == ["circle", "circle-open"]
    assert points[0].marker.color[1] == "#888888"  # grey: no ranking colour
    assert points[0].text[1] == "Bob &lt;b&gt; (not reliable)"  # names drawn literally
    limit_lines = [trace for trace in fig.data if trace.mode == "lines"]
    assert len(limit_lines) == 2 * 3  # the 95% pair, the 99.8% pair and the centre, per domain
    ninety_five, ninety_nine_eight, centre = limit_lines[:3]
    # A pair is its lower curve, a gap, then its upper curve, over the same sizes.
    sizes = list(range(2, 12))
    assert list(ninety_five.x) == [*sizes, None, *sizes] and ninety_five.line.dash == "dot"
    assert list(ninety_five.y) == [*(70 - 20 / n for n in sizes), None, *(70 + 20 / n for n in sizes)]
    assert list(ninety_nine_eight.y) == [*(70 - 30 / n for n in sizes), None, *(70 + 30 / n for n in sizes)]
    assert ninety_nine_eight.line.dash == "dash" and ninety_five.connectgaps is False
    assert list(centre.y) == [70.0, 70.0]
