"""Linear resampling between axis-aligned grids, one axis at a time.

When every index axis of the target grid is parallel to the same-numbered axis
of the source grid (the directions differ at most by axis flips), trilinear
interpolation factorises into three 1-D interpolations. Upsampling a coarse
grid onto a fine one then costs a few passes over the output instead of an
8-neighbour gather per output voxel. The edge handling is SimpleITK's
(``sitk.Resample`` with ``sitkLinear`` and default value 0): a point within
half a voxel outside the source takes the edge value, a point further out gets 0.
"""

from __future__ import annotations

import numpy as np

from skullvae.io.volume import Volume

#: Largest off-diagonal entry of source.directionᵀ · target.direction still treated as aligned.
_ALIGNED_TOL = 1e-9


def axis_scales(source: Volume, target: Volume) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-axis affine map from target indices to source continuous indices.

    Args:
        source: the grid that is sampled.
        target: the grid whose voxels receive values.

    Returns:
        ``(scale, offset)`` with ``source_index[a] = offset[a] + scale[a] * target_index[a]``,
        or None when the grids are not axis-aligned.
    """
    relative = source.direction.T @ target.direction
    if np.max(np.abs(relative - np.diag(np.diag(relative)))) > _ALIGNED_TOL:
        return None
    scale = np.diag(relative) * np.asarray(target.spacing) / np.asarray(source.spacing)
    offset = (source.direction.T @ (np.asarray(target.origin) - np.asarray(source.origin))) / np.asarray(source.spacing)
    return scale, offset


def resample_aligned(array: np.ndarray, source: Volume, target: Volume,
                     threshold: float | None = None) -> np.ndarray | None:
    """Linearly resample ``array`` (on ``source``'s grid) onto ``target``'s grid.

    Args:
        array: values on the source grid (any real dtype; computed in float64).
        source: source geometry (its array is not used).
        target: target geometry (its array is not used, only its shape).
        threshold: when given, return ``result > threshold`` instead (a boolean
            array, without the full-size float one).

    Returns:
        float32 (or boolean) array of ``target.shape`` in Fortran order, or None
        when the grids are not axis-aligned (use a general resampler then).
    """
    mapping = axis_scales(source, target)
    if mapping is None:
        return None
    scale, offset = mapping
    # Work on the reversed-axes (C-ordered) view so the result is Fortran-ordered in [i, j, k];
    # the last pass (the largest output) then runs along the slowest axis, plane by plane.
    out = np.asarray(array, dtype=np.float64).T  # double precision, like ITK; float32 only in the output
    for axis in range(3):
        n_target = target.shape[axis]
        position = offset[axis] + scale[axis] * np.arange(n_target, dtype=np.float64)
        taps = _taps(position, array.shape[axis])
        out = _interpolate(out, 2 - axis, *taps, threshold=threshold if axis == 2 else None)
    return out.T


def _interpolate(src: np.ndarray, ax: int, i0, i1, w0, w1, threshold: float | None = None) -> np.ndarray:
    """``w0 * src[i0] + w1 * src[i1]`` (as float32) along axis ``ax`` of a C-ordered array.

    Along axis 0 (the last, largest pass) it goes plane by plane, and can return
    ``values > threshold`` directly.
    """
    if ax != 0:
        shape = [1, 1, 1]
        shape[ax] = len(i0)
        low = np.take(src, i0, axis=ax)
        low *= w0.reshape(shape)
        high = np.take(src, i1, axis=ax)
        high *= w1.reshape(shape)
        low += high
        return low
    shape = (len(i0),) + src.shape[1:]
    # Planes outside the source are 0 (or ``0 > threshold``); only the others are computed.
    dst = np.zeros(shape, dtype=np.float32) if threshold is None else np.full(shape, 0.0 > threshold)
    low = np.empty(src.shape[1:], dtype=src.dtype)
    high = np.empty(src.shape[1:], dtype=src.dtype)
    plane = np.empty(src.shape[1:], dtype=np.float32)
    for k in np.flatnonzero((w0 != 0) | (w1 != 0)):
        np.multiply(src[i0[k]], w0[k], out=low)
        np.multiply(src[i1[k]], w1[k], out=high)
        if threshold is None:
            np.add(low, high, out=dst[k], casting="same_kind")
        else:  # compare the float32 value, exactly as ``from_grid(...) > threshold`` would
            np.add(low, high, out=plane, casting="same_kind")
            np.greater(plane, threshold, out=dst[k])
    return dst


def _taps(position: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices and weights of 1-D linear interpolation at ``position`` on ``n`` samples."""
    base = np.floor(position)
    frac = position - base
    inside = (position >= -0.5) & (position < n - 0.5)
    i0 = np.clip(base, 0, n - 1).astype(np.intp)
    i1 = np.clip(base + 1, 0, n - 1).astype(np.intp)
    w1 = np.where(inside, frac, 0.0)
    w0 = np.where(inside, 1.0 - frac, 0.0)
    return i0, i1, w0, w1
