"""Exact resume: a run killed after an epoch and resumed ends with the same weights."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from skullvae.model.checkpoint import load_weights
from skullvae.training.toy_data import make_toy_dataset

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ARGS = ["--grid", "16", "--voxel-mm", "14", "--channels", "4,8", "--latent-size", "4", "--epochs", "3",
        "--batch-size", "2", "--shift", "1", "--quiet", "--device", "cpu"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "skullvae_cli", *args], env=ENV, capture_output=True, text=True)


def _killed_after_first_epoch(manifest, run_dir, objective):
    """Run stage 1 in a fresh process that SIGKILLs itself right after epoch 1 was saved."""
    code = textwrap.dedent(f"""
        import os, signal
        from skullvae.training import LoopSettings, train_stage1
        from skullvae.training import loop
        original = loop.save_training_state
        def save_then_die(*a, **k):
            original(*a, **k)
            if k["epoch"] == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        loop.save_training_state = save_then_die
        train_stage1({str(manifest)!r}, {str(run_dir)!r}, objective={objective!r}, grid=16, voxel_mm=14,
                     channels=(4, 8), latent_size=4, shift=1,
                     settings=LoopSettings(epochs=3, batch_size=2, lr=2e-3, progress=False))
    """)
    proc = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("objective", ["beta", pytest.param("mog", marks=pytest.mark.slow)])
def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, objective):
    manifest = make_toy_dataset(tmp_path / "data", n=4, shape=32, spacing=6.0)
    ref = _cli("train", "--stage", "1", "--data", str(manifest), "--out", str(tmp_path / "ref"),
               "--objective", objective, "--lr", "2e-3", *ARGS)
    assert ref.returncode == 0, ref.stderr
    _killed_after_first_epoch(manifest, tmp_path / "cut", objective)
    weights = tmp_path / "cut" / "stage1" / "model.safetensors"
    assert weights.is_file()
    res = _cli("train", "--stage", "1", "--out", str(tmp_path / "cut"), "--resume", "--quiet", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    a, _ = load_weights(tmp_path / "ref" / "stage1" / "model.safetensors")
    b, _ = load_weights(weights)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows_ref = (tmp_path / "ref" / "stage1" / "metrics.csv").read_text().splitlines()
    rows_cut = (tmp_path / "cut" / "stage1" / "metrics.csv").read_text().splitlines()
    assert len(rows_ref) == len(rows_cut) == 4
    if objective == "beta":
        return
    # stage 2 after a resumed stage 1 gives the same decoder too
    for run in ("ref", "cut"):
        assert _cli("train", "--stage", "2", "--run", str(tmp_path / run), "--epochs", "2", "--batch-size", "2",
                    "--quiet", "--no-onnx", "--device", "cpu").returncode == 0
    a2, _ = load_weights(tmp_path / "ref" / "stage2" / "decoder.safetensors")
    b2, _ = load_weights(tmp_path / "cut" / "stage2" / "decoder.safetensors")
    assert all(torch.equal(a2[k], b2[k]) for k in a2)
