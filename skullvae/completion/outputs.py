"""Output files of one completion: volumes, STL, preview PNG and report JSON.

:class:`OutputWriter` hands the preview to the child forked at the start of
``complete`` (matplotlib holds the GIL; see :mod:`skullvae.completion.preview`),
which draws it while the implant is meshed and the other files are written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from skullvae.completion.concurrency import ForkedJob
from skullvae.completion.preview import draw_preview, preview_message
from skullvae.io.atomic import atomic_write_text
from skullvae.io.volume import Volume
from skullvae.io.writers import write_image, write_volume


class OutputWriter:
    """Writes every output of one completion into ``folder``; the preview is drawn beside the meshing.

    Use as a context manager around the meshing; an error inside it stops the
    preview child before the folder is cleaned up.

    Args:
        folder: the (staging) output folder.
        ext: volume extension, e.g. ``".nii.gz"``.
        volume: the input volume (its geometry is the output geometry).
        case: the prepared case (its ``mask`` is the defective bone).
        completion: the completion result.
        implant: the extracted implant.
        preview: the preview child from :func:`~skullvae.completion.preview.start_preview_worker`
            (None, or not started: the preview is drawn here in :meth:`finish`).
    """

    def __init__(self, folder: Path, ext: str, volume: Volume, case, completion, implant,
                 preview: ForkedJob | None = None):
        self.folder, self.ext = Path(folder), ext
        self.volume, self.case, self.completion, self.implant = volume, case, completion, implant
        self._preview = preview
        self._message: dict | None = None

    def __enter__(self) -> "OutputWriter":
        # The child draws the preview at once, beside the meshing and the writes.
        self._message = preview_message(self.folder / "preview.png", self.volume, self.case.mask.array,
                                        self.completion, self.implant)
        pose = getattr(self.case, "pose", None)
        if pose is not None and pose.corrected:  # the 3D view in the STL's (the input's) patient space
            box = pose.restore(self.implant.cropped)
            self._message["implant_geometry"] = (box.spacing, box.origin, np.asarray(box.direction))
            self._message["context"] = pose.restore_points(self._message["context"])
        if self._preview is not None:
            self._preview.send(self._message)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self._preview is not None:
            self._preview.cancel()

    def finish(self, mesh) -> None:
        """Write the STL of ``mesh``; wait for the volumes and the preview to be written."""
        from skullvae.implant.mesh import write_stl

        write_stl(mesh, self.folder / "implant.stl")
        self._write_volumes()
        if self._preview is None or not self._preview.wait():
            draw_preview(self._message)  # type: ignore[arg-type]  # no child, or it failed: here (and raise its error)

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
        mask = case.mask.array
        # The cleaned defective bone as 0/1 bytes: a free view of a boolean mask.
        bone = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8, order="K")
        image = volume.with_array(bone).to_sitk()
        image[box] = _box_image(bone[implant.box] | implant_box)
        del bone
        write_image(image, self.folder / f"completed{self.ext}")
        del image
        if completion.implant_probability is not None:
            from skullvae.preprocessing.crop import geometry_only
            from skullvae.preprocessing.model_grid import from_grid

            # the case's mask has the input's voxels and the (upright) geometry the frame was placed in
            prob = from_grid(completion.implant_probability, completion.frame, geometry_only(case.mask))
            prob[case.mask.array] = 0.0
            write_volume(volume.with_array(prob), self.folder / f"implant_probability{self.ext}")



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
