"""Train/validation/test splits by skull id.

The defect cases of one skull share its anatomy, so they must all land in the same
split: splitting by case would leak test skulls into training.
"""

from __future__ import annotations

import hashlib

DEFAULT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def split_by_skull(skull_ids, fractions: dict[str, float] | None = None, seed: int = 0) -> dict[str, str]:
    """Assign each skull id to a split, deterministically.

    Ids are ordered by a seeded hash, then cut by the fractions (each non-zero split
    gets at least one skull when there are enough skulls).

    Args:
        skull_ids: iterable of unique skull ids.
        fractions: split name → fraction (normalised to sum 1).
        seed: changes the assignment.

    Returns:
        Mapping skull id → split name.
    """
    fractions = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    ids = list(dict.fromkeys(str(s) for s in skull_ids))
    total = sum(fractions.values())
    if total <= 0:
        raise ValueError("split fractions must sum to a positive number")
    order = sorted(ids, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    names = [k for k, v in fractions.items() if v > 0]
    counts = [int(round(fractions[k] / total * len(ids))) for k in names]
    # Every non-empty split gets one skull if possible; the first split absorbs rounding.
    for i in range(1, len(names)):
        if counts[i] == 0 and len(ids) >= len(names):
            counts[i] = 1
    counts[0] = len(ids) - sum(counts[1:])
    out: dict[str, str] = {}
    start = 0
    for name, count in zip(names, counts):
        for s in order[start : start + count]:
            out[s] = name
        start += count
    return out
