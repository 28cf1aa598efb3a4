"""Tests of the read side: charts, suppression as people see it, query counts, reliability.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
