"""The rim step: one implant component per defect, meeting the bone at its rim.

:func:`rim_implant` is the implant stage of ``complete`` (all modes): it finds the
defects of the input from its radial profile (no defect type needed), corrects the
mode's prior surfaces to the real bone around each defect
(:mod:`skullvae.implant.rim_fill`), fills between them on the input's own grid and
measures the rim gap. A defect that is not a vault shell takes a model completion's own
bone instead (:mod:`skullvae.implant.bone_prior`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from skullvae.errors import SkullVAEError
from skullvae.implant.bone_prior import SHELL_MAX_ERROR_MM, BonePrior, cells_of_voxels, choose_skull, nearest_defect, shell_errors
from skullvae.implant.defect_cells import find_defect_cells
from skullvae.implant.extract import MIN_IMPLANT_CM3, Implant
from skullvae.implant.height_fields import measure_profile, view_radius
from skullvae.implant.morphology import components
from skullvae.implant.rim_fill import (RIM_CELLS, Prior, ring_width_mm, choose_prior, corrected_surfaces, cranial_frame, mirror_prior,
                                       mirror_cells, profile_prior, rasterise_shell, sphere_for_spacing, unknown_cells)
from skullvae.io.volume import Volume
from skullvae.preprocessing.crop import crop, nonzero_bbox
from skullvae.preprocessing.model_grid import block_reduce
from skullvae.preprocessing.separable import resample_aligned

__all__ = ["MEASURE_SPACING_MM", "RimResult", "axes_from_plane", "rim_gap_mm", "rim_implant"]

#: The radial profile is measured on a grid no finer than this (mm); the implant is built on the input's grid.
MEASURE_SPACING_MM = 0.8
#: Slices thicker than this many times the finest spacing are interpolated for the measurement.
MAX_ANISOTROPY = 1.5


@dataclass
class RimResult:
    """The implant of the rim step and what the report says about it."""

    implant: Implant
    components: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def axes_from_plane(plane: dict | None) -> np.ndarray:
    """Skull axes (columns L, P, S in LPS): L = the mid-sagittal plane's normal, S as scanned."""
    if plane is None:
        return np.eye(3)
    left = np.asarray(plane["normal"], dtype=np.float64)
    left = left * (1.0 if left[0] >= 0 else -1.0)
    sup = np.array([0.0, 0.0, 1.0]) - left[2] * left
    sup /= np.linalg.norm(sup)
    return np.stack([left, np.cross(sup, left), sup], axis=1)


def _measuring_mask(mask: Volume) -> Volume:
    """``mask`` on a near-isotropic grid of about :data:`MEASURE_SPACING_MM` (bone = fraction ≥ 0.5).

    Fine axes are block-averaged; thick slices (more than :data:`MAX_ANISOTROPY` times the
    finest spacing) are then interpolated linearly to the finest spacing, so that every
    direction cell meets voxel centres along the whole of its ray, not only where its ray
    crosses a slice.
    """
    factors = tuple(max(1, int(MEASURE_SPACING_MM / s + 1e-6)) for s in mask.spacing)
    if all(f == 1 for f in factors) and max(mask.spacing) <= MAX_ANISOTROPY * min(mask.spacing):
        return mask
    reduced = block_reduce(mask.with_array(np.asarray(mask.array, dtype=bool)), factors)  # type: ignore[arg-type]
    spacing = np.asarray(reduced.spacing)
    fine = float(spacing.min())
    if spacing.max() <= MAX_ANISOTROPY * fine:
        return reduced.with_array(reduced.array >= 0.5)
    # Same box, isotropic cells: the first cell centre stays where the first voxel centre is.
    # Both grids share origin and direction, so the map between them is per axis (in index space).
    shape = tuple(int(n) for n in np.floor((np.asarray(reduced.shape) - 1) * spacing / fine) + 1)
    source = Volume(reduced.array, tuple(spacing))
    target = Volume(np.broadcast_to(np.uint8(0), shape), (fine,) * 3)
    fraction = resample_aligned(reduced.array, source, target, threshold=0.5 - 1e-6)
    return Volume(fraction, (fine,) * 3, reduced.origin, reduced.direction)


def _none_prior(size: int) -> Prior:
    empty = np.full(size, np.nan)
    return Prior("none", empty, empty.copy())


