"""The grid cache built from a manifest."""

import numpy as np
import pytest
import torch

from skullvae.data.dataset import GridDataset, build_cache, shift_volume
from skullvae.data.manifest import load_manifest
from skullvae.errors import SkullVAEError
from skullvae.preprocessing.model_grid import frame_for, to_grid
from skullvae.io.readers import read_volume
from skullvae.training.toy_data import make_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n=4, shape=32, spacing=6.0)


def test_cache_contents(toy, tmp_path):
    manifest = load_manifest(toy)
    cache = build_cache(manifest, "train", (16, 16, 16), 14.0, progress=False, cache_dir=tmp_path)
    cases = manifest.split("train")
    n_types = len(manifest.defect_types)
    assert len(cache) == len(cases) * (1 + n_types)
    assert cache.volumes.dtype == np.uint8 and set(np.unique(cache.volumes)) <= {0, 1}
    assert cache.kinds.count("complete") == len(cases)
    assert len(cache.pair_index) == len(cases) * n_types
    assert all(cache.kinds[i] != "complete" for i in cache.pair_index)
    # the pair's complete skull is resampled in the DEFECTIVE skull's frame
    p = 0
    i = cache.pair_index[p]
    case = manifest.case(cache.skull_ids[i])
    defective = read_volume(case.defective[cache.kinds[i]])
    frame = frame_for(defective, (16, 16, 16), 14.0)
    expected = to_grid(read_volume(case.complete), frame) >= 0.5
    np.testing.assert_array_equal(cache.pair_complete[p], expected)
    # the complete skull covers its defective version (same frame)
    assert np.all(cache.pair_complete[p] >= cache.volumes[i]) or (cache.volumes[i] > cache.pair_complete[p]).mean() < 0.01
    # second call reads the .npz cache
    files = list(tmp_path.glob("grid-train-*.npz"))
    assert len(files) == 1
    again = build_cache(manifest, "train", (16, 16, 16), 14.0, progress=False, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.volumes, cache.volumes)
    assert again.kinds == cache.kinds and again.pair_index == cache.pair_index


def test_empty_split_is_an_error(toy):
    with pytest.raises(SkullVAEError, match="split"):
        build_cache(load_manifest(toy), "nosuch", (16, 16, 16), 14.0, progress=False)


def test_shift_volume_no_wraparound():
    a = np.zeros((5, 5, 5), np.uint8)
    a[0, 2, 4] = 1
    b = shift_volume(a, (2, 0, -1))
    assert b[2, 2, 3] == 1 and b.sum() == 1
    c = shift_volume(a, (-1, 0, 0))  # shifted out of the grid: gone, not wrapped
    assert c.sum() == 0


def test_dataset_augmentation_is_deterministic_per_epoch():
    vols = (np.random.default_rng(0).random((3, 8, 8, 8)) > 0.5).astype(np.uint8)
    ds = GridDataset(vols, shift=2, seed=5)
    ds.set_epoch(1)
    x1, i1 = ds[2]
    x1b, _ = ds[2]
    ds.set_epoch(2)
    x2, _ = ds[2]
    assert i1 == 2 and x1.shape == (1, 8, 8, 8) and x1.dtype == torch.float32
    assert torch.equal(x1, x1b)
    assert not torch.equal(x1, x2) or not torch.equal(x1, torch.from_numpy(vols[2]).float()[None])
    plain = GridDataset(vols, shift=0)
    assert torch.equal(plain[1][0][0], torch.from_numpy(vols[1]).float())
