"""The Volume type: geometry maths and validation."""

import numpy as np
import pytest

from skullvae import SkullVAEError, Volume
from skullvae.io.atomic import atomic_path, atomic_write_text


def _oblique():
    a = np.deg2rad(30)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    b = np.deg2rad(-12)
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def test_index_physical_roundtrip_oblique_anisotropic():
    vol = Volume(np.zeros((5, 6, 7), np.uint8), (0.5, 0.7, 2.0), (10.0, -4.0, 33.0), _oblique())
    idx = np.array([[0, 0, 0], [4, 5, 6], [1.5, 2.25, 3.0]])
    pts = vol.index_to_physical(idx)
    assert np.allclose(pts[0], vol.origin)
    # distance between voxel (0,0,0) and (0,0,1) is the k spacing
    assert np.isclose(np.linalg.norm(vol.index_to_physical([0, 0, 1]) - pts[0]), 2.0)
    assert np.allclose(vol.physical_to_index(pts), idx)
    assert np.allclose(vol.affine[:3, :3] @ idx[2] + vol.affine[:3, 3], pts[2])


def test_sitk_bridge_matches_itk_physical_points():
    vol = Volume(np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7), (0.5, 0.7, 2.0), (10.0, -4.0, 33.0), _oblique())
    img = vol.to_sitk()
    assert img.GetSize() == (5, 6, 7)
    assert np.allclose(img.TransformContinuousIndexToPhysicalPoint((4.0, 5.0, 6.0)), vol.index_to_physical([4, 5, 6]))
    assert img[4, 5, 6] == vol.array[4, 5, 6]
    back = Volume.from_sitk(img)
    assert back.same_geometry(vol) and np.array_equal(back.array, vol.array)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"array": np.zeros((4, 4))}, "3D"),
        ({"array": np.zeros((4, 4, 4, 2))}, "3D"),
        ({"array": np.zeros((4, 4, 4)), "spacing": (1, 0, 1)}, "positive"),
        ({"array": np.zeros((4, 4, 4)), "direction": np.ones((3, 3))}, "orthonormal"),
    ],
)
def test_invalid_volumes_raise_user_errors(kwargs, message):
    with pytest.raises(SkullVAEError, match=message):
        Volume(**kwargs)


def test_is_binary():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[1, 1, 1] = 1
    assert Volume(arr).is_binary
    arr[2, 2, 2] = 7
    assert not Volume(arr).is_binary


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.nii.gz"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.name.endswith(".nii.gz")
            tmp.write_bytes(b"partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_refuses_existing_without_overwrite(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    with pytest.raises(SkullVAEError, match="--overwrite"):
        atomic_write_text(target, "two", overwrite=False)
    atomic_write_text(target, "two", overwrite=True)
    assert target.read_text() == "two"
