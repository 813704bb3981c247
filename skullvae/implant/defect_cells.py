"""Find the defects of a skull from its radial profile, without a hint.

A defect is a patch of directions from the cranial centre along which the vault
has no bone, surrounded by bone. Natural openings are not defects:

* the foramen magnum and everything below the skull base, and the scan's own crop
  there: missing directions below the vault zone (elevation < ``floor_deg``), and
  missing patches open to them;
* the edge of the field of view anywhere: missing directions whose ray leaves the scan
  (``view_radius``) before the inner radius spread from the bone around them, where no
  bone could have been seen, and patches open to them;
* openings of the skull base seen from inside (the cribriform plate, basal
  foramina): patches that lie wholly below ``base_top_deg``;
* symmetric pairs of openings in the lower half, such as orbital roofs too thin to
  survive the bone threshold: a patch below the centre's horizon whose mirror image
  is mostly another missing patch (a defect across the midline is its own mirror);
* small foramina and threshold pinholes: patches smaller than ``min_area_mm2``;
* the orbits and the face lie in front of the cranial cavity: rays from the centre
  meet the frontal bone and the orbital roofs first, so they are not missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skullvae.implant.height_fields import RadialProfile, fill_fields

__all__ = ["DefectCells", "FLOOR_DEG", "MIN_DEFECT_AREA_MM2", "find_defect_cells"]

#: Lower edge of the vault zone: elevation above the centre's horizontal plane (degrees).
FLOOR_DEG = -40.0
#: A missing patch whose border is more than this share open to the floor is a natural opening.
MAX_OPEN_BORDER = 0.35
#: A missing patch whose highest direction is below this elevation is a basal opening
#: (cribriform plate, skull-base foramina), not a vault defect (degrees).
BASE_TOP_DEG = -15.0
#: Missing patches smaller than this (mm² at the vault's radius) are foramina or pinholes.
MIN_DEFECT_AREA_MM2 = 150.0
#: A missing direction is out of view when its ray leaves the scan less than this beyond
#: the inner radius spread from the bone around it: bone there could not have been seen (mm).
VIEW_MARGIN_MM = 1.0
#: A lower-half patch whose cells within ``MIDLINE_DEG`` of the mid-sagittal plane span less
#: than ``BRIDGE_SHARE`` of its elevation range is a pair of openings bridged at the midline.
MIDLINE_DEG = 3.0
BRIDGE_SHARE = 0.25


@dataclass
class DefectCells:
    """The defects found on the sphere.

    Args:
        labels: ``(cells,)`` defect number per cell (0..count-1), -1 elsewhere.
        count: number of defects.
        missing: cells with no bone.
        natural: missing cells that are natural openings.
    """

    labels: np.ndarray
    count: int
    missing: np.ndarray
    natural: np.ndarray

    @property
    def cells(self) -> np.ndarray:
        """All defect cells."""
        return self.labels >= 0


def _mirrored_pair(cells: np.ndarray, lab: int, labels: np.ndarray, partner: np.ndarray | None,
                   elevation: np.ndarray, sphere, share: float = 0.5, slack: int = 3) -> bool:
    """A patch in the lower half whose mirror image mostly falls on (within ``slack`` cells of) another missing patch."""
    if partner is None or float(np.mean(elevation[cells])) >= 0.0:
        return False
    others = sphere.grow((labels >= 0) & (labels != lab), slack)
    return float(np.mean(others[partner[cells]])) >= share


def _radius(profile: RadialProfile) -> float:
    out = profile.outer[profile.known]
    return float(np.median(out)) if out.size else 80.0


def _bridged_pair(cells: np.ndarray, elevation: np.ndarray, lateral_deg: np.ndarray | None) -> bool:
    """A lower-half patch with lobes on both sides joined by a thin bridge on the midline."""
    if lateral_deg is None or float(np.mean(elevation[cells])) >= 0.0:
        return False
    lat = lateral_deg[cells]
    if lat.min() > -MIDLINE_DEG or lat.max() < MIDLINE_DEG:
        return False  # not on both sides
    mid = np.abs(lat) < MIDLINE_DEG
    span = float(np.ptp(elevation[cells]))
    return span > 0 and (float(np.ptp(elevation[cells][mid])) if mid.any() else 0.0) < BRIDGE_SHARE * span


def _out_of_view(profile: RadialProfile, view: np.ndarray) -> np.ndarray:
    """Missing cells whose ray leaves the scan before the bone around them begins."""
    missing = ~profile.known
    if not profile.known.any():
        return np.zeros_like(missing)
    near_edge = missing & (view < float(np.nanmax(profile.inner)) + VIEW_MARGIN_MM)
    if not near_edge.any():
        return near_edge
    expected = fill_fields(profile.frame.sphere, np.where(profile.known, profile.inner, 0.0), missing, order=1)
    return near_edge & (view < expected + VIEW_MARGIN_MM)


def find_defect_cells(profile: RadialProfile, floor_deg: float = FLOOR_DEG,
                      min_area_mm2: float = MIN_DEFECT_AREA_MM2, max_open_border: float = MAX_OPEN_BORDER,
                      base_top_deg: float = BASE_TOP_DEG, partner: np.ndarray | None = None,
                      view: np.ndarray | None = None) -> DefectCells:
    """Label the defects of a skull on its direction grid.

    Args:
        profile: the defective skull's :class:`RadialProfile`.
        floor_deg: lower edge of the vault zone (degrees of elevation).
        min_area_mm2: smallest defect (area at the median vault radius).
        max_open_border: largest share of a patch's border that may be open to the floor.
        base_top_deg: patches wholly below this elevation are basal openings.
        partner: the mirror cell of every cell (across the mid-sagittal plane), if known; its
            frame's L axis is then the plane's normal (the bridged-pair rule needs both).
        view: ``(cells,)`` distance at which each ray leaves the scan
            (:func:`~skullvae.implant.height_fields.view_radius`), if known.

    Returns:
        The :class:`DefectCells`.
    """
    sphere = profile.frame.sphere
    missing = ~profile.known
    elevation = profile.frame.elevation_deg
    vault = elevation >= floor_deg
    unseen = _out_of_view(profile, view) if view is not None else np.zeros_like(missing)
    count, labels = sphere.components(missing & vault & ~unseen)
    below_missing = missing & (~vault | unseen)  # natural: patches open to these are too
    lateral = np.degrees(np.arcsin(np.clip(sphere.directions[:, 0], -1.0, 1.0))) if partner is not None else None
    nb = sphere.neighbours
    area = sphere.cell_area_mm2(_radius(profile))
    out = np.full(sphere.size, -1, dtype=np.int64)
    natural = below_missing.copy()  # grows by the patches open to it
    kept = 0
    if count:
        sizes = np.bincount(labels[labels >= 0], minlength=count)
        for lab in range(count):
            cells = np.flatnonzero(labels == lab)
            border = nb[cells].reshape(-1)
            border = border[labels[border] != lab]
            open_share = float(below_missing[border].mean()) if border.size else 1.0
            if open_share > max_open_border or elevation[cells].max() < base_top_deg or \
                    _mirrored_pair(cells, lab, labels, partner, elevation, sphere) or \
                    _bridged_pair(cells, elevation, lateral):
                natural[cells] = True
                continue
            if sizes[lab] * area < min_area_mm2:  # a foramen or a pinhole
                continue
            out[cells] = kept
            kept += 1
    return DefectCells(out, kept, missing, natural)
