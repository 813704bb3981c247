"""Read a DICOM CT series with exact geometry, including tilted or unevenly spaced series.

A DICOM series is a stack of 2D slices, each with its own ImagePositionPatient
(0020|0032) and ImageOrientationPatient (0020|0037). A reader that assumes one
constant slice spacing along the slice normal gets two kinds of real series wrong:

* **gantry tilt**: the slices are stacked along a direction that is not the normal
  of their row/column cosines, so consecutive slices are shifted in-plane;
* **uneven gaps**: the distance between consecutive slices varies.

Such a series is no regular grid. Here it is either refused with an explanation or
resampled onto a regular grid whose axes are the slices' row, column and normal
directions, with the first and last output planes exactly on the first and last
slice, and a slice spacing no larger than the smallest true gap. Each output voxel
is interpolated linearly between the two slices around it along the normal, each
slice being sampled (bilinearly) at the true in-plane position of the voxel. The
spacing of the slices is never averaged.

Pixel values are returned in Hounsfield units: GDCM (inside SimpleITK) applies each
slice's RescaleSlope (0028|1053) and RescaleIntercept (0028|1052) while reading.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume

logger = logging.getLogger(__name__)

#: Gaps larger than this are bridged by interpolation with a warning.
MAX_INTERPOLATED_GAP_MM = 5.0

_IRREGULAR_MODES = ("resample", "refuse")


@dataclass
class _Slice:
    """One 2D slice: pixels ``[i, j]`` (i along the row cosine) plus its position."""

    pixels: np.ndarray
    position: np.ndarray
    row: np.ndarray
    col: np.ndarray
    spacing: tuple[float, float]
    name: str


def read_dicom_series(
    folder: str | os.PathLike,
    irregular: str = "resample",
    slice_spacing: float | None = None,
) -> Volume:
    """Read the one DICOM series in ``folder`` as a volume in Hounsfield units.

    Args:
        folder: folder holding the slices of exactly one series.
        irregular: what to do with a series with gantry tilt or uneven slice gaps:
            ``"resample"`` onto a regular grid at the true slice positions, or
            ``"refuse"`` with an error that describes the tilt and the gaps.
        slice_spacing: spacing along the slice normal of the resampled grid in mm;
            default: the smallest gap between consecutive slices (shrunk slightly
            so that the first and last planes fall exactly on the first and last
            slice).

    Returns:
        A :class:`Volume` whose axes are the row, column and normal directions of
        the slices (LPS), origin at the first pixel of the first slice. A regular
        series is returned as stored (no interpolation); a resampled one as
        int16 HU when the stored values are integers, float32 otherwise.

    Raises:
        SkullVAEError: no series, several series, inconsistent slices, fewer than
            two slices, duplicate positions, or an irregular series with
            ``irregular="refuse"``.
    """
    if irregular not in _IRREGULAR_MODES:
        raise SkullVAEError(f"irregular must be one of {', '.join(_IRREGULAR_MODES)}, got {irregular!r}")
    if slice_spacing is not None and not (np.isfinite(slice_spacing) and slice_spacing > 0):
        raise SkullVAEError(f"slice spacing must be a positive number of mm, got {slice_spacing}")
    folder = Path(folder)
    files = _series_files(folder)
    with quiet_itk():
        slices = [_read_slice(f) for f in files]
    row, col, normal, spacing = _common_frame(slices, folder)
    slices.sort(key=lambda s: float(normal @ s.position))
    coords = np.array([[row @ s.position, col @ s.position, normal @ s.position] for s in slices])
    gaps = np.diff(coords[:, 2])
    if np.any(gaps < 1e-3):
        dup = [slices[i].name for i in np.flatnonzero(gaps < 1e-3)[:2]]
        raise SkullVAEError(
            f"{folder.name}: several slices share one position (e.g. {', '.join(dup)}); "
            "the folder holds more than one acquisition — keep one per folder"
        )
    lateral = np.hypot(coords[:, 0] - coords[0, 0], coords[:, 1] - coords[0, 1])
    tilt_deg = _tilt_degrees(coords)
    tilted = float(lateral.max()) > 0.05 * min(spacing)
    uneven = float(gaps.max() - gaps.min()) > max(1e-3, 0.01 * float(np.median(gaps)))
    dtype = _output_dtype(slices)
    if not tilted and not uneven:
        array = np.stack([s.pixels for s in slices], axis=2)
        step = (coords[-1, 2] - coords[0, 2]) / (len(slices) - 1)
        direction = np.stack([row, col, normal], axis=1)
        return Volume(array.astype(dtype, copy=False), (spacing[0], spacing[1], step), slices[0].position, direction)
    problem = _describe(tilted, tilt_deg, uneven, gaps)
    if irregular == "refuse":
        raise SkullVAEError(
            f"{folder.name}: irregular DICOM series ({problem}); it is not a regular grid and resampling it "
            "was refused (without --refuse-irregular it is interpolated at the true slice positions)"
        )
    return _resample(slices, coords, row, col, normal, spacing, gaps, slice_spacing, dtype, problem, folder.name)


@contextlib.contextmanager
def quiet_itk() -> Iterator[None]:
    """Silence ITK/GDCM's own warning output (our errors explain the problem in one line)."""
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(before)


