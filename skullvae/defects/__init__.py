"""Defect injection: SkullBreak- and SkullFix-style cranial defects on any skull mask."""

from skullvae.defects.inject import DEFECT_TYPES, defect_region, inject_defect
from skullvae.defects.placement import SkullGeometry, skull_geometry

__all__ = ["DEFECT_TYPES", "inject_defect", "defect_region", "skull_geometry", "SkullGeometry"]
