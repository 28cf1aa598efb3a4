"""Tests of the questionnaire core: services, constraints, the read model, migrations, erasure.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
