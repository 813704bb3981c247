"""Implant = completed bone ∖ defective bone, at the input's own resolution.

1. In the completion grid, find the defect *core*: completed bone that is more
   than ``core_mm`` from any defective bone (thin slivers along the existing bone,
   where completion and input merely disagree a little, never reach it). Keep
   the large core components and grow them back into the candidate region.
2. Only inside that region's bounding box, at full resolution: upsample the
   completed-bone probability with linear interpolation (not nearest), threshold,
   remove the defective bone dilated by one voxel (rim slivers), open, keep the
   components that touch the defect rim, fill holes, then re-grow by one voxel into
   the rim gap so the implant meets the bone, and remove the defective bone. The
   clean-up runs on the thresholded bone's own box (plus the 3 voxels it reaches);
   its morphology is in :mod:`skullvae.implant.morphology`.

The result never overlaps the defective bone and touches its rim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.implant.morphology import FACE as _FACE
from skullvae.implant.morphology import components, dilate, erode, fill_holes, memory_view
from skullvae.implant.morphology import label as _label
from skullvae.io.volume import Volume
from skullvae.preprocessing.crop import box_corners, geometry_only, nonzero_bbox
from skullvae.preprocessing.model_grid import GridFrame, from_grid
from skullvae.preprocessing.separable import resample_aligned

#: Implants smaller than this (cm³) are noise, not a defect.
MIN_IMPLANT_CM3 = 0.5

_FULL = np.ones((3, 3, 3), bool)


@dataclass
class Implant:
    """An implant mask on a box of the input grid.

    Args:
        array: boolean implant mask over the box.
        lo: first index of the box in the input grid.
        hi: end index (exclusive).
        reference: the input geometry (full size).
    """

    array: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    reference: Volume

    @property
    def box(self) -> tuple[slice, slice, slice]:
        """Slices of the box in the full input grid."""
        return tuple(slice(int(a), int(b)) for a, b in zip(self.lo, self.hi))  # type: ignore[return-value]

    @property
    def cropped(self) -> Volume:
        """The implant box as a volume with exact geometry."""
        ref = geometry_only(self.reference, self.lo, self.hi)
        return Volume(self.array, ref.spacing, ref.origin, ref.direction)

    def full(self, dtype=np.uint8) -> np.ndarray:
        """The implant on the whole input grid.

        Fortran order, like the arrays ``read_volume`` returns: writing it back
        through SimpleITK then needs no transposing copy.
        """
        out = np.zeros(self.reference.shape, dtype=dtype, order="F")
        out[self.box] = self.array
        return out

    @property
    def n_voxels(self) -> int:
        """Number of implant voxels."""
        return int(np.count_nonzero(self.array))

    @property
    def volume_cm3(self) -> float:
        """Implant volume in cm³."""
        return self.n_voxels * float(np.prod(self.reference.spacing)) / 1000.0


def defect_region(probability: np.ndarray, defective: np.ndarray, frame: GridFrame,
                  core_mm: float | None = None, min_fraction: float = 0.2,
                  reconstruction: np.ndarray | None = None) -> np.ndarray:
    """The grid voxels that belong to the defect (completed, not defective, near a core).

    Args:
        probability: completed-bone probability in ``frame``.
        defective: defective bone fraction in ``frame``.
        frame: the completion frame.
        core_mm: minimum distance from defective bone of a core voxel
            (default: max(6 mm, 1.5 grid voxels)). Larger values ignore larger
            disagreements between completion and input (e.g. skull asymmetry for
            the mirror baseline) but need larger defects.
        min_fraction: core components smaller than this fraction of the largest are dropped.
        reconstruction: optional model reconstruction of the defective input; where
            it already has bone the completion merely repeats the model's misfit,
            so those voxels are not implant candidates.

    Returns:
        Boolean grid array (empty when no defect was found).
    """
    vox = frame.voxel_mm
    core_mm = max(6.0, 1.5 * vox) if core_mm is None else core_mm
    candidate = (probability > 0.5) & (defective < 0.5)
    if reconstruction is not None:
        candidate &= reconstruction < 0.5
    if not candidate.any():
        return candidate
    dist = bone_distance_mm(defective, vox)
    core = candidate & (dist > core_mm)
    labels, n = _label(core, _FULL)
    if n == 0:
        return core
    sizes = np.bincount(labels[core], minlength=n + 1)[1:]
    keep = np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1
    core = np.isin(labels, keep)
    region = candidate & _within(core, core_mm + 1.5 * vox, vox)
    # Keep only the candidate components connected to the kept cores.
    labels, _ = _label(region, _FULL)
    ids = np.unique(labels[core & region])
    return np.isin(labels, ids[ids > 0])


def bone_distance_mm(defective: np.ndarray, voxel_mm: float) -> np.ndarray:
    """Distance (mm) of every grid voxel from the nearest defective bone voxel (fraction ≥ 0.5).

    Args:
        defective: defective bone fraction in the completion frame.
        voxel_mm: the frame's voxel size.

    Returns:
        float64 array of ``defective.shape``.
    """
    return ndimage.distance_transform_edt(defective < 0.5, sampling=voxel_mm)


def _within(core: np.ndarray, radius_mm: float, vox: float) -> np.ndarray:
    """Voxels at most ``radius_mm`` from ``core`` (EDT only over the core's box plus the radius)."""
    margin = int(np.ceil(radius_mm / vox)) + 1
    lo, hi = nonzero_bbox(core, margin)  # type: ignore[misc]  # core is not empty here
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    out = np.zeros(core.shape, bool)
    out[box] = ndimage.distance_transform_edt(~core[box], sampling=vox) <= radius_mm
    return out


def _region_box(region: np.ndarray, frame: GridFrame, reference: Volume, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Index box of ``reference`` that covers the grid ``region`` (plus ``margin`` voxels)."""
    lo, hi = nonzero_bbox(region)  # type: ignore[misc]  # region is not empty here
    # one voxel beyond the region on every side (hi is already exclusive)
    phys = frame.as_volume(np.zeros((1, 1, 1), np.uint8)).index_to_physical(box_corners(lo - 1, hi))
    idx = reference.physical_to_index(phys)
    box_lo = np.clip(np.floor(idx.min(axis=0)).astype(int) - margin, 0, reference.shape)
    box_hi = np.clip(np.ceil(idx.max(axis=0)).astype(int) + 1 + margin, 0, reference.shape)
    return box_lo, box_hi


def extract_implant(
    probability: np.ndarray,
    frame: GridFrame,
    defective_grid: np.ndarray,
    mask: Volume,
    threshold: float = 0.5,
    min_fraction: float = 0.2,
    core_mm: float | None = None,
    reconstruction: np.ndarray | None = None,
) -> Implant:
    """Compute the implant at the resolution of ``mask``.

    Args:
        probability: completed-bone probability in ``frame`` (float32).
        frame: the completion frame.
        defective_grid: the defective bone fraction in ``frame``.
        mask: the defective bone mask on the input grid (boolean or {0,1}).
        threshold: probability above which the completed skull has bone.
        min_fraction: components smaller than this fraction of the largest are dropped.
        core_mm: see :func:`defect_region`.
        reconstruction: see :func:`defect_region`.

    Returns:
        The :class:`Implant` (its box is the implant's bounding box plus 2 voxels).

    Raises:
        SkullVAEError: no implant region was found (the skull looks complete).
    """
    region = defect_region(probability, defective_grid, frame, core_mm, min_fraction, reconstruction)
    if not region.any():
        raise SkullVAEError("no defect found: the completed skull adds no bone to the input")
    region = ndimage.binary_dilation(region, _FULL)
    lo, hi = _region_box(region, frame, mask, margin=3)
    ref = geometry_only(mask, lo, hi)
    # One resampling: the probability restricted to the defect region (thresholded plane by
    # plane where the grids are axis-aligned: no full-size float array).
    restricted = np.where(region, probability, 0.0).astype(np.float32)
    bone = resample_aligned(restricted, frame.as_volume(restricted), ref, threshold=threshold)
    if bone is None:
        bone = from_grid(restricted, frame, ref, "linear") > threshold
    # Everything else happens within the thresholded bone plus a margin: the implant is
    # inside the bone, the clean-up reaches 3 voxels beyond it (see _clean).
    crop = nonzero_bbox(bone, margin=4)
    if crop is None:
        raise SkullVAEError("no defect found: the implant is empty after clean-up")
    lo, hi = lo + crop[0], lo + crop[1]
    # Contiguous copies in the resampled array's (Fortran) order: the shifted ORs of the
    # clean-up then stream through memory instead of striding through the full volume.
    bone = np.asfortranarray(bone[tuple(slice(a, b) for a, b in zip(*crop))])
    defective = np.array(mask.array[tuple(slice(a, b) for a, b in zip(lo, hi))], dtype=bool, order="F")
    implant = _clean(bone, defective, min_fraction)  # in bone's buffer
    if not implant.any():
        raise SkullVAEError("no defect found: the implant is empty after clean-up")
    cm3 = np.count_nonzero(implant) * float(np.prod(mask.spacing)) / 1000.0
    if cm3 < MIN_IMPLANT_CM3:
        raise SkullVAEError(f"no defect found: the only implant candidate is {cm3:.2f} cm³ (< {MIN_IMPLANT_CM3} cm³)")
    sub_lo, sub_hi = nonzero_bbox(implant, margin=2)  # type: ignore[misc]
    implant = implant[tuple(slice(a, b) for a, b in zip(sub_lo, sub_hi))]
    return Implant(np.ascontiguousarray(implant), lo + sub_lo, lo + sub_hi, mask)


def _clean(bone: np.ndarray, defective: np.ndarray, min_fraction: float) -> np.ndarray:
    """Full-resolution clean-up inside the box (see the module docstring).

    Reaches 3 voxels beyond ``bone``: the defective bone 2 voxels out decides which
    components touch the rim, the final re-growth adds 1. ``bone`` (contiguous) is
    overwritten: it becomes the implant.
    """
    near = dilate(defective)
    scratch = np.empty_like(near)
    implant = np.greater(bone, near, out=bone)  # bone & ~near
    implant = dilate(erode(implant, out=scratch), out=implant)  # opening
    # Components from the implant voxels' flat indices in memory order (no full-size labels).
    memory = memory_view(implant)
    flat = memory.reshape(-1)
    where = np.flatnonzero(flat)
    component, n = components(where, memory.shape)
    if n == 0:
        return implant
    rim = memory_view(dilate(near, out=scratch)).reshape(-1)[where]
    touching = np.bincount(component[rim], minlength=n) > 0
    if not touching.any():
        implant[...] = False
        return implant
    if n > 1:
        sizes = np.bincount(component, minlength=n)
        keep = touching & (sizes >= min_fraction * sizes[touching].max())
        kept = keep[component]
        flat[where[~kept]] = False
        where = where[kept]
    del component, rim
    implant = fill_holes(implant, where)
    grown = dilate(implant, out=scratch)
    implant |= np.logical_and(grown, near, out=grown)  # close the one-voxel rim gap
    return np.greater(implant, defective, out=implant)  # implant & ~defective
