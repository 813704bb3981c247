"""Cut a SkullBreak- or SkullFix-style defect out of a skull mask.

The implant is the bone inside the defect region (its largest connected piece, so it
is one plate); the defective skull is the rest. For every case:
``implant ⊂ skull``, ``defective ∩ implant = ∅``, ``defective ∪ implant = skull``,
and the implant is not empty.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from skullvae.defects.placement import SkullGeometry, direction_from_angles, skull_geometry, surface_anchor, tangent_frame
from skullvae.defects.shapes import Footprint, ellipse, rounded_square, sphere_cluster
from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume

DEFECT_TYPES = ("bilateral", "frontoorbital", "parietotemporal", "random_1", "random_2", "skullfix")
#: How far inside the outer surface the cut reaches (mm): deeper than any vault.
_DEPTH_MM = 25.0
#: Smallest implant accepted before another placement is tried (mm³).
_MIN_IMPLANT_MM3 = 1500.0
_TRIES = 12


def _plan(defect_type: str, rng: np.random.Generator) -> tuple[np.ndarray, Footprint]:
    """Direction from the cranial centre and footprint for one defect type."""
    side = rng.choice([-1.0, 1.0])
    if defect_type == "bilateral":
        direction = np.array([rng.uniform(-0.06, 0.06), rng.uniform(-0.3, 0.15), 1.0])
        return direction, ellipse(rng, rng.uniform(42.0, 58.0), rng.uniform(22.0, 34.0))
    if defect_type == "frontoorbital":
        direction = direction_from_angles(-90.0 + side * rng.uniform(0.0, 22.0), rng.uniform(-14.0, -6.0))
        return direction, ellipse(rng, rng.uniform(28.0, 40.0), rng.uniform(24.0, 32.0))
    if defect_type == "parietotemporal":
        azimuth = (0.0 if side > 0 else 180.0) + side * rng.uniform(0.0, 25.0)
        direction = direction_from_angles(azimuth, rng.uniform(8.0, 32.0))
        return direction, ellipse(rng, rng.uniform(36.0, 48.0), rng.uniform(28.0, 38.0))
    if defect_type in ("random_1", "random_2"):
        direction = direction_from_angles(rng.uniform(0.0, 360.0), rng.uniform(22.0, 70.0))
        if defect_type == "random_1":
            shape = sphere_cluster(rng, int(rng.integers(3, 6)), (9.0, 18.0), 10.0)
        else:
            shape = sphere_cluster(rng, int(rng.integers(6, 10)), (7.0, 15.0), 13.0)
        return direction, shape
    if defect_type == "skullfix":
        direction = direction_from_angles(rng.uniform(0.0, 360.0), rng.uniform(35.0, 75.0))
        side_mm = rng.uniform(42.0, 68.0)
        return direction, rounded_square(rng, side_mm, rng.uniform(5.0, 0.25 * side_mm))
    raise SkullVAEError(f"unknown defect type {defect_type!r} (choose from {', '.join(DEFECT_TYPES)})")


def defect_region(geometry: SkullGeometry, direction, footprint: Footprint) -> np.ndarray | None:
    """Which bone voxels lie in the defect region (bool per :attr:`SkullGeometry.points`).

    Args:
        geometry: the skull's measurements.
        direction: unit direction from the cranial centre.
        footprint: 2D shape in the tangent plane at the anchor.

    Returns:
        Boolean array over the bone points, or None when the ray meets no bone.
    """
    e1, e2, w = tangent_frame(direction)
    rho = surface_anchor(geometry, w)
    if rho is None:
        return None
    q = geometry.points - geometry.centre.astype(np.float32)
    along = q @ w.astype(np.float32)
    front = along > 0.2 * rho
    out = np.zeros(len(q), dtype=bool)
    qf, af = q[front], along[front]
    scale = rho / af
    u = (qf @ e1.astype(np.float32)) * scale
    v = (qf @ e2.astype(np.float32)) * scale
    dist = np.sqrt(np.einsum("ij,ij->i", qf, qf))
    out[front] = footprint.contains(u, v) & (dist > rho - _DEPTH_MM)
    return out


def _largest_piece(flat_index: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Flat indices of the largest 26-connected piece among ``flat_index``."""
    ijk = np.stack(np.unravel_index(flat_index, shape), axis=1)
    lo = ijk.min(axis=0)
    crop = np.zeros(tuple(ijk.max(axis=0) - lo + 1), dtype=bool)
    local = ijk - lo
    crop[local[:, 0], local[:, 1], local[:, 2]] = True
    labels, n = ndimage.label(crop, structure=np.ones((3, 3, 3), dtype=bool))
    if n <= 1:
        return flat_index
    sizes = np.bincount(labels.reshape(-1))[1:]
    keep = labels[local[:, 0], local[:, 1], local[:, 2]] == (int(np.argmax(sizes)) + 1)
    return flat_index[keep]


def inject_defect(skull: Volume, defect_type: str, seed: int) -> tuple[Volume, Volume]:
    """Cut one defect of ``defect_type`` from ``skull``.

    Args:
        skull: binary skull mask in roughly canonical pose (superior = +z in LPS).
        defect_type: one of :data:`DEFECT_TYPES`.
        seed: non-negative random seed; same seed and type give the same defect.

    Returns:
        ``(defective, implant)`` uint8 {0, 1} volumes with the skull's geometry.

    Raises:
        SkullVAEError: unknown type, bad seed, empty or non-binary skull, or no
            placement hitting bone.
    """
    if defect_type not in DEFECT_TYPES:
        raise SkullVAEError(f"unknown defect type {defect_type!r} (choose from {', '.join(DEFECT_TYPES)})")
    if int(seed) < 0:
        raise SkullVAEError(f"seed must be non-negative, got {seed}")
    geometry = skull_geometry(skull)
    voxel_mm3 = float(np.prod(skull.spacing))
    rng = np.random.default_rng([int(seed), DEFECT_TYPES.index(defect_type)])
    for _ in range(_TRIES):
        direction, footprint = _plan(defect_type, rng)
        inside = defect_region(geometry, direction / np.linalg.norm(direction), footprint)
        if inside is None or not inside.any():
            continue
        piece = _largest_piece(geometry.flat_index[inside], skull.shape)
        if piece.size * voxel_mm3 >= min(_MIN_IMPLANT_MM3, 0.02 * geometry.flat_index.size * voxel_mm3):
            break
    else:
        raise SkullVAEError(f"could not place a {defect_type} defect on this skull (no bone where it belongs)")
    implant = np.zeros(skull.shape, dtype=np.uint8)
    implant.reshape(-1)[piece] = 1
    defective = np.ascontiguousarray(skull.array != 0, dtype=np.uint8)  # C order: flat indices match
    defective.reshape(-1)[piece] = 0
    return skull.with_array(defective), skull.with_array(implant)
