"""DICOM series: regular, tilted and unevenly spaced series, synthetic and real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.io import read_volume
from skullvae.io.dicom import read_dicom_series

GRADIENT = np.array([10.0, 20.0, 30.0])  # HU per mm along L, P, S


def _hu(points: np.ndarray) -> np.ndarray:
    """A linear HU field: linear interpolation reproduces it exactly."""
    return points @ GRADIENT - 300.0


def _write_series(folder: Path, z_positions, tilt_deg: float, uid: str = "1.2.826.0.1.99.1",
                  slope: float = 1.0, intercept: float = -1024.0, size=(24, 20), spacing=(0.7, 0.9),
                  prefix: str = "im") -> np.ndarray:
    """Write single-slice DICOM files stacked along +S with in-plane axes tilted by ``tilt_deg``.

    Returns the 3x3 matrix whose columns are the row, column and normal cosines.
    """
    folder.mkdir(parents=True, exist_ok=True)
    c, s = np.cos(np.radians(tilt_deg)), np.sin(np.radians(tilt_deg))
    axes = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
    order = np.random.default_rng(0).permutation(len(z_positions))  # files not in slice order
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for n, idx in enumerate(order):
        origin = np.array([-5.0, -3.0, z_positions[idx]])
        ii, jj = np.meshgrid(np.arange(size[0]), np.arange(size[1]), indexing="ij")
        pts = origin + ii[..., None] * spacing[0] * axes[:, 0] + jj[..., None] * spacing[1] * axes[:, 1]
        values = np.rint(_hu(pts))
        if slope != 1.0:
            values = np.rint(values / slope) * slope
        image = sitk.GetImageFromArray(values.T[None].astype(np.int16))
        image.SetSpacing((spacing[0], spacing[1], 1.0))
        image.SetOrigin(tuple(origin))
        image.SetDirection(tuple(axes.reshape(-1)))
        for tag, value in (("0020|000e", uid), ("0020|000d", "1.2.826.0.1.99"), ("0020|0013", str(idx + 1)),
                           ("0008|0060", "CT"), ("0028|1052", f"{intercept:g}"), ("0028|1053", f"{slope:g}")):
            image.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"{prefix}{n:03d}.dcm"))
        writer.Execute(image)
    return axes


def test_regular_series_exact_geometry(tmp_path):
    z = [2.0, 3.25, 4.5, 5.75, 7.0]
    axes = _write_series(tmp_path / "s", z, tilt_deg=0.0)
    vol = read_dicom_series(tmp_path / "s", irregular="refuse")
    assert vol.shape == (24, 20, 5)
    np.testing.assert_allclose(vol.spacing, (0.7, 0.9, 1.25), atol=1e-6)
    np.testing.assert_allclose(vol.origin, (-5.0, -3.0, 2.0), atol=1e-6)
    np.testing.assert_allclose(vol.direction, axes, atol=1e-6)
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in vol.shape], indexing="ij"), axis=-1)
    np.testing.assert_allclose(vol.array, np.rint(_hu(vol.index_to_physical(idx))), atol=1.0)
    assert vol.array.dtype == np.int16


def test_rescale_slope_and_intercept_applied(tmp_path):
    _write_series(tmp_path / "s", [0.0, 1.0, 2.0], tilt_deg=0.0, slope=2.0, intercept=-1000.0)
    vol = read_dicom_series(tmp_path / "s")
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in vol.shape], indexing="ij"), axis=-1)
    expected = np.rint(np.rint(_hu(vol.index_to_physical(idx))) / 2.0) * 2.0
    np.testing.assert_array_equal(vol.array, expected)


def test_tilted_uneven_series_resampled_at_true_positions(tmp_path, caplog):
    z = [0.0, 2.0, 3.5, 9.5, 11.0]  # uneven gaps, one over the 5 mm limit
    axes = _write_series(tmp_path / "s", z, tilt_deg=20.0)
    with caplog.at_level("WARNING", logger="skullvae.io.dicom"):
        vol = read_dicom_series(tmp_path / "s")
    assert "tilt 20.0" in caplog.text and "filled by interpolation" in caplog.text
    np.testing.assert_allclose(vol.direction, axes, atol=1e-6)
    normal = axes[:, 2]
    depths = np.asarray(z) * normal[2]  # slice origins (-5, -3, z) projected on the normal
    depths = depths + np.array([-5.0, -3.0, 0.0]) @ normal
    first = vol.index_to_physical([0, 0, 0]) @ normal
    last = vol.index_to_physical([0, 0, vol.shape[2] - 1]) @ normal
    assert first == pytest.approx(depths[0], abs=1e-6)
    assert last == pytest.approx(depths[-1], abs=1e-6)
    assert vol.spacing[2] <= np.diff(depths).min() + 1e-9  # never an averaged spacing
    # Every voxel covered by the slices holds the HU of its physical position.
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in vol.shape], indexing="ij"), axis=-1)
    truth = _hu(vol.index_to_physical(idx))
    inside = vol.array > vol.array.min() + 1  # away from the padding
    inside = ndimage.binary_erosion(inside, iterations=2)
    assert inside.sum() > 0.3 * inside.size
    np.testing.assert_allclose(vol.array[inside], truth[inside], atol=1.01)


def test_explicit_slice_spacing(tmp_path):
    _write_series(tmp_path / "s", [0.0, 1.0, 3.0, 4.0], tilt_deg=0.0)
    vol = read_dicom_series(tmp_path / "s", slice_spacing=0.5)
    assert vol.shape[2] == 9
    assert vol.spacing[2] == pytest.approx(0.5)
    with pytest.raises(SkullVAEError, match="positive"):
        read_dicom_series(tmp_path / "s", slice_spacing=-1.0)


def test_irregular_refused_with_reason(tmp_path):
    _write_series(tmp_path / "t", [0.0, 2.0, 4.0, 6.0], tilt_deg=15.0)
    with pytest.raises(SkullVAEError, match=r"gantry tilt 15\.0°"):
        read_dicom_series(tmp_path / "t", irregular="refuse")
    _write_series(tmp_path / "g", [0.0, 1.0, 3.0, 4.0], tilt_deg=0.0)
    with pytest.raises(SkullVAEError, match=r"uneven slice gaps 1\.00–2\.00 mm") as err:
        read_volume(tmp_path / "g", dicom_irregular="refuse")
    assert "tilt" not in str(err.value)


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not dicom")
    with pytest.raises(SkullVAEError, match="no DICOM series"):
        read_volume(tmp_path / "empty")
    _write_series(tmp_path / "two", [0.0, 1.0], 0.0, uid="1.2.826.0.1.99.1", prefix="a")
    _write_series(tmp_path / "two", [5.0, 6.0], 0.0, uid="1.2.826.0.1.99.2", prefix="b")
    with pytest.raises(SkullVAEError, match="holds 2 DICOM series"):
        read_volume(tmp_path / "two")
    with pytest.raises(SkullVAEError, match="irregular must be"):
        read_dicom_series(tmp_path / "two", irregular="average")


def test_single_slice_refused(tmp_path):
    _write_series(tmp_path / "one", [0.0], 0.0)
    with pytest.raises(SkullVAEError, match="at least 2"):
        read_volume(tmp_path / "one")


# -- the real tilted GE series ----------------------------------------------------------


def _slice_positions(folder: Path):
    out = []
    for f in sorted(folder.glob("*.dcm")):
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(f))
        reader.ReadImageInformation()
        pos = np.array([float(v) for v in reader.GetMetaData("0020|0032").split("\\")])
        out.append((f, pos))
    return out


def _bone_centroid_mm(image_2d: np.ndarray, to_mm) -> np.ndarray:
    ii, jj = np.nonzero(image_2d >= 400)
    return to_mm(np.stack([ii, jj], axis=1)).mean(axis=0)


@pytest.mark.real_data
def test_real_tilted_series(real_data):
    folder = real_data / "ge_head_ct_dicom"
    vol = read_volume(folder)
    normal = vol.direction[:, 2]
    positions = sorted(_slice_positions(folder), key=lambda fp: fp[1] @ normal)
    assert len(positions) == 28
    depths = np.array([p @ normal for _, p in positions])
    gaps = np.diff(depths)
    assert gaps.min() == pytest.approx(1.08, abs=0.01) and gaps.max() == pytest.approx(7.0, abs=0.01)
    # Physical extent along the normal: first and last slice exactly.
    assert vol.index_to_physical([0, 0, 0]) @ normal == pytest.approx(depths[0], abs=1e-6)
    assert vol.index_to_physical([0, 0, vol.shape[2] - 1]) @ normal == pytest.approx(depths[-1], abs=1e-6)
    assert vol.spacing[2] <= gaps.min() + 1e-9
    assert vol.spacing[:2] == pytest.approx((0.48828, 0.48828), abs=1e-5)
    assert -1100 < np.median(vol.array[vol.array > -3000]) < 100 and vol.array.max() > 1000  # HU
    # The skull in the last slice (on the last output plane) keeps its physical position.
    last_file, last_pos = positions[-1]
    original = sitk.ReadImage(str(last_file))
    pixels = sitk.GetArrayFromImage(original)[0].T
    cos = np.asarray(original.GetDirection()).reshape(3, 3)
    sp = original.GetSpacing()
    to_mm_orig = lambda ij: last_pos + ij[:, :1] * sp[0] * cos[:, 0] + ij[:, 1:] * sp[1] * cos[:, 1]  # noqa: E731
    expected = _bone_centroid_mm(pixels, to_mm_orig)
    k = vol.shape[2] - 1
    to_mm_new = lambda ij: vol.index_to_physical(np.column_stack([ij, np.full(len(ij), k)]))  # noqa: E731
    found = _bone_centroid_mm(vol.array[:, :, k], to_mm_new)
    assert np.linalg.norm(found - expected) < 0.5  # within one pixel
    # A reader that ignores the tilt misplaces it by centimetres.
    naive = sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    naive_mm = np.asarray(naive.TransformContinuousIndexToPhysicalPoint((0.0, 0.0, naive.GetSize()[2] - 1.0)))
    assert np.linalg.norm(naive_mm - vol.index_to_physical([0, 0, k])) > 10.0
    # A middle slice: the resampled volume, sampled where that slice's bone is, is bone.
    mid_file, mid_pos = positions[13]
    mid = sitk.GetArrayFromImage(sitk.ReadImage(str(mid_file)))[0].T
    ii, jj = np.nonzero(mid >= 600)
    pts = mid_pos + ii[:, None] * sp[0] * cos[:, 0] + jj[:, None] * sp[1] * cos[:, 1]
    sampled = ndimage.map_coordinates(vol.array.astype(np.float32), vol.physical_to_index(pts).T, order=1)
    assert np.median(sampled) > 400
