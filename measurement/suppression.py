"""Suppression rules: which counts are too small to show, alone or beside the others.

Pure functions on counts; who is looking and what to do with a hidden figure are `figures.disclosure`'s.
The reasoning, and what the rules do not protect against, are in docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping


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


def hide_cells(
    counts: Mapping[Hashable, int],
    groups: Iterable[tuple[Hashable, Iterable[Hashable]]],
    min_n: int,
    also_hidden: Iterable[Hashable] = (),
) -> set:
    """Which cells of a table with margins to hide, so that no hidden cell can be worked out from shown ones.

    `counts` maps every cell to its n. `groups` are (parent, children) pairs whose children add up to the
    parent: a practice's figure and its clinicians' (for one period), or a period's figure and its months'
    (for one practice or clinician). A cell below `min_n` (n > 0) is hidden; then, in every group with a
    hidden child, the hidden children must hold at least two cells and `min_n` dyads together, else the
    smallest shown child is hidden too, and when no child is left, the parent. A cell hidden for one group
    matters to every other group it belongs to, so the rule runs until nothing changes (each pass only adds
    cells, so it ends). `also_hidden` cells are hidden from the start, for a reason of the caller's.
    """
    hidden = {cell for cell, n in counts.items() if 0 < n < min_n} | set(also_hidden)
    groups = [(parent, [child for child in children if counts.get(child, 0) > 0]) for parent, children in groups]
    changed = True
    while changed:
        changed = False
        for parent, children in groups:
            if parent in hidden:
                continue
            hidden_children = [child for child in children if child in hidden]
            if not hidden_children:
                continue

            def safe() -> bool:
                return len(hidden_children) >= 2 and sum(counts[c] for c in hidden_children) >= min_n

            shown = sorted((counts[c], str(c), c) for c in children if c not in hidden)
            while not safe() and shown:
                child = shown.pop(0)[2]
                hidden.add(child)
                hidden_children.append(child)
                changed = True
            if not safe():
                hidden.add(parent)
                changed = True
    return hidden
