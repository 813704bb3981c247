"""Output files of one completion: volumes, STL, preview PNG and report JSON.

:class:`OutputWriter` writes them while the implant is being meshed: the volumes
in a thread (SimpleITK and zlib release the GIL), the preview in a forked child
(matplotlib does not) that draws while the implant is meshed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from skullvae.completion.concurrency import BackgroundThread, ForkedJob
from skullvae.io.atomic import atomic_path, atomic_write_text
from skullvae.io.volume import Volume
from skullvae.io.writers import write_image, write_volume

#: Bone points of the preview's 3D panel lie within this distance (mm) of the implant mesh.
CONTEXT_MARGIN_MM = 40.0


class OutputWriter:
    """Writes every output of one completion into ``folder``, overlapping the meshing.

    Use as a context manager around the meshing; an error inside it stops the
    background work before the folder is cleaned up.

    Args:
        folder: the (staging) output folder.
        ext: volume extension, e.g. ``".nii.gz"``.
        volume: the input volume (its geometry is the output geometry).
        case: the prepared case (its ``mask`` is the defective bone).
        completion: the completion result.
        implant: the extracted implant.
    """

    def __init__(self, folder: Path, ext: str, volume: Volume, case, completion, implant):
        self.folder, self.ext = Path(folder), ext
        self.volume, self.case, self.completion, self.implant = volume, case, completion, implant
        self._preview: ForkedJob | None = None
        self._volumes: BackgroundThread | None = None

    def __enter__(self) -> "OutputWriter":
        # Fork before starting the thread: a child forked from a threaded parent may inherit held locks.
        # The child draws the preview at once, beside the meshing and the volume writes.
        self._preview = ForkedJob(self._prepare_preview)
        self._volumes = BackgroundThread(self._write_volumes, name="skullvae-write-volumes")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if self._preview is not None:
                self._preview.cancel()
            if self._volumes is not None:
                try:
                    self._volumes.join()
                except BaseException:  # noqa: BLE001 - the first error is the one reported
                    pass

    def finish(self, mesh) -> None:
        """Write the STL of ``mesh``; wait for the volumes and the preview to be written."""
        from skullvae.implant.mesh import write_stl

        self._preview.send(None)  # type: ignore[union-attr]  # the child drew without waiting; let it exit
        write_stl(mesh, self.folder / "implant.stl")
        self._volumes.join()  # type: ignore[union-attr]
        if not self._preview.wait():  # type: ignore[union-attr]
            self._prepare_preview()(None)  # no fork, or the child failed: run here (and raise its error)

    def _write_volumes(self) -> None:
        """Implant and completed skull (and implant probability) on the input grid.

        Each image is assembled in SimpleITK's own buffer: the implant box is pasted
        into an empty image, and into a copy of the defective bone, so no full-size
        NumPy array is made for either.
        """
        volume, case, completion, implant = self.volume, self.case, self.completion, self.implant
        box = tuple(slice(int(a), int(b)) for a, b in zip(implant.lo, implant.hi))
        implant_box = np.asfortranarray(implant.array.view(np.uint8))  # the input's order: no transposing copies
        image = _empty_image(volume)
        image[box] = _box_image(implant_box)
        write_image(image, self.folder / f"implant{self.ext}")
        src = volume.array
        if src.dtype == np.uint8 and case.mask.array.base is src:  # binary {0,1} input, nothing removed
            bone = src
        else:
            bone = case.mask.array.astype(np.uint8, order="K")  # the cleaned defective bone
        image = volume.with_array(bone).to_sitk()
        image[box] = _box_image(bone[implant.box] | implant_box)
        del bone
        write_image(image, self.folder / f"completed{self.ext}")
        del image
        if completion.implant_probability is not None:
            from skullvae.preprocessing.crop import geometry_only
            from skullvae.preprocessing.model_grid import from_grid

            prob = from_grid(completion.implant_probability, completion.frame, geometry_only(volume))
            prob[case.mask.array] = 0.0
            write_volume(volume.with_array(prob), self.folder / f"implant_probability{self.ext}")

    def _prepare_preview(self):
        """Draw the preview at once; returns a ``finish(message)`` that has nothing left to do.

        Nothing here waits for the STL mesh, so the forked child draws while the
        parent meshes: the coarse 3D mesh is the implant's own marching cubes, its
        step set by the full mesh's face count, which is twice the implant's
        exposed voxel faces (marching cubes of a binary mask), and the context bone
        is chosen around the implant voxels' bounds instead of the mesh's.
        """
        from skullvae.implant.mesh import preview_mesh

        implant, completion = self.implant, self.completion
        center = np.round(np.argwhere(implant.array).mean(axis=0) + implant.lo).astype(int)
        context = completion.frame.as_volume(completion.defective).index_to_physical(
            np.argwhere(completion.defective > 0.5)[::7])
        title = f"skullvae complete --mode {completion.mode}: implant {implant.volume_cm3:.1f} cm³"
        cropped = implant.cropped
        coarse = preview_mesh(cropped, 2 * exposed_faces(implant.array))
        write_preview(self.folder / "preview.png", self.case.mask.array, (implant.array, implant.lo, implant.hi),
                      center, self.volume.spacing, coarse, _near(context, _voxel_bounds(cropped), CONTEXT_MARGIN_MM),
                      title=title)
        return lambda message: None


def exposed_faces(mask: np.ndarray) -> int:
    """Number of voxel faces between a mask voxel and a background voxel (or the border)."""
    padded = np.pad(np.asarray(mask, dtype=bool), 1)
    return sum(int(np.count_nonzero(padded[tuple(slice(1, None) if a == axis else slice(None) for a in range(3))]
                                    != padded[tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))]))
               for axis in range(3))


def _voxel_bounds(mask: Volume) -> np.ndarray:
    """``[[min], [max]]`` LPS mm of the box around the mask's voxels (half a voxel beyond their centres)."""
    from skullvae.preprocessing.crop import box_corners, nonzero_bbox

    lo, hi = nonzero_bbox(mask.array)  # type: ignore[misc]  # the implant is not empty
    corners = mask.index_to_physical(box_corners(lo - 0.5, hi - 0.5))
    return np.stack([corners.min(axis=0), corners.max(axis=0)])