def _series_files(folder: Path) -> list[str]:
    """File names of the single DICOM series in ``folder``."""
    import SimpleITK as sitk

    if not folder.is_dir():
        raise SkullVAEError(f"not a folder: {folder}")
    with quiet_itk():  # GDCM prints its own warnings (e.g. "No Series were found") on stderr
        series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        n_files = sum(1 for p in folder.iterdir() if p.is_file())
        raise SkullVAEError(f"no DICOM series found in {folder} ({n_files} files, none of them a DICOM image)")
    if len(series) > 1:
        counts = [f"{uid} ({len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid))} files)" for uid in series]
        raise SkullVAEError(
            f"{folder} holds {len(series)} DICOM series: {'; '.join(counts)} — put each series in its own folder"
        )
    files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0]))
    if len(files) < 2:
        raise SkullVAEError(f"{folder} holds a DICOM series of {len(files)} slice; a 3D volume needs at least 2")
    return files


def _read_slice(path: str) -> _Slice:
    """Read one slice with its position, orientation and rescaled (HU) pixels."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.SetImageIO("GDCMImageIO")
    name = Path(path).name
    try:
        reader.ReadImageInformation()
        keys = set(reader.GetMetaDataKeys())
        if "0020|0032" not in keys or "0020|0037" not in keys:
            raise SkullVAEError(f"{name} has no ImagePositionPatient/ImageOrientationPatient; cannot place the slice")
        position = _decimal_string(reader.GetMetaData("0020|0032"), 3, name, "ImagePositionPatient")
        cosines = _decimal_string(reader.GetMetaData("0020|0037"), 6, name, "ImageOrientationPatient")
        image = reader.Execute()
    except RuntimeError as exc:
        raise SkullVAEError(f"cannot read DICOM file {name}: {str(exc).strip().splitlines()[-1][:160]}") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise SkullVAEError(f"{name} is a colour image; a CT slice is required")
    size = image.GetSize()
    if image.GetDimension() == 3 and size[2] != 1:
        raise SkullVAEError(f"{name} is a multi-frame image ({size[2]} frames); single-slice files are required")
    pixels = sitk.GetArrayFromImage(image).reshape(size[1], size[0]).T
    row, col = cosines[:3], cosines[3:]
    return _Slice(pixels, position, row, col, (float(image.GetSpacing()[0]), float(image.GetSpacing()[1])), name)


def _decimal_string(text: str, count: int, name: str, tag: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in text.strip().split("\\")], dtype=np.float64)
    except ValueError:
        values = np.array([])
    if values.shape != (count,) or not np.all(np.isfinite(values)):
        raise SkullVAEError(f"{name}: malformed {tag} {text.strip()!r}")
    return values


def _common_frame(slices: list[_Slice], folder: Path):
    """Orthonormal row/column/normal axes and in-plane spacing shared by all slices."""
    first = slices[0]
    for s in slices[1:]:
        if s.pixels.shape != first.pixels.shape:
            raise SkullVAEError(f"{folder.name}: slices differ in size ({first.name} {first.pixels.shape}, {s.name} {s.pixels.shape})")
        if not (np.allclose(s.row, first.row, atol=1e-4) and np.allclose(s.col, first.col, atol=1e-4)):
            raise SkullVAEError(f"{folder.name}: slices differ in orientation ({first.name} vs {s.name})")
        if not np.allclose(s.spacing, first.spacing, rtol=1e-4, atol=0):
            raise SkullVAEError(f"{folder.name}: slices differ in pixel spacing ({first.name} vs {s.name})")
    row = first.row / np.linalg.norm(first.row)
    col = first.col - (first.col @ row) * row
    col = col / np.linalg.norm(col)
    return row, col, np.cross(row, col), first.spacing


def _tilt_degrees(coords: np.ndarray) -> float:
    """Angle between the slice normal and the overall stacking direction."""
    stack = coords[-1] - coords[0]
    return float(np.degrees(np.arctan2(np.hypot(stack[0], stack[1]), stack[2])))


def _describe(tilted: bool, tilt_deg: float, uneven: bool, gaps: np.ndarray) -> str:
    parts = []
    if tilted:
        parts.append(f"gantry tilt {tilt_deg:.1f}°")
    if uneven:
        parts.append(f"uneven slice gaps {gaps.min():.2f}–{gaps.max():.2f} mm along the normal")
    return ", ".join(parts)


def _output_dtype(slices: list[_Slice]) -> np.dtype:
    """int16 when every HU value is an integer in range, else float32."""
    lo = min(float(s.pixels.min()) for s in slices)
    hi = max(float(s.pixels.max()) for s in slices)
    integral = all(s.pixels.dtype.kind in "iub" for s in slices)
    if integral and lo >= np.iinfo(np.int16).min and hi <= np.iinfo(np.int16).max:
        return np.dtype(np.int16)
    return np.dtype(np.float32)


def _resample(slices, coords, row, col, normal, spacing, gaps, slice_spacing, dtype, problem, label) -> Volume:
    """Interpolate the irregular stack onto a regular row/column/normal grid."""
    sx, sy = spacing
    nx, ny = slices[0].pixels.shape
    depth = coords[-1, 2] - coords[0, 2]
    target = float(gaps.min()) if slice_spacing is None else float(slice_spacing)
    nz = int(np.ceil(depth / target - 1e-6)) + 1
    sz = depth / (nz - 1)
    # In-plane grid covering the union of all (shifted) slice footprints.
    a0, b0 = coords[:, 0].min(), coords[:, 1].min()
    out_nx = int(np.ceil((coords[:, 0].max() - a0) / sx - 1e-6)) + nx
    out_ny = int(np.ceil((coords[:, 1].max() - b0) / sy - 1e-6)) + ny
    fill = min(float(s.pixels.min()) for s in slices)
    shifted = np.empty((len(slices), out_nx, out_ny), dtype=np.float32)
    for n, s in enumerate(slices):
        offset = ((a0 - coords[n, 0]) / sx, (b0 - coords[n, 1]) / sy)
        ndimage.affine_transform(
            s.pixels.astype(np.float32), np.ones(2), offset=offset, output_shape=(out_nx, out_ny),
            output=shifted[n], order=1, mode="constant", cval=fill,
        )
    planes = coords[0, 2] + sz * np.arange(nz)
    upper = np.clip(np.searchsorted(coords[:, 2], planes, side="right"), 1, len(slices) - 1)
    weight = np.clip((planes - coords[upper - 1, 2]) / (coords[upper, 2] - coords[upper - 1, 2]), 0.0, 1.0)
    out = np.empty((out_nx, out_ny, nz), dtype=dtype)
    for k in range(nz):
        value = (1.0 - weight[k]) * shifted[upper[k] - 1] + weight[k] * shifted[upper[k]]
        out[:, :, k] = np.rint(value) if dtype.kind == "i" else value
    origin = a0 * row + b0 * col + coords[0, 2] * normal
    wide = gaps[gaps > MAX_INTERPOLATED_GAP_MM]
    note = f"; {len(wide)} gap(s) over {MAX_INTERPOLATED_GAP_MM:g} mm (up to {gaps.max():.2f} mm) filled by interpolation" if len(wide) else ""
    logger.warning(
        "%s: %s; resampled %d slices onto a regular grid with %.3f mm slice spacing at the true slice positions%s",
        label, problem, len(slices), sz, note,
    )
    return Volume(out, (sx, sy, sz), origin, np.stack([row, col, normal], axis=1))
