"""The in-memory volume type: an array plus its physical geometry.

Conventions (the ITK/SimpleITK ones, so 3D Slicer agrees):

* ``array`` is indexed ``[i, j, k]`` — the first axis is the ITK ``x`` index
  (fastest in the file), matching ``spacing[0]``. This is the transpose of
  ``sitk.GetArrayFromImage``.
* Physical points are LPS millimetres:
  ``p = origin + direction @ (spacing * [i, j, k])``.
* ``direction`` is a 3×3 matrix whose *columns* are the unit vectors of the
  index axes (ITK ``GetDirection()`` reshaped row-major).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skullvae.errors import SkullVAEError


def _as_vec3(value, name: str) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise SkullVAEError(f"{name} must be 3 finite numbers, got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


#: Largest deviation of ``direction.T @ direction`` from the identity that is accepted
#: (1e-3 is a 0.06° shear; headers rounded to 6 decimals are far inside).
DIRECTION_TOLERANCE = 1e-3


def check_direction(direction: np.ndarray) -> None:
    """Refuse a direction matrix whose axes are not orthogonal unit vectors.

    ITK and every step after it assume an orthonormal direction (a rotation, possibly
    with a reflection); a sheared header has no such meaning and is refused rather
    than silently "repaired" into a different geometry.

    Args:
        direction: 3×3 matrix, columns are the index axes.

    Raises:
        SkullVAEError: with the angles between the axes and the axis lengths.
    """
    gram = direction.T @ direction
    if np.abs(gram - np.eye(3)).max() <= DIRECTION_TOLERANCE:
        return
    lengths = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    angles = []
    for a, b in ((0, 1), (0, 2), (1, 2)):
        cos = gram[a, b] / max(lengths[a] * lengths[b], 1e-12)
        angles.append(float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))))
    raise SkullVAEError(
        "direction matrix is not orthonormal (angles between the axes "
        f"{angles[0]:.2f}°, {angles[1]:.2f}°, {angles[2]:.2f}°, axis lengths "
        f"{', '.join(f'{v:.4f}' for v in lengths)}): a sheared or corrupt header; "
        "resample the volume onto an orthogonal grid (e.g. harden the transform in 3D Slicer) and try again"
    )


@dataclass
class Volume:
    """A 3D array with spacing, origin and direction (LPS, millimetres).

    Args:
        array: 3D numpy array indexed ``[i, j, k]``.
        spacing: voxel size along i, j, k in mm.
        origin: physical LPS position of voxel (0, 0, 0) in mm.
        direction: 3×3 matrix, columns are the index axes' unit vectors.
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 3:
            raise SkullVAEError(f"expected a 3D volume, got {self.array.ndim}D array of shape {self.array.shape}")
        if min(self.array.shape) < 1:
            raise SkullVAEError(f"volume has an empty axis: shape {self.array.shape}")
        self.spacing = _as_vec3(self.spacing, "spacing")
        if min(self.spacing) <= 0:
            raise SkullVAEError(f"spacing must be positive, got {self.spacing}")
        self.origin = _as_vec3(self.origin, "origin")
        direction = np.asarray(self.direction, dtype=np.float64)
        if direction.shape == (9,):
            direction = direction.reshape(3, 3)
        if direction.shape != (3, 3) or not np.all(np.isfinite(direction)):
            raise SkullVAEError(f"direction must be a 3x3 matrix, got shape {direction.shape}")
        check_direction(direction)
        self.direction = direction

    # -- geometry ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(ni, nj, nk)``."""
        return tuple(int(s) for s in self.array.shape)  # type: ignore[return-value]

    @property
    def affine(self) -> np.ndarray:
        """4×4 index→LPS matrix."""
        aff = np.eye(4)
        aff[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        aff[:3, 3] = self.origin
        return aff

    def index_to_physical(self, index) -> np.ndarray:
        """Map continuous indices ``(..., 3)`` to LPS millimetres ``(..., 3)``."""
        idx = np.asarray(index, dtype=np.float64)
        return idx @ (self.direction * np.asarray(self.spacing)[None, :]).T + np.asarray(self.origin)

    def physical_to_index(self, points) -> np.ndarray:
        """Map LPS millimetres ``(..., 3)`` to continuous indices ``(..., 3)``."""
        pts = np.asarray(points, dtype=np.float64) - np.asarray(self.origin)
        return (pts @ self.direction) / np.asarray(self.spacing)

    def same_geometry(self, other: "Volume", tol: float = 1e-5) -> bool:
        """True when shape, spacing, origin and direction agree within ``tol``."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing, other.spacing, atol=tol, rtol=0)
            and np.allclose(self.origin, other.origin, atol=tol, rtol=0)
            and np.allclose(self.direction, other.direction, atol=tol, rtol=0)
        )

    def with_array(self, array: np.ndarray) -> "Volume":
        """A new volume with the same geometry and another array of the same shape."""
        array = np.asarray(array)
        if array.shape != self.array.shape:
            raise ValueError(f"shape {array.shape} differs from {self.array.shape}")
        return Volume(array, self.spacing, self.origin, self.direction.copy())

    # -- content ----------------------------------------------------------
    @property
    def is_binary(self) -> bool:
        """True when every value is 0 or 1 (or the array is boolean)."""
        if self.array.dtype == bool:
            return True
        if self.array.dtype.kind in "iu":  # min/max: one fast pass, no sort
            return bool(self.array.min() >= 0 and self.array.max() <= 1)
        values = np.unique(self.array[:: max(1, self.array.shape[0] // 64)])
        if not np.all(np.isin(values, (0, 1))):
            return False
        return bool(np.all((self.array == 0) | (self.array == 1)))

    def mask(self) -> np.ndarray:
        """Boolean view of a binary volume (non-zero voxels)."""
        return self.array != 0

    # -- SimpleITK bridge -------------------------------------------------
    def to_sitk(self):
        """Convert to a ``SimpleITK.Image`` with identical geometry."""
        import SimpleITK as sitk

        array = self.array.astype(np.uint8) if self.array.dtype == bool else self.array
        image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array, (2, 1, 0))))
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(tuple(self.direction.reshape(-1)))
        return image

    @classmethod
    def from_sitk(cls, image) -> "Volume":
        """Build from a 3D ``SimpleITK.Image`` (geometry copied exactly)."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise SkullVAEError(f"expected a 3D image, got {image.GetDimension()}D")
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise SkullVAEError(
                f"expected a scalar image, got {image.GetNumberOfComponentsPerPixel()} components per voxel"
            )
        array = np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0))
        return cls(array, image.GetSpacing(), image.GetOrigin(), np.asarray(image.GetDirection()).reshape(3, 3))