def rim_implant(mask: Volume, bbox: tuple[np.ndarray, np.ndarray], plane: dict | None,
                model_bone: Volume | dict[str, Volume] | None = None,
                priors: tuple[str, ...] = ("mirror", "none", "model"), bone_prior: BonePrior | None = None) -> RimResult:
    """Find the defects of a skull and build their implants on its own grid.

    Args:
        mask: the defective bone mask on the input grid (full size, with geometry).
        bbox: index box of the bone in ``mask``.
        plane: the mid-sagittal plane (``{"normal", "offset_mm"}``), or None.
        model_bone: a completed skull from a model (binary, any grid), for the ``model`` prior;
            or several, by name (e.g. one per DEV vector): each is a ``model:<name>`` candidate.
        priors: the priors to choose from (by :func:`choose_prior`); one name = that prior.
        bone_prior: a model's completed skulls; a defect that is not a vault shell
            (:mod:`skullvae.implant.bone_prior`) takes its implant from one of them.

    Returns:
        The :class:`RimResult`.

    Raises:
        SkullVAEError: no defect found.
    """
    lo = np.maximum(np.asarray(bbox[0]) - 2, 0)
    hi = np.minimum(np.asarray(bbox[1]) + 2, mask.shape)
    cropped = crop(mask, lo, hi)
    measuring = _measuring_mask(cropped)
    sphere = sphere_for_spacing(max(min(measuring.spacing), MEASURE_SPACING_MM))
    frame = cranial_frame(measuring, sphere, axes_from_plane(plane), plane)
    profile = measure_profile(measuring, frame)
    partner = mirror_cells(frame, plane)
    defects = find_defect_cells(profile, partner=partner, view=view_radius(mask, frame))
    if defects.count == 0:
        raise SkullVAEError("no defect found: the skull's vault is closed (natural openings are not filled)")
    fill, unknown = unknown_cells(defects, profile)
    candidates = []
    for name in priors:
        if name == "mirror":
            candidates.append(mirror_prior(profile, plane, _no_mirror(unknown, sphere)))
        elif name == "none":
            candidates.append(_none_prior(sphere.size))
        elif name == "model" and isinstance(model_bone, dict):
            candidates += [profile_prior(f"model:{key}", measure_profile(bone, frame)) for key, bone in model_bone.items()]
        elif name == "model" and model_bone is not None:
            candidates.append(profile_prior("model", measure_profile(model_bone, frame)))
    if not candidates:
        raise SkullVAEError(f"no prior available among {', '.join(priors)}")
    # the held-out ring: for the prior chooser, and to tell defects that are not a vault shell
    width = ring_width_mm(profile, unknown) if len(candidates) > 1 or bone_prior is not None else None
    best, errors = choose_prior(profile, unknown, candidates, width) if len(candidates) > 1 else (candidates[0], {})
    outer, inner = corrected_surfaces(profile, unknown, best)
    filled, flo, fhi, cells = rasterise_shell(cropped, frame, fill, inner, outer)
    box = tuple(slice(int(a), int(b)) for a, b in zip(flo, fhi))
    bone = np.asarray(cropped.array[box], dtype=bool)
    implant = filled & ~bone
    owner = _cell_owner(sphere, defects.labels, fill)
    from_bone: dict = {}
    if bone_prior is not None:
        implant, cells, flo, owner, from_bone = _take_prior_bone(cropped, lo, frame, profile, unknown, defects.labels,
                                                                 width, (implant, cells, flo, owner), bone_prior)
    implant, components = _components(implant, cells, owner, cropped.spacing)
    if not components:
        raise SkullVAEError(f"no defect found: every implant candidate is below {MIN_IMPLANT_CM3} cm³")
    sub = nonzero_bbox(implant, margin=2)
    assert sub is not None
    implant = implant[tuple(slice(int(a), int(b)) for a, b in zip(*sub))]
    cells = cells[tuple(slice(int(a), int(b)) for a, b in zip(*sub))]
    full_lo = lo + flo + sub[0]
    result = Implant(np.ascontiguousarray(implant), full_lo, full_lo + np.asarray(implant.shape), mask)
    bone_box = np.asarray(mask.array[result.box], dtype=bool)
    gaps = []
    for comp in components:
        part = implant & (owner[np.maximum(cells, 0)] == comp["label"]) & (cells >= 0)
        gap = rim_gap_mm(part, bone_box, cells, sphere, mask.spacing)
        comp["rim_gap_mm"] = gap
        comp["implant_from"] = from_bone["skull"] if comp["label"] in from_bone.get("defects", ()) else "rim surfaces"
        gaps.append(gap)
    if errors:
        ranked = " < ".join(f"{name} {err:.2f} mm" for name, err in sorted(errors.items(), key=lambda kv: kv[1]))
        why = f"smallest mean error predicting the held-out {width:.0f} mm ring of bone around the defect: {ranked}"
    else:
        why = f"the only prior of this mode ({best.name})"
    info = {"prior": best.name, "prior_reason": why, "prior_errors_mm": errors, "defects_found": len(components),
            "sphere_cells": sphere.size, "cell_deg": round(sphere.cell_deg, 3),
            "centre_mm": [round(float(v), 2) for v in frame.centre],
            "rim_gap_mm": _pooled_gap(gaps)}
    if from_bone:
        info["bone_prior"] = from_bone
    return RimResult(result, components, info)


