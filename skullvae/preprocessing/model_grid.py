"""Map a skull mask into the model's fixed grid and map results back exactly.

The model sees every skull in one *frame*: an isotropic grid of ``grid`` voxels of
``voxel_mm`` millimetres (a fixed physical field of view), whose axes are the
columns of ``rotation`` in LPS (identity = the canonical L, P, S axes), centred on
the bone's bounding box. Training data and completion use this same module, so a
result decoded in the grid maps back onto the original voxel grid exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume


@dataclass
class GridFrame:
    """Placement of the model grid in patient space.

    Args:
        center_mm: LPS point at the centre of the grid.
        voxel_mm: isotropic voxel size of the grid.
        grid: number of voxels along each grid axis.
        rotation: 3×3, columns are the grid axes in LPS.
    """

    center_mm: np.ndarray
    voxel_mm: float
    grid: tuple[int, int, int]
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    @property
    def origin_mm(self) -> np.ndarray:
        """LPS position of grid voxel (0, 0, 0)."""
        half = (np.asarray(self.grid, dtype=np.float64) - 1.0) / 2.0 * self.voxel_mm
        return np.asarray(self.center_mm, dtype=np.float64) - self.rotation @ half

    def as_volume(self, array: np.ndarray) -> Volume:
        """Wrap a grid-shaped array as a :class:`Volume` in patient space."""
        return Volume(array, (self.voxel_mm,) * 3, self.origin_mm, self.rotation)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {
            "center_mm": [float(v) for v in self.center_mm],
            "voxel_mm": float(self.voxel_mm),
            "grid": [int(g) for g in self.grid],
            "rotation": np.asarray(self.rotation, dtype=float).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GridFrame":
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(data["center_mm"], dtype=np.float64),
            float(data["voxel_mm"]),
            tuple(int(g) for g in data["grid"]),  # type: ignore[arg-type]
            np.asarray(data.get("rotation", np.eye(3)), dtype=np.float64),
        )


def bone_bbox_mm(mask: Volume, rotation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of the non-zero voxels, in the axes of ``rotation`` (default LPS).

    Returns:
        ``(low, high)`` corner coordinates in millimetres along the rotated axes.
    """
    lo_l, hi_l = [], []
    for axis in range(3):
        profile = np.flatnonzero(np.any(mask.array, axis=tuple(a for a in range(3) if a != axis)))
        if profile.size == 0:
            raise SkullVAEError("the mask is empty: no bone voxels")
        lo_l.append(profile[0])
        hi_l.append(profile[-1])
    rotation = np.eye(3) if rotation is None else np.asarray(rotation)
    lo = np.array(lo_l, dtype=np.float64)
    hi = np.array(hi_l, dtype=np.float64)
    corners = np.array([[c[0], c[1], c[2]] for c in np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T])
    pts = mask.index_to_physical(corners) @ rotation  # coordinates along the rotated axes
    return pts.min(axis=0), pts.max(axis=0)


def frame_for(mask: Volume, grid, voxel_mm: float, rotation: np.ndarray | None = None) -> GridFrame:
    """The frame centred on the bone bounding box of ``mask``.

    Args:
        mask: binary bone mask (non-zero = bone).
        grid: model grid size (3 ints).
        voxel_mm: model voxel size in millimetres.
        rotation: optional grid axes in LPS (columns); identity when None.

    Returns:
        The :class:`GridFrame`.
    """
    rotation = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    lo, hi = bone_bbox_mm(mask, rotation)
    center = rotation @ ((lo + hi) / 2.0)
    return GridFrame(center, float(voxel_mm), tuple(int(g) for g in grid), rotation)  # type: ignore[arg-type]


def _block_reduce(volume: Volume, factors: tuple[int, int, int]) -> Volume:
    """Average ``factors`` blocks (exact geometry: the new voxel centre is the block centre)."""
    arr = volume.array
    if not any(f > 1 for f in factors):
        return volume.with_array(arr.astype(np.float32, copy=False))
    shape = [s // f * f for s, f in zip(arr.shape, factors)]
    arr = arr[: shape[0], : shape[1], : shape[2]]
    out = np.zeros([s // f for s, f in zip(shape, factors)], dtype=np.float32)
    for a in range(factors[0]):
        for b in range(factors[1]):
            for c in range(factors[2]):
                out += arr[a :: factors[0], b :: factors[1], c :: factors[2]]
    out /= float(np.prod(factors))
    spacing = np.asarray(volume.spacing) * np.asarray(factors)
    shift = (np.asarray(factors) - 1) / 2.0 * np.asarray(volume.spacing)
    origin = np.asarray(volume.origin) + volume.direction @ shift
    return Volume(out, spacing, origin, volume.direction)


def to_grid(volume: Volume, frame: GridFrame) -> np.ndarray:
    """Resample a mask (or probability) volume into the model grid.

    Down-sampling averages whole blocks first (anti-aliasing), then interpolates
    linearly, so the result is a bone *fraction* in [0, 1].

    Args:
        volume: mask or probability volume (any geometry).
        frame: target frame.

    Returns:
        float32 array of shape ``frame.grid`` with values in [0, 1].
    """
    import SimpleITK as sitk

    factors = tuple(max(1, int(np.floor(frame.voxel_mm / s / 1.5))) for s in volume.spacing)
    src = _block_reduce(volume.with_array(volume.array if volume.array.dtype.kind == "f" else volume.array != 0), factors)  # type: ignore[arg-type]
    image = src.to_sitk()
    target = frame.as_volume(np.zeros(frame.grid, dtype=np.uint8)).to_sitk()
    out = sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), target, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    arr = np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0))
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def from_grid(grid_array: np.ndarray, frame: GridFrame, reference: Volume, order: str = "linear") -> np.ndarray:
    """Resample a grid array (e.g. bone probability) back onto ``reference``'s voxels.

    Args:
        grid_array: array of shape ``frame.grid``.
        frame: the frame it was computed in.
        reference: the original volume whose geometry to reproduce.
        order: ``"linear"`` (smooth) or ``"bspline"`` interpolation.

    Returns:
        float32 array with ``reference.shape``; outside the grid the value is 0.
    """
    import SimpleITK as sitk

    if tuple(grid_array.shape) != tuple(frame.grid):
        raise ValueError(f"grid array shape {grid_array.shape} != frame grid {frame.grid}")
    image = frame.as_volume(grid_array.astype(np.float32)).to_sitk()
    ref_img = sitk.Image([int(s) for s in reference.shape], sitk.sitkUInt8)
    ref_img.SetSpacing(reference.spacing)
    ref_img.SetOrigin(reference.origin)
    ref_img.SetDirection(tuple(reference.direction.reshape(-1)))
    interp = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}[order]
    out = sitk.Resample(image, ref_img, sitk.Transform(), interp, 0.0, sitk.sitkFloat32)
    return np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0)).astype(np.float32, copy=False)
