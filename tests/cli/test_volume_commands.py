"""``skullvae info``, ``metrics`` and ``preview`` through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skullvae.io import Volume, read_volume, write_volume
from skullvae.metrics import evaluate_implant
from cli_runner import run_cli as _run


def _ball(shape, centre, radius):
    g = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij", sparse=True)
    return (sum((gi - c) ** 2 for gi, c in zip(g, centre)) <= radius**2).astype(np.uint8)


@pytest.fixture
def case(tmp_path):
    """A defective 'skull' (slab with a hole), ground-truth implant, and a shifted prediction."""
    shape, spacing = (40, 40, 24), (0.6, 0.6, 1.5)
    skull = np.zeros(shape, np.uint8)
    skull[:, :, 8:12] = 1
    gt = skull * _ball(shape, (20, 20, 10), 8)
    defective = skull - gt
    pred = np.roll(gt, 2, axis=0)
    vol = Volume(skull, spacing, (1.0, 2.0, 3.0))
    paths = {}
    for name, arr in (("defective", defective), ("gt", gt), ("pred", pred)):
        paths[name] = write_volume(vol.with_array(arr), tmp_path / f"{name}.nii.gz")
    return paths, vol


def test_info_json_mask(case, capsys):
    paths, vol = case
    code, out, err = _run(["info", paths["gt"], "--json"], capsys)
    assert code == 0 and err == ""
    info = json.loads(out)
    assert info["shape"] == [40, 40, 24] and info["binary"] is True and info["kind"] == "binary mask"
    assert info["spacing_mm"] == pytest.approx([0.6, 0.6, 1.5]) and info["origin_mm"] == pytest.approx([1, 2, 3])
    gt = read_volume(paths["gt"])
    assert info["bone_fraction"] == pytest.approx(gt.array.mean())
    assert info["bone_volume_ml"] == pytest.approx(gt.array.sum() * 0.6 * 0.6 * 1.5 / 1000)


def test_info_ct_threshold_and_table(tmp_path, capsys):
    arr = np.full((10, 10, 10), -1000, np.int16)
    arr[:5] = 250
    arr[:2] = 1500
    path = write_volume(Volume(arr, (0.5, 0.5, 0.5)), tmp_path / "ct.nrrd")
    code, out, _ = _run(["info", path, "--json"], capsys)
    info = json.loads(out)
    assert info["kind"] == "CT (HU)" and info["bone_fraction"] == pytest.approx(0.2)
    code, out, _ = _run(["info", path, "--json", "--hu-threshold", "200"], capsys)
    assert json.loads(out)["bone_fraction"] == pytest.approx(0.5)
    code, out, err = _run(["info", path], capsys)
    assert code == 0 and "bone fraction" in out and "0.2000" in out and "CT (HU)" in out


def test_metrics_json_matches_library(case, capsys):
    paths, vol = case
    code, out, err = _run(["metrics", paths["pred"], paths["gt"], "--defective", paths["defective"], "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    expected = evaluate_implant(*(read_volume(paths[k]) for k in ("pred", "gt", "defective")))
    assert set(got) == {"dsc", "bdsc", "hd95"}
    for key in expected:
        assert got[key] == pytest.approx(expected[key])
    assert 0.5 < got["dsc"] < 1.0 and got["hd95"] > 0
    code, out, _ = _run(["metrics", paths["pred"], paths["gt"], "--defective", paths["defective"]], capsys)
    assert code == 0 and "HD95" in out and "bDSC" in out


def test_metrics_empty_prediction_is_scored(case, tmp_path, capsys):
    paths, vol = case
    empty = write_volume(vol.with_array(np.zeros(vol.shape, np.uint8)), tmp_path / "empty.nii.gz")
    code, out, err = _run(["metrics", empty, paths["gt"], "--defective", paths["defective"], "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and got["dsc"] == 0.0 and got["hd95"] is None and "empty" in got["notes"][0]


@pytest.mark.parametrize("problem", ["geometry", "not_binary", "empty_gt", "empty_defective"])
def test_metrics_refuses(case, tmp_path, capsys, problem):
    paths, vol = case
    args = {"pred": paths["pred"], "gt": paths["gt"], "defective": paths["defective"]}
    if problem == "geometry":
        args["gt"] = write_volume(Volume(np.ones((40, 40, 24), np.uint8), (0.6, 0.6, 1.0)), tmp_path / "g.nii.gz")
    elif problem == "not_binary":
        args["pred"] = write_volume(vol.with_array(np.full(vol.shape, 7, np.int16)), tmp_path / "p.nii.gz")
    elif problem == "empty_gt":
        args["gt"] = write_volume(vol.with_array(np.zeros(vol.shape, np.uint8)), tmp_path / "e.nii.gz")
    else:
        args["defective"] = write_volume(vol.with_array(np.zeros(vol.shape, np.uint8)), tmp_path / "e.nii.gz")
    code, out, err = _run(["metrics", args["pred"], args["gt"], "--defective", args["defective"]], capsys)
    assert code == 2 and out == ""
    assert err.startswith("skullvae: error:") and err.count("\n") == 1
    expected = {"geometry": "differ in geometry", "not_binary": "not a binary mask", "empty_gt": "empty",
                "empty_defective": "empty"}[problem]
    assert expected in err


def test_preview_writes_png_and_respects_overwrite(case, tmp_path, capsys):
    paths, _ = case
    out_png = tmp_path / "prev.png"
    argv = ["preview", paths["defective"], "--overlay", paths["gt"], "--overlay", paths["pred"],
            "--label", "truth", "-o", out_png]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert out_png.read_bytes()[:4] == b"\x89PNG"
    before = out_png.stat().st_mtime_ns
    code, out, err = _run(argv, capsys)
    assert code == 2 and "--overwrite" in err and out_png.stat().st_mtime_ns == before
    code, out, err = _run(argv + ["--overwrite"], capsys)
    assert code == 0
    code, out, err = _run(["preview", paths["gt"], "--label", "a", "-o", tmp_path / "x.png"], capsys)
    assert code == 2 and "--label" in err and not (tmp_path / "x.png").exists()


def test_console_script_runs(case):
    paths, _ = case
    exe = Path(sys.executable).with_name("skullvae")
    if not exe.exists():
        pytest.skip("console script not installed")
    proc = subprocess.run([str(exe), "info", str(paths["gt"]), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["binary"] is True


@pytest.mark.real_data
def test_info_on_real_dicom_and_skull(real_data, capsys):
    code, out, err = _run(["info", real_data / "ge_head_ct_dicom", "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["kind"] == "CT (HU)" and info["spacing_mm"][2] < 1.1
    code, out, err = _run(["info", real_data / "ge_head_ct_dicom", "--refuse-irregular"], capsys)
    assert code == 2 and "gantry tilt 18.5°" in err
    code, out, err = _run(["info", real_data / "skullbreak_parietotemporal_001.nii.gz", "--json"], capsys)
    info = json.loads(out)
    assert info["shape"] == [512, 512, 512] and info["binary"] and 0.03 < info["bone_fraction"] < 0.08
