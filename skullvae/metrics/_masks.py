"""Shared input handling for the metrics: masks as arrays or volumes, one geometry."""

from __future__ import annotations

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume


def as_masks(*items, spacing=None, names=None) -> tuple[list[np.ndarray], tuple[float, float, float]]:
    """Boolean masks and the voxel spacing of volumes or arrays on one grid.

    Args:
        *items: :class:`Volume` objects or 3D arrays (non-zero = foreground).
        spacing: voxel size in mm; taken from the volumes when omitted.
        names: labels for error messages (default ``mask 1``, ``mask 2`` ...).

    Returns:
        The boolean masks and the spacing.

    Raises:
        SkullVAEError: shapes or geometries differ.
    """
    names = list(names) if names else [f"mask {n + 1}" for n in range(len(items))]
    volumes = [(name, item) for name, item in zip(names, items) if isinstance(item, Volume)]
    for name, vol in volumes[1:]:
        ref_name, ref = volumes[0]
        if not ref.same_geometry(vol, tol=1e-4):
            raise SkullVAEError(
                f"{name} and {ref_name} differ in geometry (shape {vol.shape} vs {ref.shape}, "
                f"spacing {_fmt(vol.spacing)} vs {_fmt(ref.spacing)}, origin {_fmt(vol.origin)} vs {_fmt(ref.origin)}); "
                "resample them onto one grid first"
            )
    if spacing is None:
        spacing = volumes[0][1].spacing if volumes else (1.0, 1.0, 1.0)
    spacing = tuple(float(s) for s in np.broadcast_to(np.asarray(spacing, dtype=np.float64), (3,)))
    masks = [_as_bool(item.array if isinstance(item, Volume) else item) for item in items]
    for name, mask in zip(names, masks):
        if mask.shape != masks[0].shape:
            raise SkullVAEError(f"{name} has shape {mask.shape}, expected {masks[0].shape}")
        if mask.ndim != 3:
            raise SkullVAEError(f"{name} is {mask.ndim}D; a 3D mask is required")
    return masks, spacing


def _as_bool(array) -> np.ndarray:
    """Non-zero mask; a {0, 1} uint8 array is viewed as bool without a copy."""
    array = np.asarray(array)
    if array.dtype == bool:
        return array
    if array.dtype in (np.uint8, np.int8) and array.size and array.min() >= 0 and array.max() <= 1:
        return array.view(bool)
    return array != 0


def bounding_box(mask: np.ndarray, margin=(0, 0, 0)) -> tuple[slice, ...] | None:
    """Slices of the bounding box of ``mask`` grown by ``margin`` voxels (None if empty)."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(0, hits[0] - margin[axis]), min(mask.shape[axis], hits[-1] + 1 + margin[axis])))
    return tuple(box)


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"
