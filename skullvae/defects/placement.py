"""Where a defect goes, from the skull's own geometry.

Works on any binary skull mask in (roughly) the canonical anatomical pose, synthetic
or real: the bone's physical (LPS) bounding box gives the mid-sagittal plane and the
vertex; the cranial centre lies half a breadth below the vertex. A defect is aimed
along a direction from that centre: the anchor is where the ray leaves the bone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume


@dataclass
class SkullGeometry:
    """Bone voxels of a skull and its landmarks (LPS millimetres).

    Attributes:
        flat_index: indices of the bone voxels in ``array.reshape(-1)``.
        points: ``(N, 3)`` float32 LPS positions of those voxels.
        low: bounding-box corner (min x, y, z).
        high: bounding-box corner (max x, y, z).
        centre: cranial centre: mid-sagittal x, middle of the vault's length, half a
            breadth below the vertex.
    """

    flat_index: np.ndarray
    points: np.ndarray
    low: np.ndarray
    high: np.ndarray
    centre: np.ndarray

    @property
    def breadth(self) -> float:
        """Left–right extent of the bone (mm)."""
        return float(self.high[0] - self.low[0])

    @property
    def midline_x(self) -> float:
        """x of the mid-sagittal plane (mm)."""
        return float(self.centre[0])


def skull_geometry(mask: Volume) -> SkullGeometry:
    """Measure a skull mask.

    Args:
        mask: binary skull mask (non-zero = bone), any spacing and direction.

    Returns:
        The :class:`SkullGeometry`.

    Raises:
        SkullVAEError: empty mask or a non-binary volume (e.g. a CT in HU).
    """
    flat = mask.array.reshape(-1)
    if mask.array.dtype != bool:
        binary = flat.min() >= 0 and flat.max() <= 1
        if binary and mask.array.dtype.kind == "f":
            binary = bool(np.all((flat == 0) | (flat == 1)))
        if not binary:
            raise SkullVAEError("the skull must be a binary mask (0/1); threshold a CT first")
    flat_index = np.flatnonzero(flat)
    if flat_index.size == 0:
        raise SkullVAEError("the skull mask is empty: no bone voxels")
    ijk = np.stack(np.unravel_index(flat_index, mask.shape), axis=1).astype(np.float32)
    step = (mask.direction * np.asarray(mask.spacing)[None, :]).astype(np.float32)
    points = ijk @ step.T + np.asarray(mask.origin, dtype=np.float32)
    low, high = points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)
    breadth = high[0] - low[0]
    centre_z = high[2] - 0.5 * breadth
    vault = points[points[:, 2] > centre_z]
    if vault.shape[0] == 0:  # pragma: no cover - a vault always exists above its own centre
        vault = points
    centre = np.array([(low[0] + high[0]) / 2.0, (vault[:, 1].min() + vault[:, 1].max()) / 2.0, centre_z])
    return SkullGeometry(flat_index, points, low, high, centre)


def tangent_frame(direction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal frame ``(e1, e2, w)`` with ``w`` along ``direction``.

    ``e1`` is horizontal (left–right for a defect on the top or the front, front–back
    on the side) and ``e2`` completes the right-handed frame.
    """
    w = np.asarray(direction, dtype=np.float64)
    w = w / np.linalg.norm(w)
    ref = np.array([0.0, 0.0, 1.0]) if abs(w[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(ref, w)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(w, e1), w


def direction_from_angles(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector (LPS) from azimuth (0 = left, 90 = posterior) and elevation above the horizontal."""
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def surface_anchor(geometry: SkullGeometry, direction, tube_mm: float = 3.0) -> float | None:
    """Distance from the cranial centre to the outer bone surface along ``direction``.

    Args:
        geometry: the skull's measurements.
        direction: unit vector from :attr:`SkullGeometry.centre`.
        tube_mm: radius of the ray's tube in which bone is looked for.

    Returns:
        The distance in mm, or None when the ray meets no bone.
    """
    w = np.asarray(direction, dtype=np.float32)
    q = geometry.points - geometry.centre.astype(np.float32)
    along = q @ w
    perp2 = np.einsum("ij,ij->i", q, q) - along * along
    hit = (along > 0) & (perp2 < tube_mm * tube_mm)
    if not np.any(hit):
        return None
    return float(along[hit].max())
