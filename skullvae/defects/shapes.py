"""Defect footprints: 2D shapes in the plane tangent to the skull at the anchor.

A footprint is a boolean raster in millimetres centred on the anchor; the defect
region is the cone of rays from the cranial centre through it, so the cut goes
through the whole bone thickness with walls aimed at the centre, as in SkullBreak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from skullvae.phantoms.fields import smooth_field

_PIXEL_MM = 0.5
_HALF_MM = 100.0


@dataclass
class Footprint:
    """A boolean raster over ``[-half_mm, half_mm]²`` with ``pixel_mm`` pixels."""

    mask: np.ndarray
    pixel_mm: float = _PIXEL_MM
    half_mm: float = _HALF_MM

    def contains(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether tangent-plane points ``(u, v)`` (mm) fall inside the footprint."""
        n = self.mask.shape[0]
        iu = np.floor((u + self.half_mm) / self.pixel_mm).astype(np.int64)
        iv = np.floor((v + self.half_mm) / self.pixel_mm).astype(np.int64)
        ok = (iu >= 0) & (iu < n) & (iv >= 0) & (iv < n)
        out = np.zeros(u.shape, dtype=bool)
        out[ok] = self.mask[iu[ok], iv[ok]]
        return out

    @property
    def area_mm2(self) -> float:
        """Footprint area in mm²."""
        return float(self.mask.sum()) * self.pixel_mm**2

    @property
    def diameter_mm(self) -> float:
        """Largest extent along u or v, in mm."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        if rows.size == 0:
            return 0.0
        return float(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) * self.pixel_mm


def _plane() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = (np.arange(int(2 * _HALF_MM / _PIXEL_MM)) + 0.5) * _PIXEL_MM - _HALF_MM
    u, v = np.meshgrid(axis, axis, indexing="ij")
    return axis, u, v


def _rotate(u, v, angle):
    c, s = np.cos(angle), np.sin(angle)
    return c * u + s * v, -s * u + c * v


def elastic(mask: np.ndarray, rng: np.random.Generator, amplitude_mm: float, feature_mm: float = 18.0) -> np.ndarray:
    """Bend a footprint with a smooth random displacement field.

    Args:
        mask: boolean raster.
        rng: random generator.
        amplitude_mm: displacement amplitude.
        feature_mm: size of the wiggles.

    Returns:
        The deformed boolean raster.
    """
    axis, _, _ = _plane()
    du = smooth_field(rng, (axis, axis), feature_mm, amplitude_mm) / _PIXEL_MM
    dv = smooth_field(rng, (axis, axis), feature_mm, amplitude_mm) / _PIXEL_MM
    iu, iv = np.meshgrid(np.arange(mask.shape[0]), np.arange(mask.shape[1]), indexing="ij")
    warped = ndimage.map_coordinates(mask.astype(np.float32), [iu + du, iv + dv], order=1, mode="constant")
    return warped > 0.5


def ellipse(rng: np.random.Generator, semi_u: float, semi_v: float, wobble_mm: float = 4.0) -> Footprint:
    """An irregular oval (SkullBreak bilateral, fronto-orbital, parieto-temporal)."""
    _, u, v = _plane()
    ru, rv = _rotate(u, v, rng.uniform(-0.25, 0.25))
    mask = (ru / semi_u) ** 2 + (rv / semi_v) ** 2 < 1.0
    return Footprint(elastic(mask, rng, wobble_mm))


def rounded_square(rng: np.random.Generator, side: float, corner: float) -> Footprint:
    """A square with rounded corners (SkullFix), randomly turned in its plane."""
    _, u, v = _plane()
    ru, rv = _rotate(u, v, rng.uniform(0.0, np.pi / 2))
    half = side / 2.0 - corner
    du = np.maximum(np.abs(ru) - half, 0.0)
    dv = np.maximum(np.abs(rv) - half, 0.0)
    return Footprint(du * du + dv * dv < corner * corner)


def sphere_cluster(rng: np.random.Generator, n_spheres: int, radius: tuple[float, float], spread: float,
                   open_mm: float = 4.0, wobble_mm: float = 3.0) -> Footprint:
    """Footprint of a cluster of spheres, morphologically opened, then elastically bent (SkullBreak random).

    Args:
        rng: random generator.
        n_spheres: number of spheres.
        radius: (min, max) sphere radius in mm.
        spread: random-walk step between sphere centres in mm.
        open_mm: radius of the opening disk.
        wobble_mm: elastic deformation amplitude.

    Returns:
        The footprint.
    """
    _, u, v = _plane()
    mask = np.zeros(u.shape, dtype=bool)
    centre = np.zeros(2)
    centres = []
    for _ in range(n_spheres):
        centres.append(centre.copy())
        r = rng.uniform(*radius)
        mask |= (u - centre[0]) ** 2 + (v - centre[1]) ** 2 < r * r
        centre = centre + rng.normal(0.0, spread, size=2)
        centre = np.clip(centre, -35.0, 35.0)
    # Re-centre the cluster on the anchor.
    shift = np.round(-np.mean(centres, axis=0) / _PIXEL_MM).astype(int)
    mask = np.roll(mask, tuple(shift), axis=(0, 1))
    k = int(round(open_mm / _PIXEL_MM))
    disk = np.add.outer(np.arange(-k, k + 1) ** 2, np.arange(-k, k + 1) ** 2) <= k * k
    mask = ndimage.binary_opening(mask, structure=disk)
    return Footprint(elastic(mask, rng, wobble_mm, feature_mm=14.0))
