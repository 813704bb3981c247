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
from skullvae.io.volume import Volume, check_direction


def read_volume(path: str | os.PathLike, dicom_irregular: str = "resample", check: bool = True,
                nonfinite: str = "refuse") -> Volume:
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
        nonfinite: ``"refuse"`` a volume with NaN or infinite values (ITK reads
            them from NIfTI files as 0, so the file's own data are checked), or
            ``"keep"`` them (for ``info``; see :func:`count_nonfinite`).

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
    if nonfinite not in ("refuse", "keep"):
        raise ValueError(f"nonfinite must be 'refuse' or 'keep', got {nonfinite!r}")
    if check:
        check_volume_file(path, refuse_nonfinite=nonfinite == "refuse")
    volume_extension(path)  # refuses unknown formats
    with _unambiguous_name(path) as name:
        return _read_file(path, name, refuse_nonfinite=nonfinite == "refuse")


def count_nonfinite(path: str | os.PathLike, volume: Volume) -> dict[str, int]:
    """NaN, +inf and -inf voxels of a file (``volume`` is the file as read).

    For NIfTI the file's own data are counted (ITK reads them as 0); for other
    formats, ``volume``'s array.

    Returns:
        ``{"nan": n, "posinf": n, "neginf": n}``.
    """
    path = Path(path)
    if path.is_file() and volume_extension(path) in (".nii", ".nii.gz"):
        return _check_nifti_complete(path, volume_extension(path), refuse_nonfinite=False)
    return _count_array(volume.array)


def _count_array(array: np.ndarray) -> dict[str, int]:
    if array.dtype.kind not in "fc":
        return {"nan": 0, "posinf": 0, "neginf": 0}
    return {"nan": int(np.count_nonzero(np.isnan(array))), "posinf": int(np.count_nonzero(np.isposinf(array))),
            "neginf": int(np.count_nonzero(np.isneginf(array)))}


def nonfinite_error(name: str, counts: dict[str, int]) -> SkullVAEError:
    """The one-line refusal of a volume with NaN or infinite voxels."""
    parts = [f"{counts['nan']} NaN"] if counts["nan"] else []
    if counts["posinf"] + counts["neginf"]:
        parts.append(f"{counts['posinf'] + counts['neginf']} infinite")
    return SkullVAEError(f"{name} contains {' and '.join(parts)} voxels; values must be finite: replace them "
                         "(e.g. by the air value, -1024 HU, or 0 in a mask) and try again")


def check_volume_file(path: str | os.PathLike, refuse_nonfinite: bool = True) -> None:
    """Refuse a truncated or corrupt NIfTI file, or one with NaN/inf voxels (other formats: a no-op).

    Decompresses a ``.nii.gz`` once (zlib releases the GIL, so this can run in a
    thread beside the actual read); float data are checked for NaN and infinite
    values on the way (ITK reads them as 0).

    Args:
        path: the file :func:`read_volume` will read.
        refuse_nonfinite: refuse NaN and infinite voxels.

    Raises:
        SkullVAEError: corrupt header, corrupt gzip data, truncated data, NaN or inf.
    """
    path = Path(path)
    if path.is_dir() or not path.exists():
        return
    ext = volume_extension(path)
    if ext in (".nii", ".nii.gz"):
        _check_nifti_complete(path, ext, refuse_nonfinite)


def _read_file(path: Path, name: Path, refuse_nonfinite: bool = True) -> Volume:
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
    try:  # before reading the data
        check_direction(np.asarray(reader.GetDirection(), dtype=np.float64).reshape(dim, dim)[:3, :3])
    except SkullVAEError as exc:
        raise SkullVAEError(f"{path.name}: {exc}") from None
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise SkullVAEError(f"cannot read {path.name}: corrupt data ({_first_line(exc)})") from None
    if image.GetDimension() == 4:
        image = image[:, :, :, 0]
    try:
        volume = Volume.from_sitk(image)
    except SkullVAEError as exc:
        raise SkullVAEError(f"{path.name}: {exc}") from None
    if volume.array.size == 0:
        raise SkullVAEError(f"{path.name} holds no voxels")
    if refuse_nonfinite and volume.array.dtype.kind == "f" and not np.all(np.isfinite(volume.array)):
        raise nonfinite_error(path.name, _count_array(volume.array))
    return volume


def _check_nifti_complete(path: Path, ext: str, refuse_nonfinite: bool = True) -> dict[str, int]:
    """Refuse a truncated or corrupt NIfTI file (ITK silently zero-fills missing data).

    Float data are counted for NaN and infinite values on the way (ITK reads them as 0).

    Returns:
        The non-finite counts (see :func:`count_nonfinite`).
    """
    import gzip
    import zlib

    import nibabel as nib

    try:
        header = nib.load(str(path)).header
        # Single-file NIfTI: data start at vox_offset, never inside the header (+4 extension bytes).
        offset = max(int(header.get_data_offset()), int(header["sizeof_hdr"]) + 4)
        dtype = np.dtype(header.get_data_dtype())
        needed = offset + int(np.prod(header.get_data_shape(), dtype=np.int64)) * int(dtype.itemsize)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a corrupt header
        raise SkullVAEError(f"cannot read {path.name}: corrupt or not a NIfTI file ({_first_line(exc)})") from None
    counts = _NonfiniteCounter(dtype, offset, needed)
    try:
        with (open(path, "rb") if ext == ".nii" else gzip.open(path, "rb")) as stream:
            while chunk := stream.read(1 << 24):
                counts.feed(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise SkullVAEError(f"cannot read {path.name}: corrupt gzip data ({_first_line(exc)})") from None
    if counts.have < needed:
        raise SkullVAEError(f"cannot read {path.name}: file is truncated ({counts.have} of {needed} bytes)")
    result = counts.result()
    if refuse_nonfinite and any(result.values()):
        raise nonfinite_error(path.name, result)
    return result


class _NonfiniteCounter:
    """Counts bytes, and NaN/inf values of float data, of a NIfTI byte stream fed in chunks."""

    def __init__(self, dtype: np.dtype, offset: int, end: int):
        self.dtype, self.offset, self.end = dtype, offset, end
        self.have = 0
        self._rest = b""
        self._counts = {"nan": 0, "posinf": 0, "neginf": 0}

    def feed(self, chunk: bytes) -> None:
        start = self.have
        self.have += len(chunk)
        if self.dtype.kind not in "fc":
            return
        lo, hi = max(self.offset - start, 0), min(self.end - start, len(chunk))
        if lo >= hi:
            return
        data = self._rest + chunk[lo:hi]
        usable = len(data) - len(data) % self.dtype.itemsize
        self._rest = data[usable:]
        values = np.frombuffer(data[:usable], dtype=self.dtype)
        if not np.isfinite(values).all():
            for key, count in _count_array(values).items():
                self._counts[key] += count

    def result(self) -> dict[str, int]:
        return dict(self._counts)


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
