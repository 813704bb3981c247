"""The patient-space ↔ model-grid transform."""

import numpy as np

from skullvae import Volume
from skullvae.preprocessing.model_grid import GridFrame, bone_bbox_mm, frame_for, from_grid, to_grid


def _shell(shape=(80, 70, 60), spacing=(1.0, 1.2, 1.5), origin=(-40.0, 10.0, 5.0), direction=None):
    vol = Volume(np.zeros(shape, np.uint8), spacing, origin, np.eye(3) if direction is None else direction)
    idx = np.indices(shape).reshape(3, -1).T
    pts = vol.index_to_physical(idx)
    center = vol.index_to_physical(np.array(shape) / 2.0)
    r = np.linalg.norm(pts - center, axis=1)
    vol.array[...] = ((r > 22) & (r < 30)).reshape(shape)
    return vol, center


def test_frame_centres_on_bone_bbox_in_physical_space():
    vol, center = _shell()
    frame = frame_for(vol, (32, 32, 32), 2.5)
    assert np.allclose(frame.center_mm, center, atol=1.6)
    lo, hi = bone_bbox_mm(vol)
    assert np.allclose(hi - lo, 60, atol=3.1)


def test_roundtrip_recovers_mask_on_oblique_anisotropic_grid():
    a = np.deg2rad(25)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    vol, _ = _shell(direction=direction)
    frame = frame_for(vol, (48, 48, 48), 1.5)
    grid = to_grid(vol, frame)
    assert grid.dtype == np.float32 and grid.shape == (48, 48, 48)
    assert 0.0 <= grid.min() and grid.max() <= 1.0
    # bone volume is preserved by the fraction-valued resampling
    vol_mm3 = vol.array.sum() * np.prod(vol.spacing)
    assert abs(grid.sum() * 1.5**3 - vol_mm3) / vol_mm3 < 0.05
    back = from_grid(grid, frame, vol) > 0.5
    dice = 2 * (back & (vol.array > 0)).sum() / (back.sum() + vol.array.sum())
    assert dice > 0.93


def test_frame_dict_roundtrip_and_rotation():
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float)
    frame = GridFrame(np.array([1.0, 2.0, 3.0]), 2.0, (4, 6, 8), rot)
    again = GridFrame.from_dict(frame.to_dict())
    assert np.allclose(again.origin_mm, frame.origin_mm) and again.grid == (4, 6, 8)
    # the grid centre maps to centre_mm
    vol = frame.as_volume(np.zeros(frame.grid, np.uint8))
    assert np.allclose(vol.index_to_physical((np.array(frame.grid) - 1) / 2), [1, 2, 3])
