"""The patient-space ↔ model-grid transform."""

import numpy as np

from skullvae import Volume
from skullvae.preprocessing.model_grid import GridFrame, bone_bbox_mm, frame_for, from_grid, grid_coverage, to_grid


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


def _tall_column(direction=None):
    """A bone slab 200 mm tall: the vault crop must cut it 135 mm below its top."""
    arr = np.zeros((20, 20, 110), np.uint8)
    arr[5:15, 5:15, 5:105] = 1  # k = 5..104 → 100 voxels of 2 mm = 198 mm centre to centre
    return Volume(arr, (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), np.eye(3) if direction is None else direction)


def test_vault_crop_centres_on_the_top_and_drops_bone_below_the_floor():
    from skullvae.preprocessing.model_grid import VAULT_DEPTH_MM

    vol = _tall_column()
    top = 104 * 2.0
    frame = frame_for(vol, (16, 16, 48), 4.0)
    assert frame.floor_mm == top - VAULT_DEPTH_MM
    assert np.isclose(frame.center_mm[2], top - 134.0 / 2, atol=2.0)  # bone kept: k = 37..104
    grid = to_grid(vol, frame)
    s = frame.origin_mm[2] + np.arange(48) * 4.0
    assert grid[:, :, s < frame.floor_mm].max() == 0.0
    assert grid[:, :, s > frame.floor_mm + 4].max() == 1.0
    kept_mm3 = grid.sum() * 4.0**3
    assert abs(kept_mm3 - 20 * 20 * 135.0) / (20 * 20 * 135.0) < 0.06
    # no crop requested: the whole column is centred
    full = frame_for(vol, (16, 16, 64), 4.0, vault_depth_mm=None)
    assert full.floor_mm is None and np.isclose(full.center_mm[2], (5 + 104) / 2 * 2.0)


def test_vault_crop_follows_a_rotated_grid():
    vol = _tall_column()
    flip = np.diag([1.0, -1.0, -1.0])  # grid S axis points to the volume's -k
    frame = frame_for(vol, (16, 16, 48), 4.0, rotation=flip)
    # along -k the "top" is the lowest k (5): the floor sits 135 mm further towards high k
    assert np.isclose(-frame.floor_mm, 5 * 2.0 + 135.0)
    again = GridFrame.from_dict(frame.to_dict())
    assert again.floor_mm == frame.floor_mm


def test_grid_coverage_is_the_scanned_box_on_an_oblique_anisotropic_scan():
    a = np.deg2rad(25)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    vol, _ = _shell(direction=direction)
    frame = frame_for(vol, (64, 64, 64), 2.0)  # 128 mm: wider than the 80 × 84 × 90 mm scan
    seen = grid_coverage(frame, vol)
    idx = np.indices(frame.grid).reshape(3, -1).T
    inside = vol.physical_to_index(frame.as_volume(seen).index_to_physical(idx))
    expect = np.all((inside >= -0.5) & (inside <= np.asarray(vol.shape) - 0.5), axis=1).reshape(frame.grid)
    assert np.array_equal(seen, expect)
    # the box's volume: 80 × 84 × 90 mm of the grid's 128³ mm
    assert abs(seen.sum() * 2.0**3 - 80 * 84 * 90) / (80 * 84 * 90) < 0.05
    assert seen[32, 32, 32] and not seen[0, 0, 0]
