"""ONNX export and the ONNX Runtime engine: same numbers as torch, stale exports caught, no torch import."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from skullvae.completion.engine import choose_engine, load_completion_model
from skullvae.errors import SkullVAEError
from skullvae.model import load_model
from skullvae.model.checkpoint import load_weights, save_weights
from skullvae.model.export import export_run
from skullvae.model.inventory import model_problems, read_checksums
from skullvae.model.locate import BUNDLED_DIR, bundled_names
from skullvae.model.onnx_model import OnnxModel, onnx_problem
from skullvae.training import LoopSettings, train_stage1, train_stage2
from skullvae.training.toy_data import make_toy_dataset
from skullvae_cli.app import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    manifest = make_toy_dataset(root / "data", n=4, shape=32, spacing=6.0)
    train_stage1(manifest, root / "run", grid=16, voxel_mm=14, channels=(4, 8), latent_size=4,
                 settings=LoopSettings(epochs=1, batch_size=2, progress=False))
    summary = train_stage2(root / "run", settings=LoopSettings(epochs=1, batch_size=2, progress=False))
    assert summary["onnx"] == str(root / "run" / "onnx")  # stage 2 exports by default
    return root / "run"


def _cli(args, capsys):
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    return code, capsys.readouterr()


def test_onnx_runtime_matches_torch(run):
    ref, fast = load_model(run), OnnxModel(run)
    assert onnx_problem(run) is None and fast.has_stage2 and fast.model_id == ref.model_id
    rng = np.random.default_rng(1)
    for batch in (1, 3):  # the graphs have a dynamic batch axis
        x = (rng.random((batch, 1, 16, 16, 16)) > 0.6).astype(np.float32)
        mu, logvar = fast.encode_array(x)
        ref_mu, ref_logvar = ref.encode_array(x)
        assert mu.shape == (batch, 4)
        np.testing.assert_allclose(mu, ref_mu, atol=1e-4)
        np.testing.assert_allclose(logvar, ref_logvar, atol=1e-4)
        z = rng.standard_normal((batch, 4)).astype(np.float32)
        p, ref_p = torch.sigmoid(torch.from_numpy(fast.decode_array(z))), torch.sigmoid(torch.from_numpy(ref.decode_array(z)))
        assert float((p - ref_p).abs().max()) < 1e-4
    assert set(fast.dev_vectors) == set(ref.dev_vectors)
    np.testing.assert_array_equal(fast.posterior_var, ref.posterior_var.numpy())
    manifest = json.loads((run / "onnx" / "manifest.json").read_text())
    assert manifest["decoder_stage"] == 2 and max(manifest["check_max_abs_diff"].values()) < 1e-3
    with pytest.raises(SkullVAEError, match="model input must be"):
        fast.encode_array(np.zeros((1, 1, 8, 8, 8), np.float32))


def test_engine_choice(run, caplog):
    assert choose_engine("auto", "cpu", "dev", run) == "onnx"
    assert choose_engine("auto", "cuda", "dev", run) == "torch"
    assert choose_engine("auto", "cpu", "optimize", run) == "torch"
    assert choose_engine("torch", "cpu", "dev", run) == "torch"
    with pytest.raises(SkullVAEError, match="--engine onnx runs on the CPU"):
        choose_engine("onnx", "cuda", "dev", run)
    with pytest.raises(SkullVAEError, match="optimize needs gradients"):
        choose_engine("onnx", "cpu", "optimize", run)
    assert load_completion_model(run, "cpu", "auto", "dev").engine == "onnxruntime"
    assert load_completion_model(run, "cpu", "auto", "optimize").engine == "torch"


def test_stale_or_modified_exports_are_not_used(run, tmp_path, caplog, capsys):
    stale = tmp_path / "stale"
    shutil.copytree(run, stale, ignore=shutil.ignore_patterns("cache"))
    tensors, meta = load_weights(stale / "stage2" / "decoder.safetensors")
    save_weights(stale / "stage2" / "decoder.safetensors", {k: v + 0.01 for k, v in tensors.items()}, meta)
    assert "out of date: stage2/decoder.safetensors changed" in onnx_problem(stale)
    with caplog.at_level("WARNING", logger="skullvae"):
        assert choose_engine("auto", "cpu", "dev", stale) == "torch"
    assert "skullvae export-onnx" in caplog.text
    with pytest.raises(SkullVAEError, match="out of date"):
        OnnxModel(stale)
    code, out = _cli(["export-onnx", stale], capsys)
    assert code == 2 and "--overwrite" in out.err and "Traceback" not in out.err
    code, out = _cli(["export-onnx", stale, "--overwrite"], capsys)
    assert code == 0 and "max |Δprobability|" in out.out
    assert onnx_problem(stale) is None
    code, out = _cli(["export-onnx", stale], capsys)
    assert code == 0 and "up to date" in out.out
    (stale / "onnx" / "decoder.onnx").write_bytes(b"not a graph")
    assert "modified after the export" in onnx_problem(stale)
    shutil.rmtree(stale / "onnx")
    assert "has no ONNX export" in onnx_problem(stale)
    caplog.clear()
    with caplog.at_level("WARNING", logger="skullvae"):
        assert choose_engine("auto", "cpu", "dev", stale) == "torch"
    assert caplog.text == ""  # no export at all: torch, quietly
    with pytest.raises(SkullVAEError, match="skullvae export-onnx"):
        choose_engine("onnx", "cpu", "dev", stale)


def test_export_run_carries_a_current_export(run, tmp_path):
    out = export_run(run, tmp_path / "bundle")
    assert onnx_problem(out) is None
    sums = read_checksums(out)  # SHA256SUMS covers the weights and the graphs, and matches them
    assert {"stage1/model.safetensors", "onnx/encoder.onnx", "onnx/decoder.onnx"} <= set(sums)
    assert model_problems(out) == []
    z = np.zeros((1, 4), np.float32)
    np.testing.assert_array_equal(OnnxModel(out).decode_array(z), OnnxModel(run).decode_array(z))


@pytest.mark.skipif("synthetic-64" not in bundled_names(), reason="no bundled model")
def test_bundled_model_has_a_current_export():
    assert onnx_problem(BUNDLED_DIR / "synthetic-64") is None


@pytest.mark.skipif("synthetic-64" not in bundled_names(), reason="no bundled model")
def test_cpu_completion_imports_neither_torch_nor_monai(tmp_path):
    """The point of the export: ``complete`` on the CPU starts without torch (seconds of imports).

    Also with ``--samples`` (batched decoding) and ``--align register`` (the model's mean skull).
    """
    from skullvae.defects import inject_defect
    from skullvae.io import write_volume
    from skullvae.phantoms import synth_skull

    skull = synth_skull(3, shape=128, spacing=1.6)
    defective, _ = inject_defect(skull, "frontoorbital", 3)
    case = write_volume(defective, tmp_path / "case.nii.gz")
    code = (
        "import json, sys\n"
        "from skullvae.completion.pipeline import CompletionOptions, complete_case\n"
        f"r = complete_case({str(case)!r}, {str(tmp_path / 'out')!r}, CompletionOptions(mode='dev'))\n"
        f"s = complete_case({str(case)!r}, {str(tmp_path / 'out2')!r}, CompletionOptions(samples=3, align='register'))\n"
        "print(json.dumps({'engine': r['engine'], 'torch': 'torch' in sys.modules, 'monai': 'monai' in sys.modules,"
        " 'cm3': r['implant']['volume_cm3'], 's': s['completion'].get('samples'), 'outputs': sorted(s['outputs'])}))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["engine"] == "onnxruntime" and not result["torch"] and not result["monai"]
    assert result["cm3"] > 0.1
    assert result["s"] == 3 and "implant_probability" in result["outputs"]  # --samples and --align register too


@pytest.mark.skipif("synthetic-64" not in bundled_names(), reason="no bundled model")
def test_both_engines_complete_a_skull_alike():
    from skullvae.completion.pipeline import CompletionOptions, run_completion
    from skullvae.defects import inject_defect
    from skullvae.phantoms import synth_skull
    from skullvae.preprocessing.pipeline import load_mask

    skull = synth_skull(5, shape=128, spacing=1.6)
    defective, _ = inject_defect(skull, "parietotemporal", 5)
    results = {}
    for engine in ("onnx", "torch"):
        model = load_completion_model("synthetic-64", "cpu", engine, "dev")
        results[engine] = run_completion(load_mask(defective), CompletionOptions(mode="dev"), model)
    a, b = results["onnx"], results["torch"]
    assert np.abs(a.probability - b.probability).max() < 1e-3
    assert a.info["dev"] == b.info["dev"] and a.info["input_fit_dice"] == pytest.approx(b.info["input_fit_dice"], abs=1e-3)
