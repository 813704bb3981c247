"""Rim-conforming implant at the input's own resolution, from radial height fields.

1. Measure the defective skull's inner and outer radius per direction around the
   cranial centre (:mod:`skullvae.implant.height_fields`) and find its defects
   (:mod:`skullvae.implant.defect_cells`).
2. Take a *prior* for the surfaces across the defect: the skull's own mirror image,
   the completed skull of a model, or none. Measure the prior's residual against the
   real bone around the defect and spread it smoothly across the defect (a
   biharmonic smoothing spline for the outer surface, harmonic for the thickness),
   so the corrected surfaces meet the real bone at the rim.
3. Fill between the corrected surfaces on the input's grid, minus the bone.

:func:`choose_prior` compares priors by how well each, corrected from farther out,
predicts a held-out ring of real bone around the defect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skullvae.implant.defect_cells import DefectCells
from skullvae.implant.height_fields import RadialFrame, RadialProfile, fill_fields
from skullvae.implant.sphere import CubeSphere
from skullvae.io.volume import Volume

__all__ = ["Prior", "choose_prior", "corrected_surfaces", "cranial_frame", "mirror_cells", "mirror_prior", "unknown_cells",
           "profile_prior", "rasterise_shell", "ring_cells", "ring_width_mm", "sphere_for_spacing"]

#: Unknown cells reach this many cells past the missing ones (rim bevels are re-filled from the surfaces).
RIM_CELLS = 2
#: Width of the held-out ring that :func:`choose_prior` predicts (mm at the vault's radius) ...
RING_MM = 8.0
#: ... or this share of the largest defect's equivalent radius, when wider: a prior must carry
#: the skull's shape as far from the bone as the defect reaches, not just across a rim.
RING_SHARE = 0.3
#: Outer surface: biharmonic fill, the rim's measurement held by springs over this many rings (voxel-step noise).
OUTER_ORDER, SOFT_CELLS, STIFFNESS = 2, 3, 0.3
#: Voxels per block edge in :func:`rasterise_shell`'s first pass.
BLOCK = 4
#: Thinnest implant accepted (mm).
MIN_THICKNESS_MM = 1.0


def sphere_for_spacing(spacing_mm: float, radius_mm: float = 60.0) -> CubeSphere:
    """A direction grid whose cells are about 1.2 voxels wide at ``radius_mm`` (the inner table; n in [24, 256]).

    Every cell then holds bone voxels wherever the vault has bone.
    """
    n = int(np.ceil(np.pi / 2.0 * radius_mm / (1.2 * spacing_mm)))
    return CubeSphere(int(np.clip(n, 24, 256)))


def cranial_frame(mask: Volume, sphere: CubeSphere, axes: np.ndarray | None = None,
                  plane: dict | None = None, max_points: int = 400_000) -> RadialFrame:
    """The cranial centre and axes of a skull mask.

    The centre lies on the mid-sagittal plane (when given), midway along the
    vault's length, half the skull's breadth below the vertex (the convention of
    :mod:`skullvae.defects.placement`).

    Args:
        mask: bone mask with geometry.
        sphere: direction grid.
        axes: columns L, P, S in LPS (identity when None).
        plane: optional mid-sagittal plane ``{"normal", "offset_mm"}``.
        max_points: bone voxels sampled for the measurement.

    Returns:
        The :class:`RadialFrame`.
    """
    axes = np.eye(3) if axes is None else np.asarray(axes, dtype=np.float64)
    ijk = np.nonzero(np.asarray(mask.array))
    stride = max(1, ijk[0].size // max_points)
    idx = np.stack([a[::stride] for a in ijk], axis=1).astype(np.float64)
    pts = mask.index_to_physical(idx) @ axes  # skull coordinates (L, P, S)
    low, high = pts.min(axis=0), pts.max(axis=0)
    breadth = high[0] - low[0]
    z = high[2] - 0.5 * breadth
    vault = pts[pts[:, 2] > z]
    centre = np.array([(low[0] + high[0]) / 2.0, (vault[:, 1].min() + vault[:, 1].max()) / 2.0, z]) @ axes.T
    if plane is not None:
        n = np.asarray(plane["normal"], dtype=np.float64)
        centre = centre - (float(n @ centre) - float(plane["offset_mm"])) * n
    return RadialFrame(centre, axes, sphere)


@dataclass
class Prior:
    """Surfaces proposed across the defect (NaN where the prior has nothing to say).

    Args:
        name: ``"mirror"``, ``"none"``, ``"model"`` or ``"model:<DEV name>"``.
        outer: ``(cells,)`` outer radius (mm).
        thickness: ``(cells,)`` thickness (mm); NaN = take the rim's, interpolated.
    """

    name: str
    outer: np.ndarray
    thickness: np.ndarray


def mirror_cells(frame: RadialFrame, plane: dict | None) -> np.ndarray:
    """The mirror cell of every cell across the mid-sagittal plane (through the centre)."""
    normal = np.array([1.0, 0.0, 0.0]) if plane is None else frame.axes.T @ np.asarray(plane["normal"], float)
    reflect = np.eye(3) - 2.0 * np.outer(normal, normal)
    return frame.sphere.cell_of(frame.sphere.directions @ reflect.T)


def mirror_prior(profile: RadialProfile, plane: dict | None, unknown: np.ndarray | None = None) -> Prior:
    """The skull's own surfaces reflected across its mid-sagittal plane.

    The centre lies on the plane (:func:`cranial_frame`), so the reflection maps rays
    to rays: the prior of a cell is the measurement of its mirror cell, where that
    cell is intact (not in ``unknown``: a defect across the midline has no mirror).
    """
    partner = mirror_cells(profile.frame, plane)
    outer, thickness = profile.outer[partner], profile.thickness[partner]
    if unknown is not None:
        outer = np.where(unknown[partner], np.nan, outer)
        thickness = np.where(unknown[partner], np.nan, thickness)
    return Prior("mirror", outer, thickness)


def profile_prior(name: str, prior_profile: RadialProfile, smooth_iterations: int = 3) -> Prior:
    """A prior from another skull's profile in the same frame (e.g. a model's completed skull)."""
    outer = prior_profile.outer.copy()
    ok = np.isfinite(outer)
    nb = prior_profile.frame.sphere.neighbours
    for _ in range(smooth_iterations):  # the coarse grid's voxel steps are not shape
        vals = outer[nb]
        fin = np.isfinite(vals)
        mean = np.where(fin, vals, 0.0).sum(axis=1) / np.maximum(fin.sum(axis=1), 1)
        outer = np.where(ok & fin.any(axis=1), 0.5 * outer + 0.5 * mean, outer)
    return Prior(name, outer, np.full_like(outer, np.nan))


def vault_ellipsoid(profile: RadialProfile, min_elevation_deg: float = -10.0, iterations: int = 3,
                    keep_mm: float = 10.0) -> np.ndarray:
    """Outer radius of the ellipsoid that best fits the vault (``(cells,)``, mm).

    A least-squares fit of ``1 / r² = dᵀ A d`` over the cells above ``min_elevation_deg``,
    refitted without the cells more than ``keep_mm`` off.
    """
    d = profile.frame.sphere.directions
    terms = np.stack([d[:, 0] ** 2, d[:, 1] ** 2, d[:, 2] ** 2, d[:, 0] * d[:, 1], d[:, 0] * d[:, 2],
                      d[:, 1] * d[:, 2], np.ones(len(d))], axis=1)
    use = profile.known & (profile.frame.elevation_deg >= min_elevation_deg)
    fit = np.full(len(d), np.nan)
    for _ in range(iterations):
        if use.sum() < 20:
            break
        coef, *_ = np.linalg.lstsq(terms[use], 1.0 / profile.outer[use] ** 2, rcond=None)
        fit = 1.0 / np.sqrt(np.maximum(terms @ coef, 1e-8))
        use = use & (np.abs(profile.outer - fit) < keep_mm)
    return fit


def unknown_cells(defects: DefectCells, profile: RadialProfile, steps: int = 3,
                  thin: float = 0.75, off_vault_mm: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """The cells to fill, and the cells whose measurement is not used as the rim.

    The fill covers the defects and :data:`RIM_CELLS` around them. A saw cut is not
    radial, so rays just outside the hole may cross only part of the bone; such
    cells (thinner than ``thin`` × the median thickness around the defect, up to
    ``steps`` cells out) would pull the surfaces towards the cut, so the surfaces
    are solved for there too and taken from the intact bone beyond. So are rim cells
    whose bone is not the vault's (the orbital roofs, the skull base under a frontal
    defect: farther than ``off_vault_mm`` from the vault's ellipsoid).

    Args:
        defects: the defects found.
        profile: the measured radii.
        steps: the bevel is looked for this many cells past the fill.
        thin: relative thickness below which a rim cell belongs to the bevel.
        off_vault_mm: rim cells this far inside or outside the vault's ellipsoid are not the vault.

    Returns:
        ``(fill, solve)`` boolean cells (``fill`` ⊂ ``solve``).
    """
    sphere = profile.frame.sphere
    fill = sphere.grow(defects.cells, RIM_CELLS) & ~defects.natural
    solve = fill.copy()
    around = sphere.grow(fill, 6) & ~fill & profile.known
    if not around.any():
        return fill, solve
    typical = float(np.median(profile.thickness[around]))
    for _ in range(steps):
        edge = sphere.grow(solve, 1) & ~solve & ~defects.natural & profile.known
        bevel = edge & (profile.thickness < thin * typical)
        if not bevel.any():
            break
        solve |= bevel
    ellipsoid = vault_ellipsoid(profile)
    off = profile.known & (np.abs(profile.outer - ellipsoid) > off_vault_mm)
    for _ in range(4 * steps):
        edge = sphere.grow(solve, 1) & ~solve & off
        if not edge.any():
            break
        solve |= edge
    return fill, solve


def _solve_region(profile: RadialProfile, known: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """The cells without a usable measurement that are connected to ``unknown`` (natural openings elsewhere are not solved)."""
    sphere = profile.frame.sphere
    _, labels = sphere.components(~known)
    touching = np.unique(labels[unknown & (labels >= 0)])
    return np.isin(labels, touching) & (labels >= 0)


def corrected_surfaces(profile: RadialProfile, unknown: np.ndarray, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    """Outer and inner radius over ``unknown``: the prior plus its rim residual, spread smoothly.

    The outer surface continues the rim's slope (biharmonic); the thickness is spread
    harmonically, so it stays within the rim's range whatever the cut's bevel leaves
    there. Where the prior has nothing to say, the rim's own surfaces are continued.

    Args:
        profile: measured radii (used outside ``unknown``).
        unknown: cells to solve for.
        prior: the :class:`Prior`.

    Returns:
        ``(outer, inner)`` over all cells (measured outside ``unknown``).
    """
    return _corrected(profile, unknown, [prior])[0]


def _corrected(profile: RadialProfile, unknown: np.ndarray, priors: list[Prior]) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`corrected_surfaces` for several priors; the prior-free fill is solved once for all."""
    sphere = profile.frame.sphere
    known = profile.known & ~unknown
    region = _solve_region(profile, known, unknown)
    fields = []
    for measured, order, soft in ((profile.outer, OUTER_ORDER, SOFT_CELLS), (profile.thickness, 1, 0)):
        meas = np.where(known, measured, np.nan)
        base = fill_fields(sphere, meas, region, order, soft, STIFFNESS)  # no prior: the rim's own surfaces, continued
        fields.append((meas, base, order, soft))
    results = []
    for prior in priors:
        corrected = []
        for (meas, base, order, soft), proposed in zip(fields, (prior.outer, prior.thickness)):
            p = base
            if np.isfinite(proposed).any():
                p = np.where(np.isfinite(proposed), proposed, base)
                residual = np.where(known, meas - p, np.nan)
                p = p + fill_fields(sphere, residual, region, order, soft, STIFFNESS)
            corrected.append(p)
        outer = np.where(unknown, corrected[0], profile.outer)
        thickness = np.maximum(np.where(unknown, corrected[1], profile.thickness), MIN_THICKNESS_MM)
        results.append((outer, outer - thickness))
    return results


