"""Mirror baseline: fill the defect with the skull's own left–right reflection.

The mid-sagittal plane is estimated from the skull itself: start from the plane
through the bone centroid normal to the left–right axis, then maximise the
overlap between the bone and its reflection (coarse search, then Powell on a
smoothed bone fraction, sampled at bone points only, so it costs milliseconds per
evaluation). The completed skull is ``max(bone, reflected bone)``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize

from skullvae.io.volume import Volume
from skullvae.preprocessing.model_grid import GridFrame, bone_bbox_mm, to_grid
from skullvae.completion.result import Completion

#: Working-grid voxel size for the mirror baseline (mm).
MIRROR_VOXEL_MM = 1.5

#: Defect-core distance for the mirror baseline (mm): real skulls are asymmetric
#: by several millimetres, which must not be mistaken for a defect.
MIRROR_CORE_MM = 10.0

#: Bone points used by the coarse grid search of the symmetry plane (the refinement uses more).
COARSE_POINTS = 2_000


def mirror_frame(mask: Volume, voxel_mm: float = MIRROR_VOXEL_MM, margin_mm: float = 10.0,
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


def reflect_grid(fraction: np.ndarray, frame: GridFrame, normal, offset: float) -> np.ndarray:
    """``fraction`` reflected across the plane ``normal · p = offset`` (same frame)."""
    matrix, shift = _index_reflection(frame.as_volume(fraction), np.asarray(normal, float), offset)
    # Same linear interpolation as map_coordinates, without building coordinate arrays.
    return ndimage.affine_transform(fraction, matrix.T, offset=shift, order=1, cval=0.0, output=np.float32)


def complete_mirror(mask: Volume, voxel_mm: float = MIRROR_VOXEL_MM, rotation: np.ndarray | None = None) -> Completion:
    """Complete a defective skull by its mirror image.

    Args:
        mask: the defective bone mask (may be a cropped view) with geometry.
        voxel_mm: working-grid voxel size.
        rotation: optional canonical axes (columns, LPS) from an alignment; its
            first column is the initial left–right axis.

    Returns:
        The :class:`Completion` (probability = max(bone, reflected bone)).
    """
    from skullvae.completion.concurrency import BackgroundThread
    from skullvae.implant.extract import bone_distance_mm

    frame = mirror_frame(mask, voxel_mm, rotation=rotation)
    fraction = to_grid(mask, frame)
    distance = BackgroundThread(lambda: bone_distance_mm(fraction, frame.voxel_mm), name="skullvae-distance")
    plane = estimate_midsagittal_plane(fraction, frame)
    reflected = reflect_grid(fraction, frame, plane["normal"], plane["offset_mm"])
    prob = np.maximum(fraction, reflected)
    return Completion("mirror", frame, prob, fraction, info={"plane": plane, "voxel_mm": voxel_mm},
                      core_mm=MIRROR_CORE_MM, bone_distance=distance.join())
