"""Mask clean-up: islands and table-like plates go, the skull stays, input untouched."""

import numpy as np

from skullvae.preprocessing.cleanup import clean_mask


def _scene():
    mask = np.zeros((120, 120, 100), bool)
    mask[20:80, 20:80, 20:80] = True
    mask[30:70, 30:70, 30:70] = False  # a hollow box "skull"
    mask[100:103, 100:103, 90:93] = True  # a speck of noise
    mask[5:115, 108:111, 5:95] = True  # a thin wide plate (CT table): 165 x 4.5 x 135 mm
    return mask


def test_small_islands_and_table_are_removed():
    mask = _scene()
    before = mask.copy()
    cleaned, info = clean_mask(mask, (1.5, 1.5, 1.5))
    assert np.array_equal(mask, before)  # input not modified
    assert cleaned[20:80, 20:80, 20:80].sum() == before[20:80, 20:80, 20:80].sum()
    assert not cleaned[100:103, 100:103, 90:93].any()
    assert not cleaned[:, 108:111, :].any()
    assert info["removed"] == 2 and info["removed_table_like"] == 1


def test_clean_mask_returns_the_same_array_when_nothing_to_remove():
    mask = np.zeros((40, 40, 40), bool)
    mask[10:30, 10:30, 10:30] = True
    cleaned, info = clean_mask(mask, (0.5, 0.5, 0.5))
    assert cleaned is mask and info["removed"] == 0
