"""What surveys tells the apps built on it, so that it never imports them (docs/architecture.md)."""

from django.dispatch import Signal

responses_erased = Signal()
"""Sent after a patient's responses were deleted (`services.forget_patient`), inside its transaction, with
`practice`, `first` and `last`: the first and last local day of the erased responses. Receivers rebuild what
they built from them."""
