"""``skullvae models`` and ``skullvae doctor`` on the bundled model and on broken copies of it."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from cli_runner import run_cli

from skullvae.completion.readiness import readiness_problems, readiness_report
from skullvae.model.inventory import CHECKSUMS, read_checksums
from skullvae.model.locate import BUNDLED_DIR

BUNDLED = BUNDLED_DIR / "synthetic-64"


@pytest.fixture
def model_copy(tmp_path):
    """A run folder that is a copy of the bundled model (safe to break)."""
    return shutil.copytree(BUNDLED, tmp_path / "run")


def test_models_lists_the_bundled_model_with_its_real_checksums(capsys):
    code, out, err = run_cli(["models", "--json"], capsys)
    assert code == 0, err
    (info,) = json.loads(out)
    assert info["name"] == "synthetic-64" and info["bundled"]
    assert info["grid"] == [64, 80, 64] and info["voxel_mm"] == 2.8 and info["objective"].startswith("beta")
    assert "synthetic skulls" in info["training_data"]
    for rel in ("stage1/model.safetensors", "stage2/decoder.safetensors"):
        assert info["weights_sha256"][rel] == hashlib.sha256((BUNDLED / rel).read_bytes()).hexdigest()
    assert info["domain_fit"] is None and info["onnx"] is None and info["problems"] == []
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0 and "not measured" in out and "64 × 80 × 64" in out


def test_models_reads_a_runs_domain_fit(model_copy, capsys):
    fit = {"format": "skullvae-domain-fit", "version": 1, "model_id": "skullvae-8be0ea1f680a", "metric": "input-fit Dice",
           "skulls": [{"name": "a", "kind": "real", "dice": 0.5}, {"name": "b", "kind": "real", "dice": 0.7},
                      {"name": "c", "kind": "synthetic", "dice": 0.88}]}
    (model_copy / "domain_fit.json").write_text(json.dumps(fit))
    code, out, err = run_cli(["models", model_copy, "--json"], capsys)
    assert code == 0, err
    run = json.loads(out)[1]
    assert run["domain_fit"]["real"] == {"n": 2, "min": 0.5, "mean": pytest.approx(0.6)}
    assert run["domain_fit"]["synthetic"]["mean"] == 0.88 and run["domain_fit_other_model"] is None
    code, out, _ = run_cli(["models", model_copy], capsys)
    assert "real min 0.500 / mean 0.600 (n = 2)" in out
    (model_copy / "domain_fit.json").write_text('{"format": "skullvae-domain-fit", "skulls": [{"dice": "high"}]}')
    code, out, _ = run_cli(["models", model_copy], capsys)
    assert code == 0 and "unreadable" in out
    code, _, err = run_cli(["models", model_copy / "nope"], capsys)
    assert code == 2 and err.count("\n") == 1 and "no such run folder" in err


def test_doctor_passes_on_the_bundled_model(capsys):
    code, out, err = run_cli(["doctor"], capsys)
    assert code == 0, err
    for needed in ("skullvae", "torch", "MONAI", "ONNX Runtime", "SimpleITK", "device", "threads", "CUDA",
                   "match SHA256SUMS", "ready"):
        assert needed in out, needed
    digest = hashlib.sha256((BUNDLED / "stage1/model.safetensors").read_bytes()).hexdigest()
    assert digest in out
    assert read_checksums(BUNDLED)["onnx/decoder.onnx"] == hashlib.sha256(
        (BUNDLED / "onnx/decoder.onnx").read_bytes()).hexdigest()


def test_doctor_fails_in_one_line_on_corrupt_or_missing_weights(model_copy, capsys):
    weights = model_copy / "stage2" / "decoder.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit in the tensor data: still a readable safetensors file
    weights.write_bytes(bytes(data))
    code, out, err = run_cli(["doctor", "--model", model_copy], capsys)
    assert code == 2 and err.count("\n") == 1 and "checksum mismatch" in err and "decoder.safetensors" in err
    (model_copy / "stage1" / "model.safetensors").unlink()
    code, _, err = run_cli(["doctor", "--model", model_copy], capsys)
    assert code == 2 and err.count("\n") == 1 and "weights missing" in err


def test_a_stale_onnx_export_is_a_warning_unless_torch_is_missing(model_copy, capsys):
    manifest = model_copy / "onnx" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["sources"]["stage2/decoder.safetensors"] = "0" * 64
    manifest.write_text(json.dumps(data))
    code, out, err = run_cli(["doctor", "--model", model_copy], capsys)
    assert code == 0, err
    assert "warning" in err and "out of date" in err and "runs on torch" in err
    report = readiness_report(str(model_copy))
    report["torch"] = {"importable": False, "error": "ImportError: no torch"}
    errors, _ = readiness_problems(report)
    assert len(errors) == 1 and "no engine can run the model" in errors[0]
    (model_copy / CHECKSUMS).write_text("not a checksum line\n")
    code, _, err = run_cli(["doctor", "--model", model_copy], capsys)
    assert code == 2 and f"{CHECKSUMS} line 1" in err
