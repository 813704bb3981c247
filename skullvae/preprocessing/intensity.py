"""Turn an input volume into a bone mask: binary masks as is, CT in HU thresholded."""

from __future__ import annotations

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume

#: Default bone threshold for CT in Hounsfield units (cortical bone is > 700, the
#: cancellous bone of the vault 300–700; soft tissue stays below 100).
DEFAULT_HU_THRESHOLD = 300.0

#: A "skull" mask covering more than this fraction of the volume is refused.
MAX_BONE_FRACTION = 0.5

#: Fewer bone voxels than this is refused as "no bone".
MIN_BONE_VOXELS = 500

#: A non-negative integer volume with 3 to this many distinct values is a label map
#: (a segmentation: one integer per structure), not a CT.
MAX_LABELS = 64

#: Label maps are only recognised when their largest value is at most this.
_MAX_LABEL_VALUE = 1023


def label_counts(volume: Volume) -> dict[int, int] | None:
    """The voxel count of each non-zero label when ``volume`` is a label map, else None.

    A label map holds non-negative integers with 3 to :data:`MAX_LABELS` distinct
    values (background 0 included); a binary mask (two values) is not one.

    Args:
        volume: the input volume.

    Returns:
        ``{label: voxels}`` of the non-zero labels, or None.
    """
    arr = volume.array
    if arr.dtype.kind not in "iu" or arr.size == 0:
        return None
    steps = tuple(max(1, n // 48) for n in arr.shape)
    if np.unique(arr[:: steps[0], :: steps[1], :: steps[2]]).size > MAX_LABELS:  # cheap early exit for CT
        return None
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > _MAX_LABEL_VALUE:
        return None
    counts = np.bincount(arr.reshape(-1), minlength=hi + 1)
    present = np.flatnonzero(counts)
    if not 3 <= present.size <= MAX_LABELS:
        return None
    return {int(v): int(counts[v]) for v in present if v != 0}


def describe_labels(counts: dict[int, int], limit: int = 8) -> str:
    """``1 (1000 voxels), 2 (125 voxels), ...`` (the largest ``limit`` labels by value)."""
    items = sorted(counts.items())
    text = ", ".join(f"{k} ({v} voxels)" for k, v in items[:limit])
    return text + (f", … {len(items) - limit} more" if len(items) > limit else "")


def input_kind(volume: Volume) -> str:
    """Classify the input as ``"mask"`` (two values, one of them 0), ``"labels"`` or ``"ct"``.

    A mask may store its foreground as 1, 255 or any other single value; a label
    map is described by :func:`label_counts`.

    Args:
        volume: the input volume.

    Returns:
        ``"mask"``, ``"labels"`` or ``"ct"``.
    """
    arr = volume.array
    if arr.dtype == bool:
        return "mask"
    steps = tuple(max(1, n // 48) for n in arr.shape)
    if np.unique(arr[:: steps[0], :: steps[1], :: steps[2]]).size > 2:  # cheap early exit for CT
        return "labels" if label_counts(volume) is not None else "ct"
    lo, hi = arr.min(), arr.max()
    if arr.dtype.kind in "ui" and lo == 0 and hi == 1:
        return "mask"  # an integer array within [0, 1] is {0, 1}
    if lo == hi:
        return "mask" if lo in (0, 1, 255) else "ct"
    if lo != 0 and hi != 0:
        return "ct"
    other = hi if lo == 0 else lo
    if np.count_nonzero(arr) == np.count_nonzero(arr == other):
        return "mask"
    return "labels" if label_counts(volume) is not None else "ct"


def bone_mask(volume: Volume, hu_threshold: float = DEFAULT_HU_THRESHOLD,
              label: int | None = None) -> tuple[np.ndarray, str]:
    """Boolean bone mask of ``volume``.

    Args:
        volume: a binary skull mask, a CT in Hounsfield units, or a label map.
        hu_threshold: CT voxels at or above this value are bone.
        label: the bone label of a label map (or of a mask): voxels equal to it are bone.

    Returns:
        ``(mask, kind)`` with ``kind`` from :func:`input_kind`.

    Raises:
        SkullVAEError: no bone, (nearly) everything is bone, a label map without
            ``label``, or a ``label`` that is not in the volume.
    """
    kind = input_kind(volume)
    if label is not None:
        if kind == "ct":
            raise SkullVAEError(f"--label {label} was given but the input is a CT (many values), not a label map; "
                                "drop --label (CT is thresholded with --hu-threshold)")
        mask = volume.array == label
        if not mask.any():
            present = label_counts(volume) or {int(v): 0 for v in np.unique(volume.array) if v != 0}
            raise SkullVAEError(f"label {label} is not in the input (its labels: {', '.join(map(str, present))})")
        kind = "labels"
    elif kind == "labels":
        counts = label_counts(volume) or {}
        raise SkullVAEError(
            f"the input is a label map ({len(counts)} labels besides 0: {describe_labels(counts)}), "
            "not a CT in HU or a bone mask; choose the bone label with --label N"
        )
    elif kind == "mask":
        arr = volume.array
        if arr.dtype == np.uint8 and arr.max() <= 1:
            mask = arr.view(bool)  # zero-copy; never written to
        else:
            mask = arr != 0
    else:
        mask = volume.array >= hu_threshold
    n_bone = int(np.count_nonzero(mask))
    what = {"mask": "mask", "labels": f"label map (label {label})"}.get(kind, f"CT (threshold {hu_threshold:g} HU)")
    if n_bone < MIN_BONE_VOXELS:
        hint = "" if kind != "ct" else "; is it in Hounsfield units? try --hu-threshold"
        raise SkullVAEError(f"no bone found in the input {what}: {n_bone} bone voxels{hint}")
    fraction = n_bone / mask.size
    if fraction > MAX_BONE_FRACTION:
        hint = "" if kind != "ct" else "; is it in Hounsfield units? try a higher --hu-threshold"
        raise SkullVAEError(
            f"the input {what} is {100 * fraction:.0f}% bone: expected a skull, not a filled volume{hint}"
        )
    return mask, kind
