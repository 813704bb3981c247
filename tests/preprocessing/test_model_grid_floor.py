"""The vault floor's bone box: slab-wise computation == the whole-box float32 formula."""

import numpy as np
import pytest

from skullvae import Volume
from skullvae.preprocessing.model_grid import _above_floor_bbox, bone_bbox_mm, frame_for
from skullvae.preprocessing.crop import nonzero_bbox

OBLIQUE = np.array([[0.0, -1.0, 0.0], [np.cos(0.4), 0.0, -np.sin(0.4)], [np.sin(0.4), 0.0, np.cos(0.4)]])


def _reference(mask, lo, hi, rotation, floor_mm):
    """The former whole-box computation (a float32 S array over the bone box)."""
    axis_s = np.asarray(rotation)[:, 2]
    step = (mask.direction * np.asarray(mask.spacing)[None, :]).T @ axis_s
    s0 = float(np.asarray(mask.origin) @ axis_s)
    ranges = [np.arange(a, b + 1, dtype=np.float32) * np.float32(st) for a, b, st in zip(lo, hi, step)]
    s = s0 + ranges[0][:, None, None] + ranges[1][None, :, None] + ranges[2][None, None, :]
    above = (mask.array[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1] != 0) & (s >= floor_mm)
    box = nonzero_bbox(above)
    return box[0], box[1] - 1


def _shell(direction, spacing=(0.9, 0.8, 1.1), shape=(90, 84, 100), seed=0):
    rng = np.random.default_rng(seed)
    idx = np.indices(shape).reshape(3, -1).T
    d = (idx - np.array(shape) / 2.0) / (np.array(shape) / 2.4)
    r = np.linalg.norm(d, axis=1)
    arr = ((r > 0.8) & (r < 0.95)).reshape(shape) | (rng.random(shape) < 0.002)
    return Volume(arr, spacing, (-40.0, 25.0, -60.0), direction)


@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE, np.diag([1.0, -1.0, -1.0]), OBLIQUE[:, [2, 0, 1]]])
@pytest.mark.parametrize("rotation", [np.eye(3), OBLIQUE.T])
def test_floor_box_equals_whole_box_formula(direction, rotation):
    mask = _shell(direction)
    lo, hi = nonzero_bbox(mask.array)
    hi = hi - 1
    s = mask.index_to_physical(np.argwhere(mask.array)) @ rotation[:, 2]
    for floor in np.quantile(s, [0.0, 0.05, 0.3, 0.5, 0.9, 0.999]):
        for value in (float(floor), float(np.float32(floor)), float(floor) + 1e-6):
            got = _above_floor_bbox(mask, lo, hi, rotation, value)
            want = _reference(mask, lo, hi, rotation, value)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_floor_above_all_bone_is_an_error_and_frames_still_place():
    from skullvae.errors import SkullVAEError

    mask = _shell(OBLIQUE)
    lo, hi = nonzero_bbox(mask.array)
    with pytest.raises(SkullVAEError, match="empty"):
        _above_floor_bbox(mask, lo, hi - 1, np.eye(3), 1e6)
    mask = _shell(np.eye(3))
    frame = frame_for(mask, (32, 32, 32), 3.0, vault_depth_mm=40.0)
    assert frame.floor_mm is not None
    low, high = bone_bbox_mm(mask, np.eye(3), frame.floor_mm)
    assert 40.0 - 1.2 <= high[2] - low[2] <= 40.0
