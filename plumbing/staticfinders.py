"""Serve plotly.js from the installed plotly package, so the browser and the Python figures always agree.

A finder (rather than a copied file) keeps the 4 MB bundle out of git and in step with pip.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_PATH = "vendor/plotly/plotly.min.js"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        self.storage = FileSystemStorage(location=str(PLOTLY_DIR))
        self.storage.prefix = "vendor/plotly"

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        """The path, or [] for no match as Django's own finders answer: a None here would reach
        `finders.find` as a match ([None]) and turn a missing static file into a 500 under runserver."""
        if path != PLOTLY_PATH:
            return []
        match = str(PLOTLY_DIR / "plotly.min.js")
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