def _take_prior_bone(cropped: Volume, lo: np.ndarray, frame, profile, unknown: np.ndarray, labels: np.ndarray,
                     ring_mm: float, shell: tuple, bone_prior: BonePrior) -> tuple:
    """Replace the shell of every defect that is not a vault shell by a completed skull's own bone.

    Args:
        cropped: the defective bone (the box ``lo`` of the input) with geometry.
        lo: the box's first index in the input grid.
        frame, profile, unknown, labels: the rim step's frame, measured radii, solved cells and defects.
        ring_mm: width of the held-out ring.
        shell: ``(implant, cells, lo, owner)`` of the shell fill (box in ``cropped``).
        bone_prior: the completed skulls.

    Returns:
        ``(implant, cells, lo, owner, info)``, the box grown to hold the prior's bone; ``info``
        names the shell errors and, when used, the skull, the defects it filled and those it
        left unfilled (no bone of the skull there: an opening of the face, not a defect).
    """
    implant, cells, flo, owner = shell
    nearest = nearest_defect(frame.sphere, labels)
    errors = shell_errors(profile, unknown, nearest, ring_mm)
    info: dict = {"shell_error_mm": {str(k): v for k, v in errors.items()}, "max_shell_error_mm": SHELL_MAX_ERROR_MM}
    labs = [lab for lab, err in errors.items() if err > SHELL_MAX_ERROR_MM]
    if not labs:
        return implant, cells, flo, owner, info
    name, shares = choose_skull(bone_prior.skulls(), frame, np.isin(labels, labs))
    info.update(skull=name, share_of_missing_rays_filled=shares)
    try:
        extra = bone_prior.implant(name)
        ijk = np.argwhere(extra.array) + (np.asarray(extra.lo) - lo)
    except SkullVAEError:  # the completion adds no bone anywhere
        ijk = np.zeros((0, 3), dtype=np.int64)
    ijk = ijk[np.all((ijk >= 0) & (ijk < np.asarray(cropped.shape)), axis=1)]
    vcells = cells_of_voxels(cropped, frame, ijk)
    keep = np.isin(nearest[vcells], labs)
    ijk, vcells = ijk[keep], vcells[keep]
    # A model that knows the skull and adds no bone there says it is an opening (the face's own
    # openings in front of the orbits), not a defect: it is left unfilled, as the report says.
    filled = {int(lab) for lab in np.unique(nearest[vcells])}
    info.update(defects=sorted(filled), unfilled=sorted(set(labs) - filled))
    theirs = np.isin(nearest, labs)
    implant = implant & ~((cells >= 0) & theirs[np.maximum(cells, 0)])  # their shell goes
    if ijk.size:
        new_lo = np.minimum(flo, ijk.min(axis=0))
        new_hi = np.maximum(flo + np.asarray(implant.shape), ijk.max(axis=0) + 1)
        grown = np.zeros(tuple(new_hi - new_lo), dtype=bool)
        grown_cells = np.full(grown.shape, -1, dtype=np.int32)
        at = tuple(slice(int(a), int(a) + n) for a, n in zip(flo - new_lo, implant.shape))
        grown[at], grown_cells[at] = implant, cells
        grown[tuple((ijk - new_lo).T)] = True
        grown_cells[tuple((ijk - new_lo).T)] = vcells
        todo = np.argwhere(grown_cells < 0)  # the box's other voxels: the rim gap needs their bone's cells
        grown_cells[tuple(todo.T)] = cells_of_voxels(cropped, frame, todo + new_lo)
        implant, cells, flo = grown, grown_cells, new_lo
    owner = np.where(theirs, nearest, owner)
    return implant, cells, flo, owner, info


