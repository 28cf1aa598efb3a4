"""Tests of the demo data: the generative model (demo/answers.py) and what seed_demo writes with it.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
