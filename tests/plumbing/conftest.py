"""Tests of the plumbing: rate limits, log redaction, the replica router.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
