"""Sub-volume views with exact geometry (crop boxes in index space)."""

from __future__ import annotations

import numpy as np

from skullvae.io.volume import Volume


def nonzero_bbox(array: np.ndarray, margin: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """Index bounding box of the non-zero voxels, grown by ``margin`` and clipped.

    Computed from per-axis projections, so it costs a few passes over the array.

    Args:
        array: any 3D array.
        margin: voxels added on every side.

    Returns:
        ``(lo, hi)`` with ``hi`` exclusive, or None when the array is all zero.
    """
    lo, hi = [], []
    for axis in range(array.ndim):
        others = tuple(a for a in range(array.ndim) if a != axis)
        profile = np.flatnonzero(np.any(array, axis=others))
        if profile.size == 0:
            return None
        lo.append(max(0, int(profile[0]) - margin))
        hi.append(min(array.shape[axis], int(profile[-1]) + 1 + margin))
    return np.asarray(lo), np.asarray(hi)


def box_corners(lo, hi) -> np.ndarray:
    """The 8 corners ``[8, 3]`` (float) of the index box with corner values ``lo`` and ``hi``."""
    return np.array(np.meshgrid(*zip(lo, hi), indexing="ij"), dtype=np.float64).reshape(3, -1).T


def crop(volume: Volume, lo, hi) -> Volume:
    """A view of ``volume`` over the index box ``[lo, hi)`` with matching geometry.

    Args:
        volume: the source volume.
        lo: first index per axis (inclusive).
        hi: last index per axis (exclusive).

    Returns:
        A :class:`Volume` whose array is a view (no copy) and whose origin is the
        physical position of ``lo``.
    """
    lo = np.asarray(lo, dtype=int)
    hi = np.asarray(hi, dtype=int)
    sub = volume.array[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    return Volume(sub, volume.spacing, volume.index_to_physical(lo.astype(float)), volume.direction)


def geometry_only(volume: Volume, lo=None, hi=None) -> Volume:
    """A zero-cost stand-in with the geometry of ``volume`` (or of its box ``[lo, hi)``).

    The array is a read-only broadcast of one zero, so a 512³ reference costs no
    memory; use it where only the geometry is needed (e.g. ``from_grid``).
    """
    lo = np.zeros(3, dtype=int) if lo is None else np.asarray(lo, dtype=int)
    hi = np.asarray(volume.shape, dtype=int) if hi is None else np.asarray(hi, dtype=int)
    shape = tuple(int(v) for v in hi - lo)
    return Volume(np.broadcast_to(np.uint8(0), shape), volume.spacing, volume.index_to_physical(lo.astype(float)), volume.direction)
