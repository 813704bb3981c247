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


def input_kind(volume: Volume) -> str:
    """Classify the input as ``"mask"`` (two values, one of them 0) or ``"ct"``.

    A mask may store its foreground as 1, 255 or any other single value.

    Args:
        volume: the input volume.

    Returns:
        ``"mask"`` or ``"ct"``.
    """
    arr = volume.array
    if arr.dtype == bool:
        return "mask"
    steps = tuple(max(1, n // 48) for n in arr.shape)
    if np.unique(arr[:: steps[0], :: steps[1], :: steps[2]]).size > 2:  # cheap early exit for CT
        return "ct"
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
    return "ct"


def bone_mask(volume: Volume, hu_threshold: float = DEFAULT_HU_THRESHOLD) -> tuple[np.ndarray, str]:
    """Boolean bone mask of ``volume``.

    Args:
        volume: a binary skull mask or a CT in Hounsfield units.
        hu_threshold: CT voxels at or above this value are bone.

    Returns:
        ``(mask, kind)`` with ``kind`` from :func:`input_kind`.

    Raises:
        SkullVAEError: no bone, or (nearly) everything is bone.
    """
    kind = input_kind(volume)
    if kind == "mask":
        arr = volume.array
        if arr.dtype == np.uint8 and arr.max() <= 1:
            mask = arr.view(bool)  # zero-copy; never written to
        else:
            mask = arr != 0
    else:
        mask = volume.array >= hu_threshold
    n_bone = int(np.count_nonzero(mask))
    what = "mask" if kind == "mask" else f"CT (threshold {hu_threshold:g} HU)"
    if n_bone < MIN_BONE_VOXELS:
        hint = "" if kind == "mask" else "; is it in Hounsfield units? try --hu-threshold"
        raise SkullVAEError(f"no bone found in the input {what}: {n_bone} bone voxels{hint}")
    fraction = n_bone / mask.size
    if fraction > MAX_BONE_FRACTION:
        hint = "" if kind == "mask" else "; is it in Hounsfield units? try a higher --hu-threshold"
        raise SkullVAEError(
            f"the input {what} is {100 * fraction:.0f}% bone: expected a skull, not a filled volume{hint}"
        )
    return mask, kind
