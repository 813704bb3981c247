"""Preprocess one defective skull for completion: mask → clean → pose → align → model grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skullvae.io.volume import Volume
from skullvae.preprocessing.align import align_frame
from skullvae.preprocessing.cleanup import clean_mask
from skullvae.preprocessing.crop import crop, nonzero_bbox
from skullvae.preprocessing.intensity import DEFAULT_HU_THRESHOLD, bone_mask
from skullvae.preprocessing.model_grid import GridFrame, grid_coverage
from skullvae.preprocessing.plausibility import check_skull_extent, precheck_skull_extent
from skullvae.preprocessing.pose import Pose, detect_pose, log_note


@dataclass
class PreparedCase:
    """Everything completion needs, and everything needed to map results back.

    Args:
        source: the input volume as read (its geometry is the output geometry).
        mask: boolean bone mask on the input grid (same geometry as ``source``).
        kind: ``"mask"``, ``"ct"`` or ``"labels"``.
        bbox: index box ``(lo, hi)`` of the bone (``hi`` exclusive).
        frame: placement of the model grid (None before :meth:`place`).
        grid_array: bone fraction in the model grid, float32.
        grid_seen: the model-grid voxels inside the scanned box (:func:`grid_coverage`).
        info: clean-up and alignment summaries.
        pose: the anatomical pose found by :meth:`upright` (None before it); ``mask``
            and ``source`` then have the upright geometry (same arrays).
    """

    source: Volume
    mask: Volume
    kind: str
    bbox: tuple[np.ndarray, np.ndarray]
    frame: GridFrame | None = None
    grid_array: np.ndarray | None = None
    grid_seen: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    pose: Pose | None = None

    def upright(self) -> "PreparedCase":
        """Detect the skull's pose from its anatomy and, if it is stored upside down or
        face-back, give ``mask`` and ``source`` the upright geometry (same voxels; see
        :mod:`skullvae.preprocessing.pose`). Says on stderr what was corrected.

        Returns:
            This case, with :attr:`pose` set.
        """
        pose = detect_pose(self.cropped_mask(), reference=self.mask)
        self.pose = pose
        if pose.corrected:
            self.mask, self.source = pose.apply(self.mask), pose.apply(self.source)
        log_note(pose)
        return self

    def cropped_mask(self, margin: int = 2) -> Volume:
        """The mask cropped to the bone (plus ``margin`` voxels), as a view."""
        lo = np.maximum(self.bbox[0] - margin, 0)
        hi = np.minimum(self.bbox[1] + margin, self.mask.shape)
        return crop(self.mask, lo, hi)

    def place(self, grid, voxel_mm: float, align: str = "none", reference: np.ndarray | None = None) -> "PreparedCase":
        """Compute the model-grid frame and the grid array (see :func:`align_frame`)."""
        frame, array, info = align_frame(self.cropped_mask(), grid, voxel_mm, align, reference)
        extent = np.asarray(frame.grid) * frame.voxel_mm
        self.info["align"] = info
        self.info["grid_fov_mm"] = [float(e) for e in extent]
        self.frame, self.grid_array = frame, array
        self.grid_seen = grid_coverage(frame, self.mask)
        return self


def load_mask(volume: Volume, hu_threshold: float = DEFAULT_HU_THRESHOLD, clean: bool = True,
              label: int | None = None, check_extent: bool = True) -> PreparedCase:
    """Make the bone mask of an input volume (no model grid yet).

    Args:
        volume: the input (binary mask, CT in HU, or label map with ``label``), any geometry.
        hu_threshold: bone threshold for CT input.
        clean: remove small components / table-like plates.
        label: the bone label of a label map.
        check_extent: refuse a bone that is not the size of a human skull (see
            :func:`~skullvae.preprocessing.plausibility.check_skull_extent`), before
            any allocation beyond the input's own size.

    Returns:
        A :class:`PreparedCase` without frame (call :meth:`PreparedCase.place`).
    """
    mask, kind = bone_mask(volume, hu_threshold, label)
    info: dict = {"input_kind": kind}
    if check_extent:  # before the clean-up, whose cost grows with a wrong spacing
        precheck_skull_extent(mask, volume.spacing)
    box = None
    if clean:
        mask, info["cleanup"] = clean_mask(mask, volume.spacing, closing_voxels=1 if kind == "ct" else 0)
        if not info["cleanup"]["removed"] and kind == "mask":  # unchanged: reuse its bone box
            box = tuple(np.asarray(b) for b in info["cleanup"]["bbox"])
    if box is None:
        box = nonzero_bbox(mask)
    assert box is not None  # bone_mask/clean_mask refuse empty masks
    if check_extent:
        info["extent"] = check_skull_extent(box[0], box[1], volume.spacing)
    return PreparedCase(volume, Volume(mask, volume.spacing, volume.origin, volume.direction), kind, box, info=info)


def prepare_case(
    volume: Volume,
    model_config: dict,
    hu_threshold: float = DEFAULT_HU_THRESHOLD,
    align: str = "none",
    reference: np.ndarray | None = None,
    clean: bool = True,
) -> PreparedCase:
    """Full preprocessing into a model's grid.

    Args:
        volume: the input volume.
        model_config: needs ``"grid"`` (3 ints) and ``"voxel_mm"``.
        hu_threshold: bone threshold for CT input.
        align: ``"none"``, ``"axes"`` or ``"register"``.
        reference: canonical reference skull in the model grid (for ``"register"``).
        clean: remove small components / table-like plates.

    Returns:
        The :class:`PreparedCase` with frame and grid array.
    """
    case = load_mask(volume, hu_threshold, clean)
    return case.place(model_config["grid"], float(model_config["voxel_mm"]), align, reference)
