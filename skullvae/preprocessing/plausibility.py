"""Is the bone the size of a human skull? A check of the physical extent, before any big allocation.

A header that lost its voxel spacing (NIfTI written with 1 mm instead of 0.4 mm, a
spacing in cm or µm) still reads as a valid volume, but its "skull" is metres or
millimetres across: completion then runs for minutes, allocates gigabytes (the
working grids cover the bone at a fixed resolution in mm) and produces a nonsense
implant. The extent of the bone's bounding box along the index axes is compared
with the range of human skulls first.

Ranges used (largest extent of the bone's bounding box, in mm):

* adult skull: length (glabella–opisthocranion) about 165–215 mm, breadth
  125–165 mm, vault height about 120–150 mm; a scan down to the neck (mandible,
  cervical spine) is taller, up to about 260 mm;
* children: smaller; a newborn's head is about 90–120 mm long;
* partial scans (calvarium only, a CT from mid-cranium down) keep at least one
  extent of about 100 mm or more.

Hence: below :data:`MIN_EXTENT_MM` (60 mm) or above :data:`MAX_EXTENT_MM` (400 mm)
the input is refused; between 60 and :data:`CHILD_EXTENT_MM` (120 mm) or between
:data:`ADULT_MAX_EXTENT_MM` (280 mm) and 400 mm it is completed with a warning.
With the refusal above 400 mm every working grid stays bounded (the mirror grid
at 1.5 mm is at most 267³ voxels), whatever the header says.
"""

from __future__ import annotations

import logging

import numpy as np

from skullvae.errors import SkullVAEError

logger = logging.getLogger(__name__)

#: Largest bone extent below this is refused (smaller than a newborn's skull).
MIN_EXTENT_MM = 60.0
#: Largest bone extent below this draws a warning (a child's skull, or a wrong spacing).
CHILD_EXTENT_MM = 120.0
#: Largest bone extent above this draws a warning (larger than an adult head and neck scan).
ADULT_MAX_EXTENT_MM = 280.0
#: Largest bone extent above this is refused (no human skull is this large).
MAX_EXTENT_MM = 400.0


#: Fraction of the bone voxels left out at each end by :func:`robust_extent_mm`.
ROBUST_TAIL = 0.005


def robust_extent_mm(mask: np.ndarray, spacing) -> np.ndarray:
    """Extent in mm along each index axis of the central 99 % of the bone voxels.

    Cheap (three projections of the mask, no labelling), and hardly moved by the
    scattered specks and the table of a raw CT threshold, so it can refuse an
    implausible size before the clean-up, whose cost grows with the wrong size.

    Args:
        mask: boolean bone mask.
        spacing: voxel spacing in mm.

    Returns:
        Three extents in mm.
    """
    extent = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        counts = np.cumsum(np.add.reduce(mask, axis=others, dtype=np.int64))
        total = counts[-1]
        lo = int(np.searchsorted(counts, ROBUST_TAIL * total, side="right"))
        hi = int(np.searchsorted(counts, (1.0 - ROBUST_TAIL) * total, side="left")) + 1
        extent.append(max(hi - lo, 1) * float(spacing[axis]))
    return np.asarray(extent)


def precheck_skull_extent(mask: np.ndarray, spacing) -> None:
    """Refuse a raw bone mask that is far outside the size of a skull (before the clean-up).

    Uses :func:`robust_extent_mm`; the full check (:func:`check_skull_extent`)
    follows on the cleaned mask.

    Raises:
        SkullVAEError: as :func:`check_skull_extent`.
    """
    extent = robust_extent_mm(mask, spacing)
    if float(extent.max()) < MIN_EXTENT_MM or float(extent.max()) > MAX_EXTENT_MM:
        check_skull_extent(np.zeros(3), extent / np.asarray(spacing, float), spacing)


def bone_extent_mm(lo, hi, spacing) -> np.ndarray:
    """Extent in mm of an index box ``[lo, hi)`` along each index axis."""
    return (np.asarray(hi, float) - np.asarray(lo, float)) * np.asarray(spacing, float)


def check_skull_extent(lo, hi, spacing) -> dict:
    """Refuse or warn about a bone whose size is not that of a human skull.

    Args:
        lo, hi: the bone's index bounding box (``hi`` exclusive).
        spacing: the header's voxel spacing in mm.

    Returns:
        ``{"extent_mm": [...], "verdict": "ok" | "small" | "large"}`` (a warning is
        logged for ``small`` and ``large``).

    Raises:
        SkullVAEError: largest extent below :data:`MIN_EXTENT_MM` or above
            :data:`MAX_EXTENT_MM`, with the measured numbers and the likely cause.
    """
    extent = bone_extent_mm(lo, hi, spacing)
    largest = float(extent.max())
    sizes = " × ".join(f"{e:.0f}" for e in extent)
    header = "spacing " + " × ".join(f"{s:g}" for s in spacing) + " mm"
    cause = f"the voxel spacing may have been lost from the header (it says {header})"
    if largest < MIN_EXTENT_MM or largest > MAX_EXTENT_MM:
        word = "small" if largest < MIN_EXTENT_MM else "large"
        raise SkullVAEError(
            f"the bone is {sizes} mm, too {word} for a human skull (largest extent {largest:.0f} mm; "
            f"skulls are {MIN_EXTENT_MM:.0f}–{MAX_EXTENT_MM:.0f} mm, adults about 165–215 mm long): "
            f"{cause}; fix the spacing in the file and try again"
        )
    verdict = "ok"
    if largest < CHILD_EXTENT_MM:
        verdict = "small"
        logger.warning("the bone is %s mm, smaller than an adult skull (about 165-215 mm long): a child's skull, "
                       "a small fragment, or %s", sizes, cause)
    elif largest > ADULT_MAX_EXTENT_MM:
        verdict = "large"
        logger.warning("the bone is %s mm, larger than an adult skull (about 165-215 mm long, a head-and-neck scan "
                       "up to ~260 mm): %s", sizes, cause)
    return {"extent_mm": [round(float(e), 1) for e in extent], "verdict": verdict}
