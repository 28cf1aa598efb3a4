"""Tests of invitations by email and SMS.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
