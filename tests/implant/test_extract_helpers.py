"""The morphology helpers of implant extraction equal their scipy definitions."""

import numpy as np
from scipy import ndimage

from skullvae.implant.extract import _FACE, _FULL, _within
from skullvae.implant.morphology import fill_holes as _fill_holes
from skullvae.implant.morphology import label as _label


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


def test_clean_up_within_the_bone_box_equals_the_whole_box():
    # extract_implant runs _clean on the bone's box plus 4 voxels, not the region's box
    from skullvae.implant.extract import _clean
    from skullvae.preprocessing.crop import nonzero_bbox

    for seed in range(6):
        rng = np.random.default_rng(seed)
        shape = (44, 40, 36)
        defective = ndimage.gaussian_filter(rng.random(shape), 2.0) > 0.53
        bone = np.zeros(shape, bool)
        inner = (slice(6, 36), slice(9, 30), slice(0, 30) if seed % 2 else slice(7, 30))  # may touch the border
        bone[inner] = (ndimage.gaussian_filter(rng.random(shape), 1.5) > 0.5)[inner]
        bone = np.asfortranarray(bone | (defective & (seed % 3 == 0)))
        expected = _clean(bone.copy(order="F"), np.asfortranarray(defective), 0.2)
        lo, hi = nonzero_bbox(bone, margin=4)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        cropped = _clean(np.asfortranarray(bone[box]), np.asfortranarray(defective[box]), 0.2)
        got = np.zeros(shape, bool)
        got[box] = cropped
        assert expected.any()
        np.testing.assert_array_equal(got, expected)
        # the implant's box (2 voxels margin) is not clipped by the crop
        sub_lo, sub_hi = nonzero_bbox(cropped, margin=2)
        want_lo, want_hi = nonzero_bbox(expected, margin=2)
        np.testing.assert_array_equal(lo + sub_lo, want_lo)
        np.testing.assert_array_equal(lo + sub_hi, want_hi)
