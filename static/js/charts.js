// Charts: draws every <div data-chart="ID"> from the figure in <script type="application/json" id="ID">
// (written by figures.charts.figure_json). No inline scripts: this file is all a page runs, so a strict CSP holds.
//
// Light on the page's first seconds (docs/performance.md, "pages"): plotly.js (1 MB, the script tag's
// data-plotly-src) is fetched only when a chart comes into the viewport, and each chart is drawn when it does,
// one chart per task, so no chart the reader never scrolls to costs any work and no single task holds the page
// for long. Asked to print, it starts drawing the charts not yet drawn. Each chart's box already has its final height
// (data-chart-height, static/css/healing.css), so drawing moves nothing on the page.
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
  // Draw a chart once a quarter of it is in the viewport: one whose top edge only peeks above the bottom of
  // a phone's first screen waits until the reader scrolls to it. A margin ahead (300px was tried) drew one or two
  // more charts while the page loaded, and on a phone the first chart costs a long task: plotly.js's
  // evaluation, then the drawing (docs/performance.md).
  var AHEAD = "0px";
  var SEEN = 0.25;
  var script = document.currentScript;
  var plotlySrc = script && script.getAttribute("data-plotly-src");
  var plotly = null;  // a promise of window.Plotly, once asked for
  var queue = [];     // charts waiting to be drawn, in page order
  var busy = false;
  var drawn = [];
  var observer = null;

  function loadPlotly() {
    if (!plotly) {
      plotly = new Promise(function (resolve, reject) {
        if (window.Plotly) { resolve(window.Plotly); return; }
        if (!plotlySrc) { reject(new Error("no plotly.js source")); return; }
        var tag = document.createElement("script");
        tag.src = plotlySrc;
        tag.async = true;
        tag.onload = function () { if (window.Plotly) { resolve(window.Plotly); } else { reject(new Error("no Plotly")); } };
        tag.onerror = function () { reject(new Error("plotly.js did not load")); };
        document.head.appendChild(tag);
      });
      plotly.catch(function (e) {
        // No plotly.js: the fallback tables stay, and the boxes kept for the charts are given back.
        if (window.console) { window.console.warn("charts.js:", e.message); }
        Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (el) {
          el.removeAttribute("data-chart-height");
          el.style.minHeight = "";
        });
      });
    }
    return plotly;
  }

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
    if (el.getAttribute("data-rendered") === "1" || !document.documentElement.contains(el)) { return null; }
    var fig = figureFor(el);
    if (!fig) { return null; }
    // Marked before drawing: a second scan (an htmx swap while Plotly works) must not draw it again.
    el.setAttribute("data-rendered", "1");

    var fallback = el.querySelectorAll("[data-chart-fallback]");
    if (!fallback.length) { fallback = el.children; }
    Array.prototype.slice.call(fallback).forEach(function (node) {
      node.classList.add("visually-hidden");
    });
    drawn.push(el);
    // Plotly adds its drawing after the element's existing content; it never removes that content.
    return window.Plotly.newPlot(el, fig.data || [], fig.layout || {}, CONFIG).then(function () {
      Array.prototype.forEach.call(el.querySelectorAll("svg.main-svg"), function (svg) {
        svg.setAttribute("aria-hidden", "true");
      });
    });
  }

  function next() {
    // One chart per task: between two charts the browser may paint and answer the reader.
    if (busy || !queue.length) { return; }
    busy = true;
    loadPlotly().then(function () {
      setTimeout(function () {
        var el = queue.shift();
        Promise.resolve(draw(el)).catch(function (e) {
          if (window.console) { window.console.warn("charts.js: chart not drawn", e); }
        }).then(function () {
          busy = false;
          next();
        });
      }, 0);
    }, function () { queue = []; busy = false; });
  }

  function want(el) {
    if (el.getAttribute("data-rendered") === "1" || queue.indexOf(el) !== -1) { return; }
    queue.push(el);
    next();
  }

  function forget() {
    // Charts an htmx swap took out of the page: free Plotly's listeners (a resize handler per chart).
    drawn = drawn.filter(function (plot) {
      if (document.documentElement.contains(plot)) { return true; }
      window.Plotly.purge(plot);
      return false;
    });
    queue = queue.filter(function (el) { return document.documentElement.contains(el); });
  }

  function reserve(el) {
    // charts.css gives the box its height where CSS attr() takes a unit; elsewhere, this does.
    var height = parseInt(el.getAttribute("data-chart-height"), 10);
    if (height > 0 && !el.style.minHeight) { el.style.minHeight = height + "px"; }
  }

  function scan() {
    if (window.Plotly) { forget(); }
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (el) {
      if (el.getAttribute("data-rendered") === "1") { return; }
      reserve(el);
      if (observer) { observer.observe(el); } else { want(el); }  // no IntersectionObserver: draw them all
    });
  }

  if (window.IntersectionObserver) {
    observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting && entry.intersectionRatio >= SEEN) {
          observer.unobserve(entry.target);
          want(entry.target);
        }
      });
    }, { rootMargin: AHEAD, threshold: SEEN });
  }

  function drawEverything() {
    // Printing: the charts not yet drawn are drawn as fast as they can be (the print dialog does not wait;
    // by the time its preview is redrawn, they are there).
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), want);
  }

  function resizeShown() {
    // A chart drawn inside a hidden tab or collapsed panel has the wrong width until it is shown.
    if (!window.Plotly) { return; }
    drawn.forEach(function (plot) {
      if (plot.offsetParent !== null) { window.Plotly.Plots.resize(plot); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
  document.addEventListener("htmx:afterSettle", scan);
  document.addEventListener("shown.bs.tab", resizeShown);
  document.addEventListener("shown.bs.collapse", resizeShown);
  window.addEventListener("beforeprint", drawEverything);
}());
