"""skullvae evaluate: cases, scores, resumable scores.csv, summary.md, box plots, CLI errors."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from skullvae.data.manifest import load_manifest
from skullvae.errors import SkullVAEError
from skullvae.evaluation import ImplantPrediction, evaluate, evaluation_cases, parse_modes
from skullvae.evaluation.scores_table import COLUMNS, read_scores
from skullvae.io.readers import read_volume
from skullvae.training.toy_data import make_toy_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_runner import run_cli  # noqa: E402


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n=3, shape=32, spacing=6.0)


def _perfect(case, volume):
    return ImplantPrediction(read_volume(case.implant).array, gap_median_mm=0.0, gap_p95_mm=0.5, defects=1)


def _empty(case, volume):
    return np.zeros(volume.shape, np.uint8)


def _no_defect(case, volume):
    raise SkullVAEError("no defect found")


def test_cases_of_a_split(toy):
    manifest = load_manifest(toy)
    cases = evaluation_cases(manifest, "all")
    assert len(cases) == 3 * 3 and {c.defect_type for c in cases} == {"left", "right", "top"}
    assert len(evaluation_cases(manifest, "all", ["top"], limit=2)) == 2
    with pytest.raises(SkullVAEError, match="unknown defect type"):
        evaluation_cases(manifest, "all", ["frontal"])
    with pytest.raises(SkullVAEError, match="unknown split"):
        evaluation_cases(manifest, "holdout")
    cases[0].implant.rename(cases[0].implant.with_suffix(".bak"))
    try:
        with pytest.raises(SkullVAEError, match="1 file.* missing"):
            evaluation_cases(manifest, "all")
    finally:
        cases[0].implant.with_suffix(".bak").rename(cases[0].implant)


def test_skullbreak_layout(tmp_path):
    """The SkullBreak manifest's folder layout: NRRD files by file id; its test set has no implants."""
    import shutil

    from skullvae.io.writers import write_volume
    from skullvae.training.toy_data import toy_defect, toy_skull

    shutil.copy(Path(__file__).resolve().parents[2] / "data_manifests" / "skullbreak.json", tmp_path / "manifest.json")
    manifest = load_manifest(tmp_path / "manifest.json")
    first = sorted(c.skull_id for c in manifest.split("val"))[0]
    case = manifest.case(first)
    skull = toy_skull(0, 32, 6.0)
    defective, implant = toy_defect(skull, "left", 0)
    write_volume(defective, case.defective["bilateral"])
    write_volume(implant, case.implant["bilateral"])
    cases = evaluation_cases(manifest, "val", ["bilateral"], limit=1)
    assert [(c.skull_id, c.defect_type) for c in cases] == [(first, "bilateral")]
    assert cases[0].defective == tmp_path / "training" / "defective_skull" / "bilateral" / f"{case.defective['bilateral'].name}"
    rows = evaluate(cases, {"perfect": _perfect}, tmp_path / "eval", settings={"data": "skullbreak"})
    assert rows[0]["dsc"] == 1.0 and rows[0]["hd95"] == 0.0
    with pytest.raises(SkullVAEError, match="without ground-truth implants.*--split val"):
        evaluation_cases(manifest, "test")


def test_scores_tables_and_resume(toy, tmp_path):
    cases = evaluation_cases(load_manifest(toy), "all", limit=2)
    out = tmp_path / "eval"
    settings = {"data": str(toy), "split": "all", "model": "fake", "limit": 2}
    rows = evaluate(cases, {"perfect": _perfect, "empty": _empty, "fails": _no_defect}, out, settings=settings)
    assert len(rows) == len(cases) * 3
    perfect = [r for r in rows if r["mode"] == "perfect"]
    assert all(r["dsc"] == 1.0 and r["bdsc"] == 1.0 and r["hd95"] == 0.0 and r["failed"] == 0 for r in perfect)
    for mode in ("empty", "fails"):
        rs = [r for r in rows if r["mode"] == mode]
        assert all(r["dsc"] == 0.0 and math.isinf(r["hd95"]) and r["failed"] == 1 for r in rs)
    assert all(r["error"] == "no defect found" for r in rows if r["mode"] == "fails")
    with open(out / "scores.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert tuple(table[0]) == COLUMNS and len(table) == 1 + len(rows)
    def same(r):  # NaN (no rim gap measured) compares unequal to itself
        return {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items() if k != "wall_s"}

    assert [same(r) for r in read_scores(out / "scores.csv")] == [same(r) for r in rows]
    summary = (out / "summary.md").read_text()
    assert "| left | 2 | 1.000 / 1.000 / 0.00 | 0.000 / 0.000 / inf | 0.000 / 0.000 / inf |" in summary
    assert "| **all** | 6 |" in summary and "| perfect | 6 | 0 | 0.00 | 0.50 |" in summary
    for key in ("dsc", "bdsc", "hd95"):
        assert (out / f"box_{key}.png").read_bytes()[:4] == b"\x89PNG"

    def must_not_run(case, volume):
        raise AssertionError("an already scored case was completed again")

    again = evaluate(cases, {"perfect": must_not_run, "empty": must_not_run}, out, settings=settings)
    assert len(again) == len(rows)
    # a new mode is added to the same folder; other settings are refused
    more = evaluate(cases, {"perfect": must_not_run, "mirror-like": _empty}, out, settings=settings)
    assert len(more) == len(rows) + len(cases)
    with pytest.raises(SkullVAEError, match="other settings"):
        evaluate(cases, {"perfect": _perfect}, out, settings={**settings, "model": "another"})
    fresh = evaluate(cases[:1], {"perfect": _perfect}, out, settings={**settings, "model": "another"}, overwrite=True)
    assert len(fresh) == 1


def test_parse_modes():
    assert parse_modes("auto, dev:norim,mirror") == ["auto", "dev:norim", "mirror"]
    for bad in ("auto,bogus", "dev:rim", "", "auto,auto"):
        with pytest.raises(SkullVAEError):
            parse_modes(bad)


def test_cli_mirror_end_to_end_and_errors(toy, tmp_path, capsys):
    out = tmp_path / "cli"
    code, stdout, err = run_cli(["evaluate", "--data", toy, "-o", out, "--modes", "mirror,mirror:norim", "--split", "all",
                                 "--limit", "1", "--types", "left"], capsys)
    assert code == 0, err
    rows = read_scores(out / "scores.csv")
    assert [r["mode"] for r in rows] == ["mirror", "mirror:norim"]
    assert all(0.0 <= r["dsc"] <= 1.0 and 0.0 <= r["bdsc"] <= 1.0 and r["hd95"] >= 0.0 for r in rows)
    assert "mirror: 1 cases" in stdout
    for args, message in [(["--modes", "bogus"], "unknown mode 'bogus'"),
                          (["--data", tmp_path / "none.json"], "manifest not found"),
                          (["--split", "nope"], "unknown split")]:
        base = {"--data": toy, "-o": tmp_path / "x", "--modes": "mirror", "--split": "all"}
        for flag, value in zip(args[::2], args[1::2]):
            base[flag] = value
        code, _, err = run_cli(["evaluate", *[a for kv in base.items() for a in kv]], capsys)
        assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
