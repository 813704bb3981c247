"""The vault as two radial height fields: inner and outer bone radius per direction.

:func:`measure_profile` splats the bone voxels of a mask into (direction cell,
radius bin) occupancy, then reads, per cell, the first run of bone met going out
from the cranial centre: its start is the inner surface, its end the outer one
(gaps shorter than ``gap_mm``, such as thresholded diploë, do not end a run). A
cell with no bone is *missing*. :func:`fill_fields` spreads known values smoothly
into unknown cells: harmonic (``order=1``) or biharmonic, thin-plate-like
(``order=2``), by a sparse solve on the cube-sphere graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from skullvae.implant.sphere import CubeSphere
from skullvae.io.volume import Volume

__all__ = ["RadialFrame", "RadialProfile", "fill_fields", "measure_profile", "points_to_cells", "view_radius"]


@dataclass(frozen=True)
class RadialFrame:
    """Where the radial fields live: the cranial centre and the anatomical axes.

    Args:
        centre: cranial centre (LPS mm).
        axes: 3×3, columns L, P, S of the skull in LPS (identity for an upright scan).
        sphere: the direction grid.
    """

    centre: np.ndarray
    axes: np.ndarray
    sphere: CubeSphere

    def local(self, points_lps: np.ndarray) -> np.ndarray:
        """Points (LPS mm, ``(N, 3)``) as vectors from the centre in skull axes."""
        return (np.asarray(points_lps, dtype=np.float64) - self.centre) @ self.axes

    @property
    def elevation_deg(self) -> np.ndarray:
        """Elevation of every cell above the centre's horizontal plane (degrees)."""
        return np.degrees(np.arcsin(np.clip(self.sphere.directions[:, 2], -1.0, 1.0)))


@dataclass
class RadialProfile:
    """Inner and outer bone radius per cell (NaN where the cell has no bone).

    Args:
        frame: the :class:`RadialFrame`.
        inner: ``(cells,)`` radius of the inner surface (mm).
        outer: ``(cells,)`` radius of the outer surface (mm).
    """

    frame: RadialFrame
    inner: np.ndarray
    outer: np.ndarray

    @property
    def known(self) -> np.ndarray:
        """Cells with bone."""
        return np.isfinite(self.outer)

    @property
    def thickness(self) -> np.ndarray:
        """Bone thickness along the ray (mm; NaN where missing)."""
        return self.outer - self.inner


