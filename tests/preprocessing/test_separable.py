"""The separable linear resampler reproduces SimpleITK's ``Resample`` (linear, default 0)."""

import numpy as np
import pytest
import SimpleITK as sitk

from skullvae import Volume
from skullvae.preprocessing.model_grid import GridFrame, from_grid
from skullvae.preprocessing.separable import axis_scales, resample_aligned


def _sitk_resample(grid_array: np.ndarray, frame: GridFrame, reference: Volume) -> np.ndarray:
    image = frame.as_volume(grid_array.astype(np.float32)).to_sitk()
    ref = reference.to_sitk()
    out = sitk.Resample(image, ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0))


@pytest.mark.parametrize("seed", range(6))
def test_matches_sitk_for_flipped_anisotropic_grids_including_the_edges(seed):
    rng = np.random.default_rng(seed)
    grid = np.asarray(rng.random((7, 9, 8)), np.float32)
    frame = GridFrame(rng.normal(size=3) * 5, 2.0 + 0.3 * seed, (7, 9, 8), np.diag(rng.choice([-1.0, 1.0], 3)))
    direction = np.diag(rng.choice([-1.0, 1.0], 3))
    # The reference grid (about the frame's centre, larger) overhangs the frame on every side:
    # the edge clamping and the zeros outside are exercised.
    shape, spacing = np.array([50, 48, 52]), rng.uniform(0.8, 1.2, 3)
    origin = frame.center_mm + rng.normal(size=3) - direction @ (spacing * (shape - 1) / 2.0)
    reference = Volume(np.zeros(tuple(shape), np.uint8), tuple(spacing), tuple(origin), direction)
    expected = _sitk_resample(grid, frame, reference)
    got = resample_aligned(grid, frame.as_volume(grid), reference)
    assert got.dtype == np.float32 and got.shape == reference.shape and got.flags.f_contiguous
    assert np.count_nonzero(expected) > 0 and np.count_nonzero(expected == 0) > 0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(got == 0, expected == 0)


def test_rotated_grids_are_left_to_the_general_resampler():
    c, s = np.cos(0.2), np.sin(0.2)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    frame = GridFrame(np.zeros(3), 2.0, (6, 6, 6), rotation)
    grid = np.random.default_rng(0).random((6, 6, 6)).astype(np.float32)
    reference = Volume(np.zeros((10, 11, 12), np.uint8), (1.0, 1.0, 1.0), (-5.0, -5.0, -5.0))
    assert axis_scales(frame.as_volume(grid), reference) is None
    assert resample_aligned(grid, frame.as_volume(grid), reference) is None
    np.testing.assert_allclose(from_grid(grid, frame, reference), _sitk_resample(grid, frame, reference), atol=1e-6)


@pytest.mark.parametrize("threshold", [0.5, 0.2, -0.1])
def test_thresholded_output_equals_thresholding_the_values(threshold):
    rng = np.random.default_rng(7)
    grid = np.asarray(rng.random((7, 9, 8)), np.float32)
    frame = GridFrame(np.zeros(3), 2.5, (7, 9, 8))
    reference = Volume(np.zeros((40, 38, 42), np.uint8), (0.9, 1.0, 1.1), (-20.0, -19.0, -23.0))
    values = resample_aligned(grid, frame.as_volume(grid), reference)
    mask = resample_aligned(grid, frame.as_volume(grid), reference, threshold=threshold)
    assert mask.dtype == bool and mask.flags.f_contiguous
    np.testing.assert_array_equal(mask, values > threshold)