def ring_cells(profile: RadialProfile, unknown: np.ndarray, width_mm: float) -> np.ndarray:
    """The measured cells within ``width_mm`` (at the vault's median radius) around ``unknown``."""
    sphere = profile.frame.sphere
    radius = float(np.nanmedian(profile.outer)) if profile.known.any() else 80.0
    steps = max(1, int(round(width_mm / (radius * np.radians(sphere.cell_deg)))))
    return sphere.grow(unknown, steps) & ~unknown & profile.known


def ring_width_mm(profile: RadialProfile, unknown: np.ndarray, ring_mm: float = RING_MM) -> float:
    """Width of :func:`choose_prior`'s held-out ring: ``ring_mm``, or :data:`RING_SHARE` of the
    largest defect's equivalent radius (area at the vault's median radius) when that is wider."""
    radius = float(np.nanmedian(profile.outer)) if profile.known.any() else 80.0
    count, labels = profile.frame.sphere.components(unknown)
    if not count:
        return ring_mm
    largest = int(np.bincount(labels[labels >= 0]).max()) * profile.frame.sphere.cell_area_mm2(radius)
    return max(ring_mm, RING_SHARE * float(np.sqrt(largest / np.pi)))


def choose_prior(profile: RadialProfile, unknown: np.ndarray, priors: list[Prior],
                 ring_mm: float | None = None) -> tuple[Prior, dict]:
    """The prior that best predicts a held-out ring of real bone around the defect.

    Each prior, corrected from the bone beyond the ring, predicts the ring's outer and
    inner radius; the prior with the smallest mean absolute error wins. The ring widens
    with the defect (:func:`ring_width_mm`): across a narrow ring the rim's own surfaces
    continue well, but a large defect needs a prior that carries the skull's shape far
    from the bone (on the real-skull tuning set, ``make_real_benchmark.py --set 1``, an
    8 mm ring chose them over the mirror image for hemicraniectomies; 0.3 of the radius
    did not).

    Args:
        profile: measured radii.
        unknown: cells to solve for.
        priors: the candidates.
        ring_mm: the ring's width; None = :func:`ring_width_mm` of these cells.

    Returns:
        ``(best prior, {name: error in mm})``.
    """
    ring = ring_cells(profile, unknown, ring_width_mm(profile, unknown) if ring_mm is None else ring_mm)
    errors = {}
    if not ring.any():
        return priors[0], errors
    # The ring's measurement is held out: every prior is corrected from the bone beyond it.
    for prior, (outer, inner) in zip(priors, _corrected(profile, unknown | ring, priors)):
        err = 0.5 * (np.abs(outer[ring] - profile.outer[ring]) + np.abs(inner[ring] - profile.inner[ring]))
        errors[prior.name] = round(float(np.mean(err)), 3)
    best = min(priors, key=lambda p: errors[p.name])
    return best, errors


