"""Implant metrics of the AutoImplant 2021 challenge, in physical units.

``dice`` (DSC), ``boundary_dice`` (bDSC, Dice within 10 mm of the defective skull),
``hd95`` (pooled 95th-percentile surface distance in mm) and ``evaluate_implant``
returning all three.
"""

from skullvae.metrics.implant_scores import evaluate_implant
from skullvae.metrics.overlap import BOUNDARY_MARGIN_MM, boundary_dice, boundary_region, dice
from skullvae.metrics.surface_distance import hd95, surface, surface_distances

__all__ = [
    "BOUNDARY_MARGIN_MM", "dice", "boundary_dice", "boundary_region", "hd95", "surface",
    "surface_distances", "evaluate_implant",
]
