// The plotly.js we serve: the core (scatter is always in it) and the trace types figures/charts.py draws.
// Add a trace type here when a chart starts using one (tests/figures/test_charts.py checks every chart's types).
'use strict';
var Plotly = require('plotly.js/lib/core');
Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/funnel'),
]);
module.exports = Plotly;
