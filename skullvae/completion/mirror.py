"""Mirror baseline: fill the defect with the skull's own left–right reflection.

The mid-sagittal plane is estimated from the skull itself
(:func:`skullvae.preprocessing.symmetry.estimate_midsagittal_plane`); the completed
skull is ``max(bone, reflected bone)``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from skullvae.completion.result import Completion
from skullvae.io.volume import Volume
from skullvae.preprocessing.model_grid import GridFrame, to_grid
from skullvae.preprocessing.symmetry import (
    SYMMETRY_VOXEL_MM,
    _index_reflection,
    estimate_midsagittal_plane,
    mirror_frame,
)

__all__ = ["MIRROR_CORE_MM", "MIRROR_VOXEL_MM", "complete_mirror", "estimate_midsagittal_plane", "mirror_frame",
           "reflect_grid"]

#: Working-grid voxel size for the mirror baseline (mm).
MIRROR_VOXEL_MM = SYMMETRY_VOXEL_MM

#: Defect-core distance for the mirror baseline (mm): real skulls are asymmetric
#: by several millimetres, which must not be mistaken for a defect.
MIRROR_CORE_MM = 10.0

def reflect_grid(fraction: np.ndarray, frame: GridFrame, normal, offset: float) -> np.ndarray:
    """``fraction`` reflected across the plane ``normal · p = offset`` (same frame)."""
    matrix, shift = _index_reflection(frame.as_volume(fraction), np.asarray(normal, float), offset)
    # Same linear interpolation as map_coordinates, without building coordinate arrays.
    return ndimage.affine_transform(fraction, matrix.T, offset=shift, order=1, cval=0.0, output=np.float32)


def complete_mirror(mask: Volume, voxel_mm: float = MIRROR_VOXEL_MM, rotation: np.ndarray | None = None) -> Completion:
    """Complete a defective skull by its mirror image.

    Args:
        mask: the defective bone mask (may be a cropped view) with geometry.
        voxel_mm: working-grid voxel size.
        rotation: optional canonical axes (columns, LPS) from an alignment; its
            first column is the initial left–right axis.

    Returns:
        The :class:`Completion` (probability = max(bone, reflected bone)).
    """
    frame = mirror_frame(mask, voxel_mm, rotation=rotation)
    fraction = to_grid(mask, frame)
    plane = estimate_midsagittal_plane(fraction, frame)
    reflected = reflect_grid(fraction, frame, plane["normal"], plane["offset_mm"])
    prob = np.maximum(fraction, reflected)
    return Completion("mirror", frame, prob, fraction, info={"plane": plane, "voxel_mm": voxel_mm},
                      core_mm=MIRROR_CORE_MM)
