"""The web worker's start: load what every request needs, then take it out of the garbage collector's sight.

A worker's first request would otherwise import the views and read each language's catalog; doing it before
serving keeps that cost off the first patient. Then `gc.freeze()` moves every object alive at that point (the
modules, the URLconf, the catalogs: about 140,000 objects) into a permanent generation that the
collector no longer walks. A full collection while the dashboard builds its tables otherwise re-walks them
all: measured in one process on the 20,000-visit bench, collection time per dashboard fell from 18-20 ms to
about 3 ms (docs/performance.md). The `gc.collect()` first clears what start-up left behind, so no garbage is
frozen with the rest. Frozen objects are never collected, so only what lives for the whole worker belongs here.
"""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver
from django.utils import translation


def load_and_freeze() -> None:
    """Import every view and load each language's catalog, then freeze what is alive (module docstring)."""
    get_resolver().url_patterns  # noqa: B018 - resolving imports each URLconf and its views
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            translation.gettext("Practice")
    gc.collect()
    gc.freeze()
