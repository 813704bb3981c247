"""synthesize_dataset: layout, manifest, invariants, determinism, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skullvae.data.manifest import load_manifest
from skullvae.errors import SkullVAEError
from skullvae.io.readers import read_volume
from skullvae.phantoms import synthesize_dataset


def test_small_dataset_is_byte_identical_and_valid(tmp_path):
    paths = []
    for name in ("a", "b"):
        paths.append(synthesize_dataset(tmp_path / name, 2, 3, shape=64, spacing=3.2,
                                        defect_types=("bilateral", "skullfix"), progress=False))
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 2 * 5 + 1
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    data = json.loads(paths[0].read_text())
    assert data["schema_version"] == 1 and data["defect_types"] == ["bilateral", "skullfix"]
    assert data["spacing_mm"] == [3.2, 3.2, 3.2] and data["shape"] == [64, 64, 64]
    manifest = load_manifest(paths[0])
    manifest.validate()
    assert [c.skull_id for c in manifest.cases] == ["skull_000", "skull_001"]
    c0 = read_volume(manifest.cases[0].complete).array
    c1 = read_volume(manifest.cases[1].complete).array
    assert not np.array_equal(c0, c1)


def test_refuses_non_empty_folder_and_bad_args(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(SkullVAEError, match="not empty"):
        synthesize_dataset(tmp_path / "x", 1, 0, shape=64, spacing=3.2, progress=False)
    with pytest.raises(SkullVAEError, match="unknown defect"):
        synthesize_dataset(tmp_path / "y", 1, 0, shape=64, spacing=3.2, defect_types=("hole",), progress=False)
    with pytest.raises(SkullVAEError, match="field of view"):
        synthesize_dataset(tmp_path / "z", 1, 0, shape=64, spacing=1.0, progress=False)
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()
