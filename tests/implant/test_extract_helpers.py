"""The morphology helpers of implant extraction equal their scipy definitions."""

import numpy as np
from scipy import ndimage

from skullvae.implant.extract import _FACE, _FULL, _fill_holes, _label, _within


def _shells(seed: int) -> np.ndarray:
    """Random blobs with cavities (some open to the border)."""
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random((40, 36, 30)), 2.0)
    return (a > np.quantile(a, 0.55)) & (a < np.quantile(a, 0.9))


def test_fill_holes_equals_binary_fill_holes():
    for seed in range(4):
        a = _shells(seed)
        for arr in (a, np.asfortranarray(a)):
            expected = ndimage.binary_fill_holes(arr, structure=_FACE)
            assert expected.sum() > arr.sum() or seed > 0  # the first case has holes to fill
            np.testing.assert_array_equal(_fill_holes(arr), expected)


def test_label_in_fortran_order_finds_the_same_components():
    a = np.asfortranarray(_shells(5))
    for structure in (_FACE, _FULL):
        got, n = _label(a, structure)
        expected, m = ndimage.label(np.ascontiguousarray(a), structure=structure)
        assert n == m > 1
        # Same partition: each label of one maps to exactly one label of the other.
        pairs = np.unique(np.stack([got[a], expected[a]]), axis=1)
        assert pairs.shape[1] == n


def test_within_equals_a_full_distance_transform():
    core = np.zeros((50, 40, 45), bool)
    core[10:14, 20:22, 30:33] = True
    core[30, 5, 8] = True
    for radius in (3.0, 7.5):
        expected = ndimage.distance_transform_edt(~core, sampling=1.5) <= radius
        np.testing.assert_array_equal(_within(core, radius, 1.5), expected)
