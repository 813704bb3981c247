"""Issue 10: ``train --resume`` refuses a changed architecture or grid, extends a longer schedule and says so."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_runner import run_cli  # noqa: E402

from skullvae.errors import SkullVAEError
from skullvae.training import LoopSettings, train_stage1
from skullvae.training.resume import check_resume_options, resolve_resume_epochs
from skullvae.training.toy_data import make_toy_dataset

COMMON = ["--quiet", "--device", "cpu"]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    manifest = make_toy_dataset(tmp_path / "data", n=4, shape=32, spacing=6.0)
    run = tmp_path / "run"
    train_stage1(manifest, run, grid=16, voxel_mm=14, channels=(4, 8), latent_size=4, shift=1,
                 settings=LoopSettings(epochs=2, batch_size=2, progress=False))
    return run


def test_resume_refuses_changed_architecture_and_grid_extends_epochs(run_dir, capsys):
    for argv, words in ((["--grid", "32"], ["--grid 32", "16,16,16", "architecture and grid are fixed"]),
                        (["--channels", "4,8,16"], ["--channels 4,8,16", "4,8"]),
                        (["--latent-size", "8"], ["--latent-size 8"]),
                        (["--lr", "0.1"], ["--lr 0.1", "keeps its settings"]),
                        (["--epochs", "1"], ["--epochs 1", "can only be extended"])):
        code, _, err = run_cli(["train", "--stage", "1", "--out", run_dir, "--resume", *COMMON, *argv], capsys)
        assert code == 2 and err.startswith("skullvae: error: cannot resume") and err.count("\n") == 1, err
        for word in words:
            assert word in err, (word, err)
    code, _, err = run_cli(["train", "--stage", "1", "--out", run_dir, "--resume", "--grid", "16", *COMMON], capsys)
    assert code == 0 and "already finished (2 of 2 epochs)" in err and "--epochs N > 2" in err  # same value: fine
    code, _, err = run_cli(["train", "--stage", "1", "--out", run_dir, "--resume", "--epochs", "3", *COMMON], capsys)
    assert code == 0, err
    assert "extending stage 1 from 2 to 3 epochs" in err and "stage 1: epochs 3–3 of 3" in err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["stage1"]["epochs"] == 3
    rows = (run_dir / "stage1" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 3


def test_stage2_refuses_stage1_options(run_dir, capsys):
    code, _, err = run_cli(["train", "--stage", "2", "--run", run_dir, "--grid", "32", "--no-onnx", *COMMON], capsys)
    assert code == 2 and err.count("\n") == 1 and "drop --grid" in err


def test_resume_rules_in_the_library():
    config = {"model": {"grid": [16, 16, 16], "channels": [4, 8]}, "stage1": {"lr": 0.002}, "data": {"shift": 1}}
    check_resume_options(config, 1, {"grid": (16,), "channels": (4, 8), "lr": 0.002, "shift": 1, "epochs": 99})
    with pytest.raises(SkullVAEError, match="--shift 2"):
        check_resume_options(config, 1, {"shift": 2})
    assert resolve_resume_epochs(5, None, 3, 1) == 5
    assert resolve_resume_epochs(5, 9, 3, 1) == 9
    with pytest.raises(SkullVAEError):
        resolve_resume_epochs(5, 4, 3, 1)