def points_to_cells(frame: RadialFrame, points_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cell, radius)`` of LPS points around ``frame``."""
    v = frame.local(points_lps)
    return frame.sphere.cell_of(v), np.linalg.norm(v, axis=1)


def measure_profile(mask: Volume, frame: RadialFrame, r_min_mm: float = 20.0, r_max_mm: float = 160.0,
                    bin_mm: float | None = None, gap_mm: float = 1.5, chunk: int = 2_000_000) -> RadialProfile:
    """Measure the inner and outer bone radius along every cell's ray.

    Args:
        mask: bone mask with geometry (any spacing and direction).
        frame: centre, axes and direction grid.
        r_min_mm: radii below this are ignored (inside the cranial cavity).
        r_max_mm: radii above this are ignored.
        bin_mm: radius bin (default: half the smallest voxel spacing).
        gap_mm: bone gaps shorter than this along a ray do not end the first run.
        chunk: voxels handled at a time (bounds memory).

    Returns:
        The :class:`RadialProfile`.
    """
    bin_mm = float(bin_mm or 0.5 * min(mask.spacing))
    nbins = int(np.ceil((r_max_mm - r_min_mm) / bin_mm)) + 1
    cells = frame.sphere.size
    occupied = np.zeros((cells, nbins), dtype=bool)
    ijk = np.nonzero(np.asarray(mask.array))
    step = mask.direction * np.asarray(mask.spacing)[None, :]
    for start in range(0, ijk[0].size, chunk):
        idx = np.stack([a[start:start + chunk] for a in ijk], axis=1).astype(np.float64)
        cell, radius = points_to_cells(frame, idx @ step.T + np.asarray(mask.origin))
        b = np.floor((radius - r_min_mm) / bin_mm).astype(np.int64)
        ok = (b >= 0) & (b < nbins)
        occupied[cell[ok], b[ok]] = True
    # A voxel spans about one spacing along the ray: close gaps shorter than the voxel and gap_mm.
    close = max(1, int(round(max(gap_mm, max(mask.spacing)) / bin_mm)))
    closed = ndimage.binary_closing(occupied, structure=np.ones((1, close + 1), bool)) | occupied
    has = closed.any(axis=1)
    first = np.argmax(closed, axis=1)
    after = np.arange(nbins)[None, :] > first[:, None]
    end = np.argmax(after & ~closed, axis=1)
    end = np.where(end == 0, nbins, end)  # bone up to r_max
    inner = np.where(has, r_min_mm + first * bin_mm, np.nan)
    outer = np.where(has, r_min_mm + end * bin_mm, np.nan)
    return RadialProfile(frame, inner, outer)


def view_radius(volume: Volume, frame: RadialFrame) -> np.ndarray:
    """How far along every cell's ray the scan reaches: the distance (mm) at which the ray
    from the centre leaves the box of ``volume``'s voxel centres (any direction): beyond
    it no voxel could show bone.

    Args:
        volume: the scan's grid (only its geometry is used).
        frame: centre, axes and direction grid.

    Returns:
        ``(cells,)`` distances in mm (``inf`` along no axis is impossible: a box is bounded).
    """
    to_index = np.linalg.inv(np.asarray(volume.direction, dtype=np.float64) * np.asarray(volume.spacing)[None, :])
    start = to_index @ (np.asarray(frame.centre, dtype=np.float64) - np.asarray(volume.origin))
    step = (frame.sphere.directions @ frame.axes.T) @ to_index.T  # index change per mm along each ray
    last = np.asarray(volume.shape, dtype=np.float64) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = np.where(step > 0, (last - start) / step, np.inf)
        lower = np.where(step < 0, -start / step, np.inf)
    return np.maximum(np.minimum(upper, lower).min(axis=1), 0.0)


def fill_fields(sphere: CubeSphere, values: np.ndarray, unknown: np.ndarray, order: int = 2,
                soft_cells: int = 0, stiffness: float = 1.0) -> np.ndarray:
    """Spread known values smoothly into unknown cells.

    Minimises the Dirichlet energy (``order=1``: harmonic) or the squared Laplacian
    (``order=2``: biharmonic, which continues the rim's slope as a thin plate does)
    over the unknown cells. With ``soft_cells``, the known values of that many rings
    around the unknown cells are only held by springs of ``stiffness`` (a smoothing
    spline): voxel-step noise there is not continued across the hole as a slope.

    Args:
        sphere: the cell grid.
        values: ``(cells,)`` or ``(cells, k)``; finite wherever ``~unknown`` is used as boundary.
        unknown: boolean ``(cells,)``: the cells to solve for.
        order: 1 or 2.
        soft_cells: rings of known cells held softly.
        stiffness: spring weight of a soft cell (relative to the Laplacian's unit weights).

    Returns:
        ``values`` with the unknown cells filled (soft cells smoothed; a copy).
    """
    values = np.array(values, dtype=np.float64, copy=True)
    one = values.ndim == 1
    if one:
        values = values[:, None]
    if not np.any(unknown):
        return values[:, 0] if one else values
    finite = np.all(np.isfinite(values), axis=1)
    soft = (sphere.grow(unknown, soft_cells) & ~unknown & finite) if soft_cells else np.zeros_like(unknown)
    free = unknown | soft
    reach = sphere.grow(free, order) & ~free
    if not np.all(finite[reach]):  # boundary cells without data: solve for them too
        return fill_fields(sphere, values[:, 0] if one else values, unknown | (reach & ~finite), order,
                           soft_cells, stiffness)
    lap = sphere.laplacian
    op = lap if order == 1 else (lap @ lap).tocsr()
    u, b = np.flatnonzero(free), np.flatnonzero(reach)
    spring = stiffness * soft[u].astype(np.float64)
    a_uu = (op[u][:, u] + sparse.diags(spring + 1e-9)).tocsc()
    rhs = -(op[u][:, b] @ values[b]) + spring[:, None] * np.where(soft[u][:, None], values[u], 0.0)
    solved = spsolve(a_uu, rhs)
    values[u] = np.asarray(solved).reshape(u.size, -1)
    return values[:, 0] if one else values