def _empty_image(volume: Volume):
    """An all-zero uint8 ``SimpleITK.Image`` with the geometry of ``volume``."""
    import SimpleITK as sitk

    image = sitk.Image([int(n) for n in volume.shape], sitk.sitkUInt8)
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(np.asarray(volume.direction).reshape(-1)))
    return image


def _box_image(array: np.ndarray):
    """A ``SimpleITK.Image`` of an ``[i, j, k]`` array (for pasting; its geometry is not used)."""
    import SimpleITK as sitk

    return sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array, (2, 1, 0))))


def _near(points: np.ndarray, bounds, margin: float) -> np.ndarray:
    """Points within ``margin`` mm of a bounding box."""
    lo, hi = np.asarray(bounds[0]) - margin, np.asarray(bounds[1]) + margin
    keep = np.all((points >= lo) & (points <= hi), axis=1)
    return points[keep]


def _slice(volume_arr: np.ndarray, axis: int, index: int) -> np.ndarray:
    sl = [slice(None)] * 3
    sl[axis] = index
    return np.asarray(volume_arr[tuple(sl)])


def write_preview(path: str | os.PathLike, defective: np.ndarray, implant_full_box, implant_center: np.ndarray,
                  spacing, mesh=None, context_points=None, title: str = "") -> Path:
    """Three orthogonal slices through the implant centre (bone grey, implant red) and a 3D render.

    Args:
        path: output PNG path.
        defective: defective bone mask on the input grid.
        implant_full_box: ``(array, lo, hi)`` of the implant box in the input grid.
        implant_center: index of the implant centre in the input grid.
        spacing: voxel size (for the aspect ratio).
        mesh: ``(vertices, faces)`` of the implant for the 3D panel (optional).
        context_points: bone points (LPS mm) drawn around the mesh.
        title: figure title.

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from skullvae.viz.render3d import draw_mesh

    arr, lo, hi = implant_full_box
    center = np.asarray(implant_center, int)
    fig = Figure(figsize=(16, 4.4), dpi=90)  # no pyplot: safe in a worker thread
    FigureCanvasAgg(fig)
    names = ("sagittal (i)", "coronal (j)", "axial (k)")
    for axis in range(3):
        ax = fig.add_subplot(1, 4, axis + 1)
        bone = _slice(defective, axis, center[axis]).astype(np.float32)
        imp = np.zeros(bone.shape, bool)
        if lo[axis] <= center[axis] < hi[axis]:
            other = [a for a in range(3) if a != axis]
            box = _slice(arr, axis, center[axis] - lo[axis])
            imp[lo[other[0]] : hi[other[0]], lo[other[1]] : hi[other[1]]] = box
        sp = [spacing[a] for a in range(3) if a != axis]
        rgb = np.stack([bone * 0.8] * 3, axis=-1)
        rgb[imp] = (0.9, 0.15, 0.1)
        ax.imshow(np.transpose(rgb, (1, 0, 2)), origin="lower", aspect=sp[1] / sp[0], interpolation="nearest")
        ax.set_title(f"{names[axis]} = {center[axis]}")
        ax.set_axis_off()
    ax3 = fig.add_subplot(1, 4, 4, projection="3d")
    if mesh is not None:
        draw_mesh(ax3, mesh[0], mesh[1], context=context_points)
        ax3.set_title("implant (LPS mm)")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def write_report(path: str | os.PathLike, report: dict) -> Path:
    """Write ``report`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(report, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
