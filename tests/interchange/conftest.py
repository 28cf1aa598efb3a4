"""Tests of the interchange formats: FHIR, research exports, the EHR visit import.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
