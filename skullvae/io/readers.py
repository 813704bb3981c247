"""Read volumes with exact geometry: NIfTI, NRRD, MetaImage, DICOM series."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.formats import volume_extension
from skullvae.io.volume import Volume


def read_volume(path: str | os.PathLike, dicom_irregular: str = "resample") -> Volume:
    """Read a 3D volume from a file or a DICOM series folder.

    Args:
        path: ``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd`` file, or a
            folder holding one DICOM series.
        dicom_irregular: for a tilted or unevenly spaced DICOM series,
            ``"resample"`` onto a regular grid at the true slice positions, or
            ``"refuse"`` with a clear error.

    Returns:
        The volume, geometry exactly as stored.

    Raises:
        SkullVAEError: missing path, unknown format, unreadable/corrupt file, not 3D.
    """
    path = Path(path)
    if not path.exists():
        raise SkullVAEError(f"no such file or folder: {path}")
    if path.is_dir():
        from skullvae.io.dicom import read_dicom_series

        return read_dicom_series(path, irregular=dicom_irregular)
    volume_extension(path)
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
        dim = reader.GetDimension()
        size = reader.GetSize()
    except RuntimeError as exc:
        raise SkullVAEError(f"cannot read {path.name}: corrupt or not a volume ({_first_line(exc)})") from None
    if not (dim == 3 or (dim == 4 and size[3] == 1)) or min(size[:3]) < 2:
        # A 4D file with one time point is still 3D; one slice is a 2D image.
        raise SkullVAEError(f"{path.name} is {dim}D with size {tuple(size)}; a 3D volume is required")
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise SkullVAEError(f"cannot read {path.name}: corrupt data ({_first_line(exc)})") from None
    if image.GetDimension() == 4:
        image = image[:, :, :, 0]
    volume = Volume.from_sitk(image)
    if volume.array.size == 0:
        raise SkullVAEError(f"{path.name} holds no voxels")
    if volume.array.dtype.kind == "f" and not np.all(np.isfinite(volume.array)):
        raise SkullVAEError(f"{path.name} contains NaN or infinite values")
    return volume


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text[:160]
