"""Suppression rules: which counts are too small to show, alone or beside the others.

Pure functions on counts; who is looking and what to do with a hidden figure are `figures.disclosure`'s.
The reasoning, and what the rules do not protect against, are in docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping


def is_suppressed(n: int, min_n: int) -> bool:
    """A clinician-level figure from fewer than min_n dyads could identify patients, so it is not shown."""
    return n < min_n


def complementary_suppression(counts: Mapping[Hashable, int], min_n: int) -> tuple[set, bool]:
    """Which clinicians' figures to hide, and whether the practice figure must go too.

    Hiding only the clinicians with n < min_n is not enough: the practice figure minus the shown
    clinicians' figures gives back the hidden group's figure. So the hidden group is grown, smallest
    shown clinician first, until it holds at least two clinicians and min_n dyads together; when even
    all of them cannot, the practice figure is hidden as well. `counts` maps clinician -> n (n > 0).
    """
    present = {key: n for key, n in counts.items() if n > 0}
    hidden = {key for key, n in present.items() if n < min_n}
    if not hidden:
        return set(), False

    def safe() -> bool:
        return len(hidden) >= 2 and sum(present[key] for key in hidden) >= min_n

    shown = sorted((n, str(key), key) for key, n in present.items() if key not in hidden)
    while not safe() and shown:
        hidden.add(shown.pop(0)[2])
    return hidden, not safe()
