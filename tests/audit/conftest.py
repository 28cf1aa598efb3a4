"""Tests of the audit trail.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
