"""Tests of the pure measurement package: scoring, statistics and instrument files.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
