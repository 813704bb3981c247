"""Every objective trains a few epochs at a tiny grid without NaN; stage 2 and load_model work."""

import json
import math

import pytest
import torch

from skullvae.errors import SkullVAEError
from skullvae.model import load_model
from skullvae.training import LoopSettings, train_stage1, train_stage2
from skullvae.training.toy_data import make_toy_dataset


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n=4, shape=32, spacing=6.0)


@pytest.mark.parametrize("objective", ["beta", "sigma", "balanced", "mog"])
def test_objective_trains_without_nan(manifest, tmp_path, objective):
    params = {"warmup": 2} if objective == "mog" else {}
    summary = train_stage1(manifest, tmp_path / "run", objective=objective, objective_params=params, grid=16,
                           voxel_mm=14, channels=(4, 8), latent_size=4,
                           settings=LoopSettings(epochs=3, batch_size=2, progress=False))
    final = summary["final"]
    assert summary["epochs_done"] == 3
    assert all(math.isfinite(v) for v in final.values())
    assert 0.0 <= final["val_dice_complete"] <= 1.0
    csv = (tmp_path / "run" / "stage1" / "metrics.csv").read_text().splitlines()
    assert len(csv) == 4
    assert (tmp_path / "run" / "stage1" / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["objective"]["name"] == objective


def test_two_stages_and_load_model(manifest, tmp_path):
    run = tmp_path / "run"
    train_stage1(manifest, run, grid=16, voxel_mm=14, channels=(4, 8), latent_size=4,
                 settings=LoopSettings(epochs=2, batch_size=2, progress=False))
    with pytest.raises(SkullVAEError, match="already holds a run"):
        train_stage1(manifest, run, grid=16, voxel_mm=14, settings=LoopSettings(epochs=1, progress=False))
    s1 = load_model(run)
    assert not s1.has_stage2
    summary = train_stage2(run, settings=LoopSettings(epochs=2, batch_size=2, progress=False), export_onnx=False)
    assert summary["epochs_done"] == 2 and "val_dice_complete" in summary["final"]
    model = load_model(run)
    assert model.has_stage2 and model.config["grid"] == [16, 16, 16] and model.config["latent_size"] == 4
    assert set(model.dev_vectors) == {"left", "right", "top", "pooled"}
    assert model.posterior_mean.shape == (4,) and bool((model.posterior_var > 0).all())
    x = torch.zeros(2, 1, 16, 16, 16)
    mu, logvar = model.encode(x)
    assert mu.shape == (2, 4) and logvar.shape == (2, 4)
    assert model.decode(mu).shape == (2, 1, 16, 16, 16)
    # stage-2 decoder differs from the stage-1 decoder
    assert not torch.equal(model.decode(mu), load_model(run, stage=1).decode(mu))
    report = json.loads((run / "latent" / "report.json").read_text())
    assert report["stage"] == 2 and len(report["normaltest_pvalues"]) == 4
    with pytest.raises(SkullVAEError, match="model input must be"):
        model.encode(torch.zeros(1, 1, 8, 8, 8))
