"""The one plotly.js we ship: a partial bundle vendored in static/vendor/plotly/, served to pages as a static file
and inlined into offline reports.

plotly's full bundle (the copy inside the Python package) is 4.8 MB and took Lighthouse's total blocking time to
~1.2 s on the dashboard; this one holds only the trace types figures/charts.py draws (scatter, bar, heatmap,
funnel) and is 1.0 MB (0.37 MB gzipped). It is built from the plotly.js npm package of the version the Python
package was made for, by tools/plotly-bundle/build.sh (static/vendor/VERSIONS.txt). `trace_types()` is what it
holds; tests/figures/test_charts.py checks that every chart draws only those.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

PLOTLY_JS_PATH = Path(__file__).resolve().parent.parent / "static" / "vendor" / "plotly" / "plotly.min.js"


@functools.cache
def source() -> str:
    """The bundle's text (read once per process)."""
    return PLOTLY_JS_PATH.read_text(encoding="utf-8")


def trace_types() -> frozenset[str]:
    """The trace types the bundle registers (each trace module says `moduleType:"trace",name:"..."`)."""
    return frozenset(re.findall(r'moduleType:"trace",name:"(\w+)"', source()))
