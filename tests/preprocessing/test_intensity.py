"""Bone-mask detection: binary masks as is, CT in HU thresholded, clear refusals."""

import numpy as np
import pytest

from skullvae import Volume
from skullvae.errors import SkullVAEError
from skullvae.preprocessing.intensity import bone_mask, input_kind


def _cube_mask(value=1, dtype=np.uint8):
    arr = np.zeros((30, 30, 30), dtype)
    arr[5:25, 5:25, 10:14] = value
    return Volume(arr, (1.0, 1.0, 2.0))


@pytest.mark.parametrize("value,dtype", [(1, np.uint8), (255, np.uint8), (1, bool), (7, np.int16)])
def test_two_valued_volumes_are_masks_used_as_is(value, dtype):
    vol = _cube_mask(value, dtype)
    mask, kind = bone_mask(vol)
    assert kind == "mask"
    assert mask.dtype == bool
    assert mask.sum() == 20 * 20 * 4
    assert np.array_equal(mask, vol.array != 0)


def test_ct_in_hu_is_thresholded():
    rng = np.random.default_rng(0)
    hu = rng.normal(-1000, 20, (30, 30, 30)).astype(np.int16)  # air
    hu[5:25, 5:25, 5:25] = 40  # soft tissue
    hu[5:25, 5:25, 10:13] = 900  # bone plate
    hu[5:25, 5:25, 20] = 250  # dense tissue below the threshold
    vol = Volume(hu)
    assert input_kind(vol) == "ct"
    mask, kind = bone_mask(vol, hu_threshold=300)
    assert kind == "ct"
    assert mask.sum() == 20 * 20 * 3
    mask_low, _ = bone_mask(vol, hu_threshold=200)
    assert mask_low.sum() == 20 * 20 * 4


def test_no_bone_is_refused_with_a_hint():
    vol = Volume(np.full((20, 20, 20), -1000, np.int16) + np.arange(20, dtype=np.int16)[:, None, None])
    with pytest.raises(SkullVAEError, match="no bone.*--hu-threshold"):
        bone_mask(vol)
    with pytest.raises(SkullVAEError, match="no bone"):
        bone_mask(Volume(np.zeros((20, 20, 20), np.uint8)))


def test_all_bone_is_refused():
    with pytest.raises(SkullVAEError, match="100% bone"):
        bone_mask(Volume(np.ones((20, 20, 20), np.uint8)))
