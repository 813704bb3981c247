"""CLI: skullvae synth and skullvae defect."""

from __future__ import annotations

import numpy as np
import pytest

from skullvae.data.manifest import load_manifest
from skullvae.io.readers import read_volume
from skullvae.io.writers import write_volume
from skullvae.phantoms import synth_skull
from cli_runner import run_cli as _run


def test_synth_issue_example_invariants_voxel_for_voxel(tmp_path, capsys):
    """`skullvae synth OUT --n 2 --seed 0 --shape 128 --spacing 1.6`: 2 skulls × 6 types."""
    out = tmp_path / "s"
    code, _, err = _run(["synth", out, "--n", 2, "--seed", 0, "--shape", 128, "--spacing", 1.6], capsys)
    assert code == 0, err
    manifest = load_manifest(out / "manifest.json")
    manifest.validate()
    assert len(manifest.cases) == 2 and len(manifest.defect_types) == 6
    for case in manifest.cases:
        complete = read_volume(case.complete)
        assert complete.shape == (128, 128, 128) and np.allclose(complete.spacing, 1.6)
        skull = complete.array.astype(bool)
        for t in manifest.defect_types:
            assert case.defective[t].name == case.complete.name == case.implant[t].name
            d = read_volume(case.defective[t])
            i = read_volume(case.implant[t])
            assert d.same_geometry(complete) and i.same_geometry(complete)
            d, i = d.array.astype(bool), i.array.astype(bool)
            assert i.any()
            assert not np.any(d & i)
            assert np.array_equal(d | i, skull)


def test_synth_errors_exit_2_without_output(tmp_path, capsys):
    code, _, err = _run(["synth", tmp_path / "o", "--n", 1, "--seed", 0, "--shape", 32], capsys)
    assert code == 2 and err.startswith("skullvae: error: field of view") and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    code, _, err = _run(["synth", tmp_path / "o", "--n", 1, "--seed", 0, "--types", "bilateral,nope"], capsys)
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def small_skull():
    return synth_skull(2, 64, 3.2)


@pytest.mark.parametrize("ext", [".nii.gz", ".nrrd"])
def test_defect_keeps_format_and_geometry(tmp_path, capsys, small_skull, ext):
    src = write_volume(small_skull, tmp_path / f"skull{ext}")
    before = src.read_bytes()
    code, _, err = _run(["defect", src, "--type", "skullfix", "--seed", 4, "-o", tmp_path / "out"], capsys)
    assert code == 0, err
    d = read_volume(tmp_path / "out" / f"defective{ext}")
    i = read_volume(tmp_path / "out" / f"implant{ext}")
    assert d.same_geometry(small_skull) and i.same_geometry(small_skull)
    assert np.array_equal((d.array | i.array).astype(bool), small_skull.array.astype(bool))
    assert src.read_bytes() == before
    # Existing outputs need --overwrite.
    code, _, err = _run(["defect", src, "--type", "skullfix", "--seed", 4, "-o", tmp_path / "out"], capsys)
    assert code == 2 and "--overwrite" in err
    code, _, err = _run(["defect", src, "--type", "skullfix", "--seed", 4, "-o", tmp_path / "out", "--overwrite"], capsys)
    assert code == 0, err


def test_defect_all_types_into_subfolders(tmp_path, capsys, small_skull):
    src = write_volume(small_skull, tmp_path / "skull.nii.gz")
    code, _, err = _run(["defect", src, "--type", "all", "--seed", 1, "-o", tmp_path / "out"], capsys)
    assert code == 0, err
    from skullvae.defects import DEFECT_TYPES

    for t in DEFECT_TYPES:
        assert read_volume(tmp_path / "out" / t / "implant.nii.gz").array.any()


def test_defect_bad_inputs(tmp_path, capsys):
    code, _, err = _run(["defect", tmp_path / "missing.nii.gz", "--type", "bilateral", "--seed", 0, "-o", tmp_path / "o"], capsys)
    assert code == 2 and "no such file" in err
    empty = write_volume(synth_skull(2, 64, 3.2).with_array(np.zeros((64, 64, 64), np.uint8)), tmp_path / "e.nii.gz")
    code, _, err = _run(["defect", empty, "--type", "bilateral", "--seed", 0, "-o", tmp_path / "o"], capsys)
    assert code == 2 and "empty" in err
    code, _, err = _run(["defect", empty, "--type", "hole", "--seed", 0, "-o", tmp_path / "o"], capsys)
    assert code == 2 and "unknown defect type" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.real_data
def test_defect_on_real_skullbreak_sample(tmp_path, capsys, real_data):
    src = real_data / "skullbreak_parietotemporal_001.nii.gz"
    code, _, err = _run(["defect", src, "--type", "bilateral", "--seed", 0, "-o", tmp_path / "out"], capsys)
    assert code == 0, err
    skull = read_volume(src)
    d = read_volume(tmp_path / "out" / "defective.nii.gz")
    i = read_volume(tmp_path / "out" / "implant.nii.gz")
    assert d.same_geometry(skull) and i.same_geometry(skull)
    s, dm, im = skull.array.astype(bool), d.array.astype(bool), i.array.astype(bool)
    assert im.sum() * 0.4**3 > 5000  # a real plate: > 5 cm³
    assert not np.any(dm & im) and np.array_equal(dm | im, s)
    # Bilateral: across the top of the vault, both sides of the midline.
    ijk = np.argwhere(im)
    nz_x = np.nonzero(s.any(axis=(1, 2)))[0]
    mid = (nz_x.min() + nz_x.max()) / 2
    assert ijk[:, 0].min() < mid - 30 and ijk[:, 0].max() > mid + 30
    assert ijk[:, 2].mean() > np.nonzero(s.any(axis=(0, 1)))[0].max() - 80


def test_synth_realism_and_templates_options(tmp_path, capsys):
    import json

    src = tmp_path / "src"
    code, _, err = _run(["synth", src, "--n", 1, "--seed", 4, "--shape", 64, "--spacing", 3.2, "--types", "skullfix"], capsys)
    assert code == 0, err
    out = tmp_path / "mix"
    code, _, err = _run(["synth", out, "--n", 2, "--seed", 0, "--shape", 80, "--spacing", 3.2, "--types", "skullfix",
                         "--realism", "real", "--templates", src / "manifest.json", "--template-fraction", 0.5], capsys)
    assert code == 0, err
    data = json.loads((out / "manifest.json").read_text())
    assert "realism real" in data["description"]
    assert sorted(c["source"] for c in data["cases"]) == ["synthetic:real", "template:skull_000"]


@pytest.mark.parametrize("args, message", [
    (["--realism", "photo"], "realism must be one of smooth, real"),
    (["--template-ids", "a"], "--template-ids needs --templates"),
    (["--templates", "missing.json"], "missing.json"),
    (["--template-fraction", "1.5", "--templates", "x.json"], "--template-fraction must be between 0 and 1"),
])
def test_synth_template_and_realism_errors_exit_2(tmp_path, capsys, args, message):
    code, _, err = _run(["synth", tmp_path / "o", "--n", 1, "--seed", 0, "--shape", 80, "--spacing", 3.2, *args], capsys)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_synth_checks_its_arguments_before_loading_templates(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    code, _, err = _run(["synth", tmp_path / "full", "--n", 1, "--seed", 0, "--shape", 80, "--spacing", 3.2,
                         "--templates", tmp_path / "missing.json"], capsys)
    assert code == 2 and "not empty" in err  # not the missing template manifest
