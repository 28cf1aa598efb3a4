"""Plumbing: HTTP limits and middleware, client addresses, the one CSV writer, periods, static files, replicas.

Knows Django but nothing of the model we measure, so every app above can use it (docs/architecture.md).
"""
