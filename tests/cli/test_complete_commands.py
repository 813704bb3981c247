"""``skullvae complete`` and ``skullvae export-stl`` end to end (small synthetic skulls)."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
from skull_shapes import FakeModel, dice, shell_skull  # noqa: E402

from skullvae.io import Volume, read_volume, write_volume
from skullvae_cli.app import main

OBLIQUE = np.array([[np.cos(0.3), 0.0, np.sin(0.3)], [0.0, 1.0, 0.0], [-np.sin(0.3), 0.0, np.cos(0.3)]])


def run(args):
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.fixture(scope="module")
def skull(tmp_path_factory):
    folder = tmp_path_factory.mktemp("skull")
    defective, complete, truth = shell_skull(direction=OBLIQUE, shape=(90, 100, 90))
    write_volume(defective, folder / "case.nrrd")
    return folder / "case.nrrd", defective, truth


def test_mirror_completion_writes_every_output_in_the_input_geometry(skull, tmp_path):
    path, defective, truth = skull
    out = tmp_path / "out"
    assert run(["complete", path, "--mode", "mirror", "-o", out]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["completed.nrrd", "implant.nrrd", "implant.stl", "preview.png", "report.json"]
    implant = read_volume(out / "implant.nrrd")
    completed = read_volume(out / "completed.nrrd")
    for vol in (implant, completed):
        assert vol.same_geometry(defective)
    assert not (implant.array & defective.array).any()
    assert dice(implant.array, truth.array) > 0.8
    assert np.array_equal(completed.array, defective.array | implant.array)
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "mirror" and report["mesh"]["watertight"]
    assert report["implant"]["volume_cm3"] == pytest.approx(implant.array.sum() * np.prod(defective.spacing) / 1000, rel=1e-3)
    assert set(report["timings_s"]) >= {"read", "preprocess", "prior", "implant", "mesh", "write", "total"}
    mesh = trimesh.load(out / "implant.stl")
    assert mesh.is_watertight
    assert abs(mesh.volume / 1000 - report["implant"]["volume_cm3"]) < 0.1 * report["implant"]["volume_cm3"]


def test_existing_output_needs_overwrite(skull, tmp_path, capsys):
    path, _, _ = skull
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert run(["complete", path, "--mode", "mirror", "-o", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err
    assert (out / "keep.txt").exists()
    assert run(["complete", path, "--mode", "mirror", "-o", out, "--overwrite"]) == 0
    assert not (out / "keep.txt").exists() and (out / "implant.nrrd").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def _bad_inputs(folder: Path) -> dict:
    vol = Volume(np.zeros((30, 30, 30), np.uint8))
    write_volume(vol, folder / "empty.nii.gz")
    write_volume(vol.with_array(np.ones((30, 30, 30), np.uint8)), folder / "full.nii.gz")
    import SimpleITK as sitk

    sitk.WriteImage(sitk.GetImageFromArray(np.ones((20, 20), np.uint8)), str(folder / "flat.nii.gz"))
    (folder / "model.pt").write_bytes(b"\x80\x04not a real pickle")
    return {
        "empty.nii.gz": "no bone",
        "full.nii.gz": "100% bone",
        "flat.nii.gz": "2D|3D",
        "missing.nii.gz": "no such file",
    }


def test_bad_inputs_fail_with_one_line_and_no_output(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    for name, pattern in cases.items():
        out = tmp_path / f"out_{name}"
        assert run(["complete", tmp_path / name, "--mode", "mirror", "-o", out]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("skullvae: error:") and err.count("\n") == 1, err
        assert any(p in err for p in pattern.split("|")), err
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_wrong_model_files_are_refused(skull, tmp_path, capsys):
    path, _, _ = skull
    (tmp_path / "model.pt").write_bytes(b"\x80\x04junk")
    (tmp_path / "weights.safetensors").write_bytes(b"junk")
    (tmp_path / "not_a_run").mkdir()
    # A real model folder whose config names another grid than its weights were made for.
    from skullvae.model.load import BUNDLED_DIR

    shutil.copytree(BUNDLED_DIR / "synthetic-64", tmp_path / "wrong_grid")
    config = json.loads((tmp_path / "wrong_grid" / "config.json").read_text())
    config["model"]["grid"] = config["grid"] = [32, 32, 32]
    (tmp_path / "wrong_grid" / "config.json").write_text(json.dumps(config))
    for model in ("model.pt", "weights.safetensors", "not_a_run", "wrong_grid", "no-such-bundled-model"):
        out = tmp_path / f"out_{model}"
        code = run(["complete", path, "--mode", "dev", "--model", tmp_path / model if model != "no-such-bundled-model" else model, "-o", out])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("skullvae: error:") and err.count("\n") == 1, (model, err)
        assert not out.exists()


def test_dev_mode_with_samples_writes_a_probability_map(skull, tmp_path):
    from skullvae.completion.pipeline import CompletionOptions, complete_case

    path, defective, truth = skull
    from skullvae.preprocessing.pipeline import load_mask

    model = FakeModel(load_mask(read_volume(path)).cropped_mask(), shell_skull(direction=OBLIQUE, shape=(90, 100, 90))[1])
    report = complete_case(path, tmp_path / "dev", CompletionOptions(mode="dev", model=model, samples=4))
    assert report["model_id"] == "fake-analytic" and report["completion"]["samples"] == 4
    prob = read_volume(tmp_path / "dev" / "implant_probability.nrrd")
    assert prob.same_geometry(defective) and prob.array.dtype == np.float32
    assert prob.array[truth.array > 0].mean() > 0.5 and prob.array[defective.array > 0].max() == 0
    implant = read_volume(tmp_path / "dev" / "implant.nrrd")
    assert dice(implant.array, truth.array) > 0.7


def test_batch_continues_after_a_failure_and_exits_1(skull, tmp_path, capsys):
    path, _, _ = skull
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.nrrd").write_bytes(path.read_bytes())
    write_volume(Volume(np.zeros((20, 20, 20), np.uint8)), inp / "b_empty.nii.gz")
    out = tmp_path / "batch"
    assert run(["complete", "--input-dir", inp, "--output-dir", out, "--mode", "mirror"]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 cases failed" in captured.err
    assert (out / "a" / "implant.nrrd").exists() and (out / "implants" / "a.nrrd").exists()
    assert not (out / "b_empty").exists()


def test_export_stl_of_any_mask(skull, tmp_path, capsys):
    path, defective, _ = skull
    stl = tmp_path / "skull.stl"
    assert run(["export-stl", path, stl, "--smooth", "5"]) == 0
    mesh = trimesh.load(stl)
    assert mesh.is_watertight
    bone = defective.index_to_physical(np.argwhere(defective.array))
    assert np.allclose(mesh.bounds, [bone.min(0), bone.max(0)], atol=2.5)
    assert run(["export-stl", path, stl]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run(["export-stl", path, stl, "--overwrite", "--decimate", "0.3"]) == 0
    assert len(trimesh.load(stl).faces) < 0.5 * len(mesh.faces)


def test_an_intact_skull_ends_in_no_defect_found(tmp_path, capsys):
    _, complete, _ = shell_skull(direction=OBLIQUE, shape=(90, 100, 90))
    write_volume(complete, tmp_path / "intact.nrrd")
    out = tmp_path / "out"
    assert run(["complete", tmp_path / "intact.nrrd", "--mode", "mirror", "-o", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no defect found" in err
    assert not out.exists()
