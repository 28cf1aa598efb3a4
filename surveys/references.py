"""Patient references: the practice's pseudonymous codes, never names (docs/privacy.md).

Every way a visit is recorded from outside (the EHR file import, the API and `manage.py create_visit`) refuses a
reference that may be a name by the one rule here, each in its own words for its own reader.
"""

MAX_LENGTH = 64
"""`Patient.reference`'s length."""


def looks_like_name(reference: str) -> bool:
    """Whether a patient reference may be a name rather than a code: it has no digit.

    A name ("Jane Smith", "O'Brien-López") is letters, spaces and punctuation only; every EHR code we have seen
    (MRN 004512, PA-001) carries a digit."""
    return not any(c.isdigit() for c in reference)
