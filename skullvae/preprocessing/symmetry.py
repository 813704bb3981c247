"""The skull's plane of left–right symmetry, and the grid axes it defines.

:func:`estimate_midsagittal_plane` starts from the plane through the bone centroid
normal to the left–right axis, then maximises the overlap between the bone and its
reflection (coarse search, then Powell on a smoothed bone fraction, sampled at bone
points only, so it costs milliseconds per evaluation). The mirror baseline reflects
the skull across it; :func:`symmetry_rotation` turns its normal into the L axis of a
canonical frame (``--align axes``): unlike the inertia axes of a nearly round skull,
the symmetry plane is well defined even with a large defect on one side.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize

from skullvae.io.volume import Volume
from skullvae.preprocessing.model_grid import GridFrame, bone_bbox_mm, to_grid

#: Working-grid voxel size for symmetry estimation and the mirror baseline (mm).
SYMMETRY_VOXEL_MM = 1.5

#: Bone points used by the coarse grid search of the symmetry plane (the refinement uses more).
COARSE_POINTS = 2_000


def mirror_frame(mask: Volume, voxel_mm: float = SYMMETRY_VOXEL_MM, margin_mm: float = 10.0,
                 rotation: np.ndarray | None = None) -> GridFrame:
    """A frame covering the bone bounding box plus ``margin_mm`` on every side."""
    rotation = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    lo, hi = bone_bbox_mm(mask, rotation)
    grid = tuple(int(np.ceil((h - l + 2 * margin_mm) / voxel_mm)) + 1 for l, h in zip(lo, hi))
    return GridFrame(rotation @ ((lo + hi) / 2.0), float(voxel_mm), grid, rotation)  # type: ignore[arg-type]


def _index_reflection(vol: Volume, normal: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """The reflection across ``normal · p = offset`` as an index-space map ``idx ↦ idx @ M + c``.

    Composes index → LPS, the reflection and LPS → index of ``vol`` into one 3×3
    matrix and offset, so reflecting N indices costs one small matrix product.
    """
    normal = np.asarray(normal, dtype=np.float64)
    scale = np.asarray(vol.spacing, dtype=np.float64)
    to_phys = vol.direction * scale[None, :]  # p = origin + to_phys @ idx
    reflect = np.eye(3) - 2.0 * np.outer(normal, normal)
    origin = np.asarray(vol.origin, dtype=np.float64)
    matrix = (to_phys.T @ reflect @ vol.direction) / scale[None, :]
    shift = ((reflect @ origin + 2.0 * offset * normal - origin) @ vol.direction) / scale
    return matrix, shift


def _normal(base: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """``base`` (grid axis 0) turned by ``yaw`` about axis 2 and ``pitch`` about axis 1 (radians)."""
    n = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)])
    return base @ n


def estimate_midsagittal_plane(fraction: np.ndarray, frame: GridFrame, max_points: int = 8_000) -> dict:
    """Estimate the plane of left–right symmetry of a skull.

    Args:
        fraction: bone fraction in ``frame``.
        frame: the working frame (its axis 0 is the initial left–right axis).
        max_points: bone points used by the cost.

    Returns:
        ``{"normal": [3], "offset_mm": float, "symmetry": float}``: the plane
        ``normal · p = offset`` in LPS mm, and the mean reflected bone fraction at
        bone points (1 = perfectly symmetric).
    """
    vol = frame.as_volume(fraction)
    idx = np.argwhere(fraction > 0.5)
    if idx.shape[0] < 100 and fraction.max() > 0:  # bone thinner than the working voxels: no voxel is half bone
        idx = np.argwhere(fraction > 0.5 * float(fraction.max()))
    if idx.shape[0] > max_points:
        idx = idx[:: idx.shape[0] // max_points + 1]
    pts = vol.index_to_physical(idx)
    centroid = pts.mean(axis=0)
    base = np.asarray(frame.rotation, dtype=float)

    idx_t = np.ascontiguousarray(idx.T, dtype=np.float64)
    # The coarse search on the 2 mm-smoothed bone needs far fewer points than the refinement.
    few_t = np.ascontiguousarray(idx_t[:, :: max(1, idx_t.shape[1] // COARSE_POINTS)])

    def cost(params, smooth, points=idx_t):
        n = _normal(base, params[0], params[1])
        d = float(n @ centroid) + params[2]
        matrix, shift = _index_reflection(vol, n, d)
        ref_idx = matrix.T @ points + shift[:, None]
        return -float(ndimage.map_coordinates(smooth, ref_idx, order=1, cval=0.0).mean())

    coarse = ndimage.gaussian_filter(fraction, 2.0)
    grid = [(y, p, s) for y in np.radians([-10, -5, 0, 5, 10]) for p in np.radians([-6, 0, 6])
            for s in np.arange(-12.0, 12.1, 4.0)]
    x0 = min(grid, key=lambda g: cost(g, coarse, few_t))
    for sigma in (2.0, 1.0):
        smooth = coarse if sigma == 2.0 else ndimage.gaussian_filter(fraction, sigma)
        res = optimize.minimize(cost, x0, args=(smooth,), method="Powell",
                                options={"xtol": 1e-2, "ftol": 1e-4, "maxfev": 120})
        x0 = res.x
    n = _normal(base, x0[0], x0[1])
    d = float(n @ centroid) + x0[2]
    return {"normal": [float(v) for v in n], "offset_mm": d, "symmetry": -cost(x0, fraction)}


def symmetry_rotation(mask: Volume, voxel_mm: float = SYMMETRY_VOXEL_MM) -> np.ndarray:
    """Grid axes whose L axis is the normal of the skull's mid-sagittal plane.

    Corrects a head turned (yaw) or tilted sideways (roll) in the scanner; the
    forward nod (pitch) keeps the scan's: S is the scan's S axis made orthogonal to
    the new L, and P completes a right-handed frame.

    Args:
        mask: bone mask with geometry.
        voxel_mm: working-grid voxel size.

    Returns:
        3×3 rotation (det +1); columns are the grid axes L, P, S in LPS.
    """
    frame = mirror_frame(mask, voxel_mm)
    plane = estimate_midsagittal_plane(to_grid(mask, frame), frame)
    left = np.asarray(plane["normal"], dtype=np.float64)
    left *= 1.0 if left[0] >= 0 else -1.0
    sup = np.array([0.0, 0.0, 1.0]) - left[2] * left
    sup /= np.linalg.norm(sup)
    post = np.cross(sup, left)
    return np.stack([left, post, sup], axis=1)
