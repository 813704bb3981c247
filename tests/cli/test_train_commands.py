"""CLI: train / sample / interpolate, including user errors (exit 2, one line)."""

import subprocess
import sys

import pytest
import torch

from skullvae.training import LoopSettings, train_stage1, train_stage2
from skullvae.training.toy_data import make_toy_dataset
from skullvae_cli.app import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    manifest = make_toy_dataset(root / "data", n=4, shape=32, spacing=6.0)
    run = root / "run"
    train_stage1(manifest, run, grid=16, voxel_mm=14, channels=(4, 8), latent_size=4,
                 settings=LoopSettings(epochs=1, batch_size=2, progress=False))
    train_stage2(run, settings=LoopSettings(epochs=1, batch_size=2, progress=False), export_onnx=False)
    return manifest, run


def test_help_has_examples():
    proc = subprocess.run([sys.executable, "-m", "skullvae_cli", "train", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--stage 2 --run" in proc.stdout and "torchrun" in proc.stdout


def test_stage1_needs_data(tmp_path, capsys):
    code, out = _run(["train", "--stage", "1", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and out.err.strip() == "skullvae: error: --stage 1 needs --data MANIFEST"


def test_missing_manifest(tmp_path, capsys):
    code, out = _run(["train", "--stage", "1", "--data", str(tmp_path / "nope.json"), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "manifest not found" in out.err and not (tmp_path / "r").exists()


def test_stage2_without_stage1(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out = _run(["train", "--stage", "2", "--run", str(tmp_path / "empty")], capsys)
    assert code == 2 and "config.json" in out.err and "Traceback" not in out.err


def test_pt_file_refused(tmp_path, capsys):
    pt = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(1)}, pt)
    code, out = _run(["sample", "--run", str(pt), "--n", "2", "-o", str(tmp_path / "s")], capsys)
    assert code == 2 and "pickle" in out.err and not (tmp_path / "s").exists()
    code, out = _run(["train", "--stage", "2", "--run", str(pt)], capsys)
    assert code == 2


def test_sample_and_interpolate(toy_run, tmp_path, capsys):
    manifest, run = toy_run
    code, out = _run(["sample", "--run", str(run), "--n", "3", "-o", str(tmp_path / "s")], capsys)
    assert code in (0, None)
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert files == ["montage.png", "sample_000.nii.gz", "sample_001.nii.gz", "sample_002.nii.gz"]
    code, out = _run(["sample", "--run", str(run), "--n", "3", "-o", str(tmp_path / "s")], capsys)
    assert code == 2 and "--overwrite" in out.err
    a = manifest.parent / "complete" / "toy_000.nii.gz"
    b = manifest.parent / "complete" / "toy_001.nii.gz"
    code, out = _run(["interpolate", "--run", str(run), str(a), str(b), "--steps", "4", "-o", str(tmp_path / "i")], capsys)
    assert code in (0, None)
    from skullvae.io.readers import read_volume

    step0 = read_volume(tmp_path / "i" / "step_000.nii.gz")
    assert step0.shape == (16, 16, 16) and step0.spacing == (14.0, 14.0, 14.0)
    assert (tmp_path / "i" / "montage.png").is_file() and (tmp_path / "i" / "step_003.nii.gz").is_file()


def test_stage2_twice_needs_resume(toy_run, capsys):
    _, run = toy_run
    code, out = _run(["train", "--stage", "2", "--run", str(run), "--epochs", "1"], capsys)
    assert code == 2 and "--resume" in out.err