def _no_mirror(unknown: np.ndarray, sphere) -> np.ndarray:
    """Cells whose mirror cell is no prior: ``unknown`` grown by 8 cells (≈ 11 mm at the vault on the
    0.8 mm grid, wider than :func:`choose_prior`'s held-out ring, so the ring is never its own mirror)."""
    return sphere.grow(unknown, 8)


def _cell_owner(sphere, labels: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Defect number per cell, grown into the rim cells around each defect."""
    owner = labels.copy()
    for _ in range(RIM_CELLS + 1):
        nb = owner[sphere.neighbours]
        grow = (owner < 0) & unknown & (nb.max(axis=1) >= 0)
        owner[grow] = nb.max(axis=1)[grow]
    return owner


def _components(implant: np.ndarray, cells: np.ndarray, owner: np.ndarray, spacing) -> tuple[np.ndarray, list[dict]]:
    """Keep the voxel components large enough to be implants; one entry per defect."""
    voxel_cm3 = float(np.prod(spacing)) / 1000.0
    implant = np.ascontiguousarray(implant)
    flat = np.flatnonzero(implant)
    component, count = components(flat, implant.shape)  # 6-connected, costs only the foreground
    if count == 0:
        return implant, []
    keep = np.bincount(component, minlength=count) * voxel_cm3 >= MIN_IMPLANT_CM3
    flat = flat[keep[component]]
    implant = np.zeros(implant.shape, dtype=bool)
    implant.reshape(-1)[flat] = True
    voxel_cells = cells.reshape(-1)[flat]
    per_defect = np.where(voxel_cells >= 0, owner[np.maximum(voxel_cells, 0)], -1)
    result = []
    for lab in np.unique(per_defect[per_defect >= 0]):
        n = int(np.count_nonzero(per_defect == lab))
        if n * voxel_cm3 < MIN_IMPLANT_CM3:
            continue
        result.append({"label": int(lab), "volume_cm3": round(n * voxel_cm3, 2), "voxels": n})
    return implant, result


def rim_gap_mm(implant: np.ndarray, bone: np.ndarray, cells: np.ndarray, sphere, spacing,
               max_points: int = 40_000) -> dict:
    """Distance from an implant's rim to the defective bone (median and 95th percentile, mm).

    The rim is the implant's voxels in the outermost cells of its footprint on the
    sphere. A rim voxel that touches bone (a face neighbour) has gap 0: the gap is the
    distance between voxel centres minus one voxel.

    Args:
        implant: boolean implant (one component) in a box.
        bone: defective bone in the same box.
        cells: direction cell of every voxel of the box.
        sphere: the direction grid.
        spacing: voxel size (mm).
        max_points: rim voxels sampled.

    Returns:
        ``{"median": float, "p95": float, "n": int}`` (NaN when there is no bone in the box).
    """
    foot = np.zeros(sphere.size, dtype=bool)
    foot[cells[implant]] = True
    # Thick slices leave cells between them without a voxel centre: close those gaps first,
    # or the footprint's inside would count as its edge.
    gaps = int(np.ceil(max(spacing) / min(spacing))) - 1
    if gaps > 0:
        foot = ~sphere.grow(~sphere.grow(foot, gaps), gaps)
    edge = foot & ~foot[sphere.neighbours].all(axis=1)
    rim = implant & edge[np.maximum(cells, 0)]
    rim_idx = np.argwhere(rim)
    near = bone & sphere.grow(edge, 2)[np.maximum(cells, 0)]
    bone_idx = np.argwhere(near)
    if rim_idx.size == 0 or bone_idx.size == 0:
        return {"median": float("nan"), "p95": float("nan"), "n": 0}
    if rim_idx.shape[0] > max_points:
        rim_idx = rim_idx[:: rim_idx.shape[0] // max_points + 1]
    scale = np.asarray(spacing, dtype=np.float64)
    dist, _ = cKDTree(bone_idx * scale).query(rim_idx * scale)
    gap = np.maximum(dist - float(scale.min()), 0.0)
    return {"median": round(float(np.median(gap)), 3), "p95": round(float(np.percentile(gap, 95)), 3),
            "n": int(rim_idx.shape[0])}


def _pooled_gap(gaps: list[dict]) -> dict:
    """Worst component's median and 95th percentile."""
    med = [g["median"] for g in gaps if np.isfinite(g["median"])]
    p95 = [g["p95"] for g in gaps if np.isfinite(g["p95"])]
    return {"median": max(med) if med else float("nan"), "p95": max(p95) if p95 else float("nan")}
