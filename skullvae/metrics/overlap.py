"""Overlap metrics of the AutoImplant challenges: DSC and boundary DSC (bDSC).

Conventions for empty masks: two empty masks agree perfectly (Dice 1.0); an empty
mask against a non-empty one scores 0.0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from skullvae.metrics._masks import as_masks, bounding_box

#: Width of the bDSC region around the defective skull, in mm (AutoImplant 2021).
BOUNDARY_MARGIN_MM = 10.0


def dice(pred, gt) -> float:
    """Dice similarity coefficient ``2|P∩G| / (|P| + |G|)``.

    Args:
        pred: predicted mask (:class:`~skullvae.io.volume.Volume` or 3D array, non-zero = in).
        gt: ground-truth mask on the same grid.

    Returns:
        DSC in [0, 1]; 1.0 when both masks are empty.
    """
    (p, g), _ = as_masks(pred, gt, names=["prediction", "ground truth"])
    return _dice(p, g)


def boundary_region(defective, spacing=None, margin_mm: float = BOUNDARY_MARGIN_MM, within=None) -> np.ndarray:
    """Voxels within ``margin_mm`` (Euclidean, physical) of the defective skull.

    Equivalent to ``distance_transform_edt(~defective, sampling=spacing) <= margin_mm``;
    when ``within`` is given the transform is only evaluated in a box around it
    (exact there, False elsewhere), which keeps 512³ volumes fast.

    Args:
        defective: defective-skull mask (Volume or array).
        spacing: voxel size in mm (taken from a Volume when omitted).
        margin_mm: region half-width in mm.
        within: optional mask; only voxels of its bounding box are evaluated.

    Returns:
        Boolean region mask, shape of ``defective``.
    """
    (d,), spacing = as_masks(defective, spacing=spacing, names=["defective skull"])
    region = np.zeros(d.shape, dtype=bool)
    if within is None:
        box = tuple(slice(0, n) for n in d.shape)
    else:
        (w,), _ = as_masks(within, spacing=spacing)
        reach = tuple(int(np.ceil(margin_mm / s)) + 1 for s in spacing)
        box = bounding_box(w, reach)
        if box is None:
            return region
    crop = d[box]
    if not crop.any():
        return region
    region[box] = ndimage.distance_transform_edt(~crop, sampling=spacing) <= margin_mm
    return region


def boundary_dice(pred, gt, defective, spacing=None, margin_mm: float = BOUNDARY_MARGIN_MM) -> float:
    """Boundary Dice (bDSC): Dice restricted to voxels within ``margin_mm`` of the defective skull.

    Args:
        pred: predicted implant mask.
        gt: ground-truth implant mask.
        defective: defective skull mask (the skull with the defect).
        spacing: voxel size in mm (taken from Volumes when omitted).
        margin_mm: region width in mm (10 mm in AutoImplant 2021).

    Returns:
        bDSC in [0, 1]; 1.0 when both masks are empty inside the region.
    """
    (p, g, d), spacing = as_masks(pred, gt, defective, spacing=spacing,
                                  names=["prediction", "ground truth", "defective skull"])
    region = boundary_region(d, spacing, margin_mm, within=p | g)
    return _dice(p & region, g & region)


def _dice(p: np.ndarray, g: np.ndarray) -> float:
    total = int(np.count_nonzero(p)) + int(np.count_nonzero(g))
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(p & g)) / total