def rasterise_shell(reference: Volume, frame: RadialFrame, fill: np.ndarray, inner: np.ndarray, outer: np.ndarray,
                    margin: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Voxels of ``reference``'s grid whose ray cell is in ``fill`` and whose radius lies between the surfaces.

    Args:
        reference: the input grid (geometry; its array is not used).
        frame: centre, axes and direction grid.
        fill: boolean cells to fill.
        inner, outer: ``(cells,)`` radii (mm).
        margin: extra voxels around the filled region's box.

    Returns:
        ``(array, lo, hi, cells)``: the boolean box, its index bounds, and the cell of every voxel in the box.
    """
    sphere = frame.sphere
    idx = np.flatnonzero(fill)
    corners = []
    for r in (inner[idx], outer[idx]):
        pts = frame.centre + (sphere.directions[idx] * r[:, None]) @ frame.axes.T
        corners.append(reference.physical_to_index(pts))
    corners = np.concatenate(corners)
    pad = margin + 1.0 + np.radians(sphere.cell_deg) * float(np.max(outer[idx])) / min(reference.spacing)
    lo = np.maximum(np.floor(corners.min(axis=0) - pad), 0).astype(int)
    hi = np.minimum(np.ceil(corners.max(axis=0) + pad) + 1, reference.shape).astype(int)
    shape = tuple(int(h - l) for l, h in zip(lo, hi))
    out = np.zeros(shape, dtype=bool)
    cells = np.full(shape, -1, dtype=np.int32)
    step = reference.direction * np.asarray(reference.spacing)[None, :]
    origin = np.asarray(reference.origin) + step @ lo - frame.centre

    def locate(ijk):
        v = (ijk @ step.T + origin) @ frame.axes
        return sphere.cell_of(v), np.sqrt(np.einsum("ij,ij->i", v, v))

    # Blocks first: only blocks that may meet the shell are visited voxel by voxel.
    block = BLOCK
    nblocks = [int(np.ceil(n / block)) for n in shape]
    centres = np.stack(np.meshgrid(*[np.arange(n) * block + (block - 1) / 2.0 for n in nblocks], indexing="ij"),
                       axis=-1).reshape(-1, 3)
    bcell, br = locate(centres)
    half = 0.5 * block * float(np.linalg.norm(reference.spacing))
    reach = int(np.ceil(np.degrees(half / max(float(np.min(inner[idx])), 10.0)) / sphere.cell_deg)) + 1
    near = sphere.grow(fill, reach)
    lo_r = np.where(fill, inner, np.inf)
    hi_r = np.where(fill, outer, -np.inf)
    for _ in range(reach):  # widest radius range over the cells a block may touch
        lo_r = np.minimum(lo_r, lo_r[sphere.neighbours].min(axis=1))
        hi_r = np.maximum(hi_r, hi_r[sphere.neighbours].max(axis=1))
    maybe = near[bcell] & (br + half >= lo_r[bcell]) & (br - half <= hi_r[bcell])
    offsets = np.stack(np.meshgrid(*[np.arange(block)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    starts = (centres[maybe] - (block - 1) / 2.0).astype(np.int64)
    for first in range(0, starts.shape[0], 4096):
        ijk = (starts[first:first + 4096, None, :] + offsets[None, :, :]).reshape(-1, 3)
        ijk = ijk[np.all(ijk < np.asarray(shape), axis=1)]
        c, r = locate(ijk.astype(np.float64))
        inside = fill[c] & (r >= inner[c]) & (r <= outer[c])
        sel = tuple(ijk.T)
        out[sel] = inside
        cells[sel] = c
    return out, lo, hi, cells
