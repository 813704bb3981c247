"""Write → read round-trips keep size, spacing, origin, direction and values for every format."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from skullvae.errors import SkullVAEError
from skullvae.io import Volume, read_volume, write_volume
from skullvae.io.formats import VOLUME_EXTENSIONS, volume_stem

OBLIQUE = Rotation.from_euler("xyz", [17.0, -32.0, 48.0], degrees=True).as_matrix()
# NIfTI stores spacing and the qform in float32: geometry is exact to float32 precision.
GEOMETRY_TOL = {".nii": 1e-5, ".nii.gz": 1e-5}


def _volume(dtype, direction=OBLIQUE) -> Volume:
    rng = np.random.default_rng(7)
    if dtype == np.uint8:
        array = (rng.random((7, 9, 11)) > 0.5).astype(np.uint8)
    elif dtype == np.int16:
        array = rng.integers(-1024, 3000, size=(7, 9, 11)).astype(np.int16)
    else:
        array = rng.normal(size=(7, 9, 11)).astype(np.float32)
    return Volume(array, (0.4, 0.55, 2.125), (-12.3456789, 101.25, -7.1), direction)


@pytest.mark.parametrize("ext", VOLUME_EXTENSIONS)
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_roundtrip_exact(tmp_path, ext, dtype):
    vol = _volume(dtype)
    path = write_volume(vol, tmp_path / f"case{ext}")
    back = read_volume(path)
    tol = GEOMETRY_TOL.get(ext, 1e-12)
    assert back.shape == vol.shape
    assert back.array.dtype == vol.array.dtype
    np.testing.assert_array_equal(back.array, vol.array)
    np.testing.assert_allclose(back.spacing, vol.spacing, atol=tol, rtol=0)
    np.testing.assert_allclose(back.origin, vol.origin, atol=tol, rtol=0)
    np.testing.assert_allclose(back.direction, vol.direction, atol=tol, rtol=0)
    # The same physical point for the far corner.
    far = np.array(vol.shape) - 1
    np.testing.assert_allclose(back.index_to_physical(far), vol.index_to_physical(far), atol=10 * tol)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("ext", [".nhdr", ".mhd"])
def test_detached_header_writes_data_file(tmp_path, ext):
    path = write_volume(_volume(np.int16), tmp_path / f"case{ext}")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert path.name in names and len(names) == 2  # header + data file, no temp folder left


def test_identity_direction_and_bool(tmp_path):
    vol = Volume(np.zeros((5, 6, 7), dtype=bool), (1.0, 1.0, 1.0))
    vol.array[1:3, 2:4, 3:6] = True
    back = read_volume(write_volume(vol, tmp_path / "m.nrrd"))
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, vol.array.astype(np.uint8))
    np.testing.assert_array_equal(back.direction, np.eye(3))


def test_nii_gz_not_shadowed_by_sibling_nii(tmp_path):
    """ITK alone reads ``x.nii`` when asked for ``x.nii.gz``; we read the file asked for."""
    write_volume(Volume(np.zeros((4, 5, 6), np.uint8)), tmp_path / "x.nii")
    write_volume(Volume(np.ones((4, 5, 6), np.uint8)), tmp_path / "x.nii.gz")
    assert read_volume(tmp_path / "x.nii.gz").array.min() == 1
    assert read_volume(tmp_path / "x.nii").array.max() == 0


def test_sitk_matches_physical_convention(tmp_path):
    """Our ``index_to_physical`` agrees with SimpleITK's on the written file."""
    vol = _volume(np.int16)
    path = write_volume(vol, tmp_path / "c.mha")
    image = sitk.ReadImage(str(path))
    for idx in [(0, 0, 0), (6, 0, 3), (2, 8, 10)]:
        np.testing.assert_allclose(image.TransformIndexToPhysicalPoint(idx), vol.index_to_physical(idx), atol=1e-9)
    assert image.GetPixel(2, 8, 10) == vol.array[2, 8, 10]


def test_single_time_point_4d_is_3d(tmp_path):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(6, 5, 4)  # z, y, x
    image = sitk.JoinSeries([sitk.GetImageFromArray(array)])
    assert image.GetDimension() == 4
    sitk.WriteImage(image, str(tmp_path / "t.nii"))
    back = read_volume(tmp_path / "t.nii")
    assert back.shape == (4, 5, 6)
    np.testing.assert_array_equal(back.array, array.transpose(2, 1, 0))


def test_existing_output_refused(tmp_path):
    vol = _volume(np.uint8)
    write_volume(vol, tmp_path / "a.nii.gz")
    with pytest.raises(SkullVAEError, match="--overwrite"):
        write_volume(vol, tmp_path / "a.nii.gz")
    write_volume(vol, tmp_path / "a.nii.gz", overwrite=True)


def test_volume_stem():
    assert volume_stem("dir/case_001.nii.gz") == "case_001"
    assert volume_stem("x.MHA") == "x"
    with pytest.raises(SkullVAEError, match="unknown volume format"):
        volume_stem("x.png")


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_truncated_nifti_refused(tmp_path, ext):
    """ITK zero-fills a truncated NIfTI silently; the reader must refuse it."""
    path = write_volume(_volume(np.int16), tmp_path / f"t{ext}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SkullVAEError, match="truncated|corrupt"):
        read_volume(path)
