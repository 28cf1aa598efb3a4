"""Tests of the HTML pages: the questionnaire, manager pages, translations.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
