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
from skullvae.preprocessing.crop import box_corners, nonzero_bbox

#: Depth below the vertex (mm) that the model grid keeps; the deepest SkullBreak-style
#: fronto-orbital defects reach about 130 mm below the vertex.
VAULT_DEPTH_MM = 135.0


@dataclass
class GridFrame:
    """Placement of the model grid in patient space.

    Args:
        center_mm: LPS point at the centre of the grid.
        voxel_mm: isotropic voxel size of the grid.
        grid: number of voxels along each grid axis.
        rotation: 3×3, columns are the grid axes in LPS.
        floor_mm: bone whose coordinate along the grid's third (S) axis is below this
            is left out of the grid; None keeps everything.
    """

    center_mm: np.ndarray
    voxel_mm: float
    grid: tuple[int, int, int]
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    floor_mm: float | None = None

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
            "floor_mm": None if self.floor_mm is None else float(self.floor_mm),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GridFrame":
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(data["center_mm"], dtype=np.float64),
            float(data["voxel_mm"]),
            tuple(int(g) for g in data["grid"]),  # type: ignore[arg-type]
            np.asarray(data.get("rotation", np.eye(3)), dtype=np.float64),
            None if data.get("floor_mm") is None else float(data["floor_mm"]),
        )


def _index_bbox(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive index bounds of the non-zero voxels (error when there are none)."""
    box = nonzero_bbox(array)
    if box is None:
        raise SkullVAEError("the mask is empty: no bone voxels")
    return box[0], box[1] - 1


#: Planes per slab in :func:`_above_floor_bbox`.
_SLAB = 32
#: Slack (mm) on the float64 bounds of a slab's S coordinates (the float32 values
#: compared with the floor are a few ulps away from them).
_SLAB_TOL_MM = 0.01


def _above_floor_bbox(mask: Volume, lo: np.ndarray, hi: np.ndarray, rotation: np.ndarray,
                      floor_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive index bounds, relative to ``lo``, of the bone inside the index box ``lo..hi``
    whose S coordinate (rotation axis 2) is ≥ ``floor_mm``.

    The S coordinate of a voxel is the float32 sum ``s0 + r0[i] + r1[j] + r2[k]`` of
    per-axis terms. The box is visited in slabs across the axis along which S changes
    fastest; a slab wholly above (below) the floor by a safe margin takes all (none) of
    its bone, and only the slabs the floor crosses compute S voxel by voxel, with the
    same float32 arithmetic as a whole-box computation would (same bounds, a fraction of
    the time and no box-sized temporary).

    Raises:
        SkullVAEError: no bone lies above the floor.
    """
    axis_s = np.asarray(rotation)[:, 2]
    step = (mask.direction * np.asarray(mask.spacing)[None, :]).T @ axis_s  # mm along S per index step
    s0 = float(np.asarray(mask.origin) @ axis_s)
    ranges = [np.arange(a, b + 1, dtype=np.float32) * np.float32(st) for a, b, st in zip(lo, hi, step)]
    bone = mask.array[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1]
    axis = int(np.argmax(np.abs(step)))
    rest = [ranges[a] for a in range(3) if a != axis]
    rest_lo = s0 + sum(float(r.min()) for r in rest)
    rest_hi = s0 + sum(float(r.max()) for r in rest)
    found_lo, found_hi = np.full(3, np.iinfo(np.int64).max), np.full(3, -1)
    for start in range(0, bone.shape[axis], _SLAB):
        part = slice(start, min(start + _SLAB, bone.shape[axis]))
        r = ranges[axis][part]
        if rest_hi + float(r.max()) < floor_mm - _SLAB_TOL_MM:
            continue  # wholly below the floor
        index = [slice(None)] * 3
        index[axis] = part
        keep = bone[tuple(index)]
        keep = keep if keep.dtype == bool else keep != 0
        if rest_lo + float(r.min()) < floor_mm + _SLAB_TOL_MM:  # the floor may cross the slab
            terms = [ranges[a] if a != axis else r for a in range(3)]
            s = s0 + terms[0][:, None, None] + terms[1][None, :, None] + terms[2][None, None, :]
            keep = keep & (s >= floor_mm)
        box = nonzero_bbox(keep)
        if box is None:
            continue
        offset = np.zeros(3, dtype=int)
        offset[axis] = start
        found_lo = np.minimum(found_lo, box[0] + offset)
        found_hi = np.maximum(found_hi, box[1] - 1 + offset)
    if found_hi[0] < 0:
        raise SkullVAEError("the mask is empty: no bone voxels")
    return found_lo, found_hi


def bone_bbox_mm(
    mask: Volume, rotation: np.ndarray | None = None, floor_mm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of the non-zero voxels, in the axes of ``rotation`` (default LPS).

    Args:
        mask: binary bone mask.
        rotation: 3×3, columns are the axes to measure along.
        floor_mm: when given, only bone at or above this coordinate along the third
            rotated axis counts.

    Returns:
        ``(low, high)`` corner coordinates in millimetres along the rotated axes.
    """
    rotation = np.eye(3) if rotation is None else np.asarray(rotation)
    lo, hi = _index_bbox(mask.array)
    if floor_mm is not None:
        sub_lo, sub_hi = _above_floor_bbox(mask, lo, hi, rotation, floor_mm)
        lo, hi = lo + sub_lo, lo + sub_hi
    pts = mask.index_to_physical(box_corners(lo, hi)) @ rotation  # coordinates along the rotated axes
    return pts.min(axis=0), pts.max(axis=0)


def frame_for(
    mask: Volume,
    grid,
    voxel_mm: float,
    rotation: np.ndarray | None = None,
    vault_depth_mm: float | None = VAULT_DEPTH_MM,
) -> GridFrame:
    """The frame centred on the bone bounding box of ``mask``'s vault.

    Args:
        mask: binary bone mask (non-zero = bone).
        grid: model grid size (3 ints).
        voxel_mm: model voxel size in millimetres.
        rotation: optional grid axes in LPS (columns); identity when None.
        vault_depth_mm: keep bone down to this depth below the vertex (the highest
            bone along the S axis); None keeps everything.

    Returns:
        The :class:`GridFrame`.
    """
    rotation = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    lo, hi = bone_bbox_mm(mask, rotation)
    floor = None
    if vault_depth_mm is not None and hi[2] - lo[2] > vault_depth_mm:
        floor = float(hi[2] - vault_depth_mm)
        lo, hi = bone_bbox_mm(mask, rotation, floor)
    center = rotation @ ((lo + hi) / 2.0)
    return GridFrame(center, float(voxel_mm), tuple(int(g) for g in grid), rotation, floor)  # type: ignore[arg-type]


def block_reduce(volume: Volume, factors: tuple[int, int, int]) -> Volume:
    """Average ``factors`` blocks (exact geometry: the new voxel centre is the block centre)."""
    arr = volume.array
    if not any(f > 1 for f in factors):
        return volume.with_array(arr.astype(np.float32, copy=False))
    shape = [s // f * f for s, f in zip(arr.shape, factors)]
    arr = arr[: shape[0], : shape[1], : shape[2]]
    count = int(np.prod(factors))
    if arr.dtype == bool and count < 256:
        # Sum the blocks one axis at a time in uint8: exact, and a fraction of the
        # memory traffic of float sums over the full-resolution array.
        for axis in np.argsort(arr.strides)[::-1]:  # slowest-varying axis first: whole planes
            f = factors[axis]
            index = [slice(None)] * 3
            index[axis] = slice(0, None, f)
            total = arr[tuple(index)].astype(np.uint8, order="K")
            for offset in range(1, f):
                index[axis] = slice(offset, None, f)
                total += arr[tuple(index)]
            arr = total
        out = arr.astype(np.float32, order="K")
    else:
        out = np.zeros([s // f for s, f in zip(shape, factors)], dtype=np.float32)
        for a in range(factors[0]):
            for b in range(factors[1]):
                for c in range(factors[2]):
                    out += arr[a :: factors[0], b :: factors[1], c :: factors[2]]
    out /= float(count)
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
    arr = volume.array if volume.array.dtype.kind in "fb" else volume.array != 0
    src = block_reduce(volume.with_array(arr), factors)  # type: ignore[arg-type]
    image = src.to_sitk()
    target = frame.as_volume(np.zeros(frame.grid, dtype=np.uint8)).to_sitk()
    out = sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), target, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    arr = np.clip(np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0)), 0.0, 1.0).astype(np.float32)
    if frame.floor_mm is not None:
        # Grid axis 2 is the S axis: slice k sits at origin_s + k * voxel along it.
        origin_s = float(frame.origin_mm @ np.asarray(frame.rotation)[:, 2])
        s = origin_s + np.arange(arr.shape[2]) * frame.voxel_mm
        arr[:, :, s < frame.floor_mm - 1e-6] = 0.0
    return arr


def grid_coverage(frame: GridFrame, volume: Volume) -> np.ndarray:
    """Which model-grid voxels the scan saw: their centres lie inside ``volume``'s box.

    Outside the scanned box nothing is known (a scan that stops below the vertex has no
    vault top, it is not missing); inside it, no bone means no bone.

    Args:
        frame: the model-grid frame.
        volume: the scan (only its geometry is used): shape, spacing, origin, direction.

    Returns:
        Boolean array of shape ``frame.grid``.
    """
    axes = [np.arange(n, dtype=np.float64) * frame.voxel_mm for n in frame.grid]
    # index of the scan along each of its axes = a + sum over grid axes of (grid offset · coefficient)
    to_index = np.linalg.inv(np.asarray(volume.direction, dtype=np.float64) * np.asarray(volume.spacing)[None, :])
    start = to_index @ (np.asarray(frame.origin_mm, dtype=np.float64) - np.asarray(volume.origin, dtype=np.float64))
    per_axis = to_index @ np.asarray(frame.rotation, dtype=np.float64)  # scan index change per mm along grid axes
    seen = np.ones(tuple(int(n) for n in frame.grid), dtype=bool)
    for k in range(3):
        index = (start[k] + per_axis[k, 0] * axes[0][:, None, None] + per_axis[k, 1] * axes[1][None, :, None]
                 + per_axis[k, 2] * axes[2][None, None, :])
        seen &= (index >= -0.5) & (index <= volume.shape[k] - 0.5)
    return seen


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
    if order == "linear":
        from skullvae.preprocessing.separable import resample_aligned

        out = resample_aligned(grid_array, frame.as_volume(grid_array), reference)
        if out is not None:  # axis-aligned grids: the same interpolation, one axis at a time
            return out
    image = frame.as_volume(grid_array.astype(np.float32)).to_sitk()
    ref_img = sitk.Image([int(s) for s in reference.shape], sitk.sitkUInt8)
    ref_img.SetSpacing(reference.spacing)
    ref_img.SetOrigin(reference.origin)
    ref_img.SetDirection(tuple(reference.direction.reshape(-1)))
    interp = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}[order]
    out = sitk.Resample(image, ref_img, sitk.Transform(), interp, 0.0, sitk.sitkFloat32)
    return np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0)).astype(np.float32, copy=False)
