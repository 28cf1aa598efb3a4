"""Tests of the EHR integration API.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
