"""load_model: run folders, bundled names, and clear errors for wrong inputs."""

import json
import shutil

import pytest
import torch

from skullvae.errors import SkullVAEError
from skullvae.model import bundled_names, load_model
from skullvae.model.export import export_run
from skullvae.training import LoopSettings, train_stage1, train_stage2
from skullvae.training.toy_data import make_toy_dataset


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    manifest = make_toy_dataset(root / "data", n=4, shape=32, spacing=6.0)
    train_stage1(manifest, root / "run", grid=16, voxel_mm=14, channels=(4, 8), latent_size=4,
                 settings=LoopSettings(epochs=1, batch_size=2, progress=False))
    train_stage2(root / "run", settings=LoopSettings(epochs=1, batch_size=2, progress=False), export_onnx=False)
    return root / "run"


def test_export_and_reload(run, tmp_path):
    out = export_run(run, tmp_path / "bundle")
    assert not (out / "stage1" / "train_state.safetensors").exists() and not (out / "cache").exists()
    a, b = load_model(run), load_model(out)
    z = torch.randn(2, 4)
    assert torch.equal(a.decode(z), b.decode(z))
    assert set(a.dev_vectors) == set(b.dev_vectors)
    assert load_model(out / "config.json").model_id == a.model_id


def test_wrong_grid_in_config_is_refused(run, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(run, bad, ignore=shutil.ignore_patterns("cache"))
    config = json.loads((bad / "config.json").read_text())
    config["model"]["grid"] = [32, 32, 32]
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(SkullVAEError, match="does not match the model config"):
        load_model(bad)


def test_errors(run, tmp_path):
    with pytest.raises(SkullVAEError, match="no run folder or bundled model"):
        load_model("no-such-model")
    torch.save({"w": torch.zeros(1)}, tmp_path / "w.pth")
    with pytest.raises(SkullVAEError, match="pickle"):
        load_model(tmp_path / "w.pth")
    (tmp_path / "notarun").mkdir()
    with pytest.raises(SkullVAEError, match="config.json"):
        load_model(tmp_path / "notarun")
    with pytest.raises(SkullVAEError, match="weights file"):
        load_model(run / "stage1" / "model.safetensors")


def test_bundled_model_loads_and_reconstructs():
    if "synthetic-64" not in bundled_names():
        pytest.fail("the bundled model skullvae/bundled/synthetic-64 is missing")
    model = load_model("synthetic-64")
    cfg = model.config
    assert model.has_stage2 and len(cfg["grid"]) == 3 and cfg["latent_size"] == 32 and cfg["voxel_mm"] > 0
    assert {"bilateral", "frontoorbital", "parietotemporal", "random_1", "random_2", "skullfix", "pooled"} <= set(model.dev_vectors)
    assert model.posterior_var.shape == (32,)
    logits = model.decode(model.posterior_mean[None])
    assert list(logits.shape[2:]) == cfg["grid"]
    # the decoded mean skull is a plausible shell: a few percent of the grid is bone
    frac = float((logits > 0).float().mean())
    assert 0.01 < frac < 0.2
