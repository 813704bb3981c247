"""Read volumes with exact geometry: NIfTI, NRRD, MetaImage, DICOM series."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.formats import volume_extension
from skullvae.io.volume import Volume


def read_volume(path: str | os.PathLike, dicom_irregular: str = "resample", check: bool = True) -> Volume:
    """Read a 3D volume from a file or a DICOM series folder.

    Args:
        path: ``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd`` file, or a
            folder holding one DICOM series.
        dicom_irregular: for a tilted or unevenly spaced DICOM series,
            ``"resample"`` onto a regular grid at the true slice positions, or
            ``"refuse"`` with a clear error.
        check: run :func:`check_volume_file` first. Only pass False when the
            caller runs that check itself (e.g. concurrently) and acts on its
            error before using the volume: ITK zero-fills truncated NIfTI data.

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
    if check:
        check_volume_file(path)
    volume_extension(path)  # refuses unknown formats
    with _unambiguous_name(path) as name:
        return _read_file(path, name)


def check_volume_file(path: str | os.PathLike) -> None:
    """Refuse a truncated or corrupt NIfTI file (a no-op for other formats and folders).

    Decompresses a ``.nii.gz`` once (zlib releases the GIL, so this can run in a
    thread beside the actual read).

    Args:
        path: the file :func:`read_volume` will read.

    Raises:
        SkullVAEError: corrupt header, corrupt gzip data, or truncated data.
    """
    path = Path(path)
    if path.is_dir() or not path.exists():
        return
    ext = volume_extension(path)
    if ext in (".nii", ".nii.gz"):
        _check_nifti_complete(path, ext)


def _read_file(path: Path, name: Path) -> Volume:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(name))
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


def _check_nifti_complete(path: Path, ext: str) -> None:
    """Refuse a truncated or corrupt NIfTI file (ITK silently zero-fills missing data)."""
    import gzip
    import zlib

    import nibabel as nib

    try:
        header = nib.load(str(path)).header
        # Single-file NIfTI: data start at vox_offset, never inside the header (+4 extension bytes).
        offset = max(int(header.get_data_offset()), int(header["sizeof_hdr"]) + 4)
        needed = offset + int(np.prod(header.get_data_shape(), dtype=np.int64)) * int(header.get_data_dtype().itemsize)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a corrupt header
        raise SkullVAEError(f"cannot read {path.name}: corrupt or not a NIfTI file ({_first_line(exc)})") from None
    if ext == ".nii":
        have = path.stat().st_size
    else:
        have = 0
        try:
            with gzip.open(path, "rb") as stream:
                while chunk := stream.read(1 << 24):
                    have += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise SkullVAEError(f"cannot read {path.name}: corrupt gzip data ({_first_line(exc)})") from None
    if have < needed:
        raise SkullVAEError(f"cannot read {path.name}: file is truncated ({have} of {needed} bytes)")


@contextlib.contextmanager
def _unambiguous_name(path: Path) -> Iterator[Path]:
    """Yield a name ITK reads as ``path`` itself.

    ITK's NIfTI library, asked for ``x.nii.gz``, silently reads ``x.nii`` (or
    ``x.hdr``) when such a sibling exists. In that case the file is read through
    a symbolic link in a private temporary folder.
    """
    name = path.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else None
    if stem is None or not any((path.parent / f"{stem}{ext}").exists() for ext in (".nii", ".hdr", ".NII", ".HDR")):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="skullvae-read-") as tmpdir:
        link = Path(tmpdir) / "volume.nii.gz"
        os.symlink(path.resolve(), link)
        yield link


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text[:160]
