"""Cross-cutting suites kept whole: permission matrix, security, concurrency, load, fuzzing, the command line,
workers, deployment files.

Shared fixtures (users, practices, instruments) come from tests/conftest.py."""
