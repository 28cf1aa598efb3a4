// Charts: draws every <div data-chart="ID"> from the figure in <script type="application/json" id="ID">
// (written by figures.charts.figure_json). No inline scripts: this file is all a page runs, so a strict CSP holds.
//
// The element's own content is the fallback (a table of the same numbers). Without Plotly, or if a figure
// cannot be read, it stays as it is. Once a chart is drawn, the fallback is kept for screen readers but hidden
// from view (Bootstrap's "visually-hidden"), and Plotly's drawing (its SVG layers) is aria-hidden: the table says it
// better. Plotly's toolbar is left as it is: labelled <button>s that keyboard and screen-reader users can operate
// (aria-hidden on anything focusable would hide controls that still take focus: WCAG 4.1.2).
// Mark the fallback with data-chart-fallback; without such a mark, all of the element's content counts.
(function () {
  "use strict";
  // The same as figures.charts.CONFIG.
  // Never offer to send a chart to plotly's cloud: patient data stays on our servers.
  var CONFIG = {
    displaylogo: false, responsive: true, showSendToCloud: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "sendDataToCloud", "editInChartStudio"]
  };
  var drawn = [];

  function figureFor(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source || source.tagName !== "SCRIPT" || source.type !== "application/json") { return null; }
    try {
      return JSON.parse(source.textContent);
    } catch (e) {
      if (window.console) { window.console.warn("charts.js: unreadable figure", source.id, e); }
      return null;
    }
  }

  function draw(el) {
    if (el.getAttribute("data-rendered") === "1") { return; }
    var fig = figureFor(el);
    if (!fig) { return; }
    // Marked before drawing: a second scan (an htmx swap while Plotly works) must not draw it again.
    el.setAttribute("data-rendered", "1");

    var fallback = el.querySelectorAll("[data-chart-fallback]");
    if (!fallback.length) { fallback = el.children; }
    Array.prototype.slice.call(fallback).forEach(function (node) {
      node.classList.add("visually-hidden");
    });
    // Plotly adds its drawing after the element's existing content; it never removes that content.
    window.Plotly.newPlot(el, fig.data || [], fig.layout || {}, CONFIG).then(function () {
      Array.prototype.forEach.call(el.querySelectorAll("svg.main-svg"), function (svg) {
        svg.setAttribute("aria-hidden", "true");
      });
    });
    drawn.push(el);
  }

  function forget() {
    // Charts an htmx swap took out of the page: free Plotly's listeners (a resize handler per chart).
    drawn = drawn.filter(function (plot) {
      if (document.documentElement.contains(plot)) { return true; }
      window.Plotly.purge(plot);
      return false;
    });
  }

  function drawAll() {
    if (!window.Plotly) { return; }  // no plotly.js: the fallback tables stay
    forget();
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  }

  function resizeShown() {
    // A chart drawn inside a hidden tab or collapsed panel has the wrong width until it is shown.
    if (!window.Plotly) { return; }
    drawn.forEach(function (plot) {
      if (plot.offsetParent !== null) { window.Plotly.Plots.resize(plot); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
  document.addEventListener("htmx:afterSettle", drawAll);
  document.addEventListener("shown.bs.tab", resizeShown);
  document.addEventListener("shown.bs.collapse", resizeShown);
}());
