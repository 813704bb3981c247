"""All AutoImplant 2021 scores of one predicted implant."""

from __future__ import annotations

import numpy as np

from skullvae.metrics._masks import as_masks, bounding_box
from skullvae.metrics.overlap import BOUNDARY_MARGIN_MM, _dice, boundary_region
from skullvae.metrics.surface_distance import hd95


def evaluate_implant(pred, gt, defective, spacing=None, margin_mm: float = BOUNDARY_MARGIN_MM) -> dict[str, float]:
    """DSC, bDSC and HD95 of a predicted implant against the ground truth.

    Args:
        pred: predicted implant mask (Volume or 3D array).
        gt: ground-truth implant mask on the same grid.
        defective: the defective skull the implant fills, same grid.
        spacing: voxel size in mm (taken from Volumes when omitted).
        margin_mm: bDSC region width around the defective skull.

    Returns:
        ``{"dsc": float, "bdsc": float, "hd95": float}``; ``hd95`` is ``inf`` when
        exactly one of pred/gt is empty (see :mod:`skullvae.metrics.surface_distance`).

    Raises:
        SkullVAEError: the masks are not on one grid.
    """
    (p, g, d), spacing = as_masks(pred, gt, defective, spacing=spacing,
                                  names=["prediction", "ground truth", "defective skull"])
    # Everything happens near the implants: work in their bounding box grown by the
    # bDSC reach (exact, since both masks are empty outside it).
    reach = tuple(int(np.ceil(margin_mm / s)) + 1 for s in spacing)
    box = bounding_box(p | g, reach)
    if box is None:
        return {"dsc": 1.0, "bdsc": 1.0, "hd95": 0.0}
    p, g, d = p[box], g[box], d[box]
    region = boundary_region(d, spacing, margin_mm, within=p | g)
    return {"dsc": _dice(p, g), "bdsc": _dice(p & region, g & region), "hd95": hd95(p, g, spacing)}
