"""The U-Net peer and the objectives comparison at a tiny scale: tables well formed, scores in range."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from skullvae.errors import SkullVAEError
from skullvae.evaluation.scores_table import read_scores
from skullvae.training.toy_data import make_toy_dataset

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n=4, shape=32, spacing=6.0)


def test_unet_baseline_one_epoch_and_evaluator(toy, tmp_path):
    unet = _load("unet_baseline")
    run = tmp_path / "unet"
    assert unet.main(["train", str(toy), "--out", str(run), "--budget-min", "1", "--max-epochs", "1", "--grid", "16",
                      "--voxel-mm", "14", "--channels", "4,8", "--batch-size", "4"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["result"]["epochs"] == 1 and config["result"]["steps"] >= 1 and config["target"] == "complete skull"
    assert (run / "unet.safetensors").read_bytes()[8:9] == b"{"  # safetensors: 8-byte length, JSON header
    out = tmp_path / "eval"
    assert unet.main(["evaluate", str(run), "--data", str(toy), "-o", str(out), "--modes", "unet,unet:norim",
                      "--split", "val", "--types", "left"]) == 0
    rows = read_scores(out / "scores.csv")
    assert sorted(r["mode"] for r in rows) == ["unet", "unet:norim"] and all(r["defect_type"] == "left" for r in rows)
    assert all(0.0 <= r["dsc"] <= 1.0 and 0.0 <= r["bdsc"] <= 1.0 and r["hd95"] >= 0.0 for r in rows)
    assert "| **all** | 1 |" in (out / "summary.md").read_text()
    with pytest.raises(SkullVAEError, match="unknown U-Net mode"):
        unet.main(["evaluate", str(run), "--data", str(toy), "-o", str(out), "--modes", "bogus"])


@pytest.mark.slow
def test_compare_objectives_tiny(toy, tmp_path):
    cmp = _load("compare_objectives")
    out = tmp_path / "cmp"
    tiny = ["--grid", "16", "--voxel-mm", "14", "--channels", "4,8", "--latent", "4", "--epochs", "1",
            "--stage2-epochs", "1", "--batch-size", "2", "--heldout", "val", "--eval-split", "val", "--eval-limit", "1",
            "--prior-samples", "4"]
    assert cmp.main([str(toy), "--out", str(out), "--methods", "beta_large,two_stage,sigma", "--sweep-betas", "7",
                     *tiny]) == 0
    result = json.loads((out / "objectives.json").read_text())
    assert [m["method"] for m in result["methods"]] == ["beta_large", "two_stage", "sigma"]
    for m in result["methods"]:
        assert 0.0 <= m["heldout_dice_complete"] <= 1.0 and m["kl_moment_matched"] >= 0.0
        assert 0.0 <= m["prior_skull_like_fraction"] <= 1.0 and 0 <= m["dims_non_normal_0.01"] <= 4
        for mode in ("dev", "dev:norim"):
            c = m["completion"][mode]
            assert c["n"] == 3 and 0.0 <= c["dsc"] <= 1.0 and (c["hd95_median"] >= 0 or math.isinf(c["hd95_median"]))
    two, big = result["methods"][1], result["methods"][0]
    assert two["stage2"] and not big["stage2"] and two["train_s"] > big["train_s"]
    assert two["kl_moment_matched"] == pytest.approx(big["kl_moment_matched"], rel=1e-5)  # the same encoder
    (sweep,) = result["sweep"]
    assert sweep["value"] == 7 and 0 <= sweep["two_stage"]["heldout_dice_complete"] <= 1
    assert sweep["two_stage"]["kl_moment_matched"] == pytest.approx(sweep["beta"]["kl_moment_matched"], rel=1e-5)
    main_table, sweep_table = (out / "objectives.md").read_text().split("β sweep")
    table = main_table.strip().splitlines()
    assert len(table) == 2 + 3 and all(line.count("|") == table[0].count("|") for line in table)
    assert sweep_table.strip().splitlines()[-1].startswith("| 7 |")
    before = (out / "runs" / "beta_large" / "stage1" / "model.safetensors").stat().st_mtime_ns
    assert cmp.main([str(toy), "--out", str(out), "--methods", "beta_large", *tiny]) == 0  # a finished run is reused
    assert (out / "runs" / "beta_large" / "stage1" / "model.safetensors").stat().st_mtime_ns == before
    # the sweep as its own step: reuses the sweep's finished runs, writes sweep.json / sweep.md only
    objectives = (out / "objectives.json").read_text()
    assert cmp.main([str(toy), "--out", str(out), "--sweep-only", "--sweep-betas", "7", *tiny]) == 0
    (again,) = json.loads((out / "sweep.json").read_text())["sweep"]
    assert again["two_stage"]["heldout_dice_complete"] == pytest.approx(sweep["two_stage"]["heldout_dice_complete"])
    assert (out / "sweep.md").read_text().strip().splitlines()[-1].startswith("| 7 |")
    assert (out / "objectives.json").read_text() == objectives
    with pytest.raises(SkullVAEError, match="--sweep-only needs --sweep-betas"):
        cmp.main([str(toy), "--out", str(out), "--sweep-only", *tiny])


def test_claims_join_the_comparisons_own_beta_to_the_sweep():
    report = _load("results_report")
    row = lambda dice, kl: {"heldout_dice_complete": dice, "kl_moment_matched": kl, "dims_non_normal_0.01": 0}  # noqa: E731
    methods = {"beta_small": row(0.90, 900.0), "beta_large": row(0.70, 10.0), "two_stage": row(0.89, 10.0)}
    sweep = [{"value": 10.0, "beta": row(0.85, 40.0), "two_stage": row(0.885, 40.0)}]
    lines = report.claims(methods, False, sweep, beta_large=100.0)
    assert "**holds**" in lines[0] and "**holds** (within 0.02)" in lines[1]
    assert "β ∈ {10, 100}: 0.885, 0.890" in lines[2] and "**holds**" in lines[2]
    methods["two_stage"] = row(0.80, 10.0)  # the decoder does not recover: every verdict that depends on it flips
    lines = report.claims(methods, False, sweep, beta_large=100.0)
    assert "**does not hold** (0.100 lower)" in lines[1] and "**does not hold** over this range" in lines[2]



def test_domain_fit_diagnosis_on_a_held_out_synthetic_skull():
    from skullvae.completion.engine import load_completion_model
    from skullvae.phantoms import synth_skull

    fit = _load("domain_fit")
    model = load_completion_model("synthetic-64", device="cpu", engine="torch", mode="optimize")
    skull = synth_skull(909, 112, 2.0)
    plain = fit.fit_of(model, skull)
    assert 0.7 < plain <= 1.0  # a skull like the training skulls
    still = fit.diagnose(model, skull, steps=0)
    assert still["scales"][1.0] == pytest.approx(plain, abs=1e-4) and still["best_scaled"] >= still["scales"][1.0]
    assert still["searched"] == pytest.approx(plain, abs=1e-4)  # no step: decode(μ) itself
    assert fit.fit_of(model, skull, scale=0.88) < plain  # a skull shrunk by 12 % no longer fits
    searched = fit.diagnose(model, skull, steps=15)
    assert searched["searched"] > plain - 0.01 and searched["z_norm"] > 0


@pytest.mark.slow
def test_real_templates_are_complete_skulls(real_data, tmp_path):
    """Every template, the SkullBreak sample with its own defect filled included, has no defect left."""
    from skullvae.implant.rim_implant import rim_implant
    from skullvae.io.readers import read_volume
    from skullvae.preprocessing.crop import nonzero_bbox
    from skullvae.preprocessing.pipeline import load_mask

    templates = _load("make_real_templates")
    assert templates.main([str(tmp_path / "tpl"), "--shared", str(real_data.parents[1])]) == 0
    manifest = json.loads((tmp_path / "tpl" / "manifest.json").read_text())
    ids = [case["skull_id"] for case in manifest["cases"]]
    assert ids == ["msr_double_shell", "ct_pitch", "skullbreak_pt_001"]
    sb = next(case for case in manifest["cases"] if case["skull_id"] == "skullbreak_pt_001")
    assert "1 opening(s) found" in sb["preparation"]  # its parietotemporal defect, filled
    case = load_mask(read_volume(tmp_path / "tpl" / "complete" / "skullbreak_pt_001.nii.gz"))
    with pytest.raises(SkullVAEError, match="no defect found"):
        rim_implant(case.mask, nonzero_bbox(case.mask.array), None, priors=("none",))
