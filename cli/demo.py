"""``make demo``: the whole job end to end, with the commands a user would type.

1. ``skullvae doctor``: the machine can complete a case (versions, device, model checksum);
2. ``skullvae synth``: a held-out synthetic skull (data-set seed 202: the bundled model was
   trained on seed 0) with a parietotemporal defect and its known implant;
3. ``skullvae complete`` with the bundled model and the default options: implant NIfTI,
   STL, preview PNG, report;
4. ``skullvae metrics``: DSC / bDSC / HD95 against the known implant, and the rim gap
   from the report;
5. when ``../shared`` is beside the checkout, the real SkullBreak sample the same way (it
   has no ground-truth implant: its implant volume and rim gap are shown);
6. a table of the scores, and one of what was written where.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from rich.table import Table

from skullvae_cli.console import make_console

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
REAL_CASE = REAL / "skullbreak_parietotemporal_001.nii.gz"
SEED = 202  # held out: the bundled model was trained on seed 0 and tuned on seed 101
DEFECT = "parietotemporal"


def _run(args: list[str], capture: bool = False) -> str:
    """Run ``skullvae ARGS`` (echoed), stop the demo if it fails; return its stdout when captured."""
    print(f"\n$ skullvae {shlex.join(args)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "skullvae_cli", *args], stdout=subprocess.PIPE if capture else None,
                          text=True)
    if proc.returncode != 0:
        print(f"demo step failed (exit {proc.returncode})", file=sys.stderr)
        sys.exit(proc.returncode)
    print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return proc.stdout or ""


def _complete(case: Path, out: Path) -> dict:
    _run(["complete", str(case), "-o", str(out), "--overwrite"])  # bundled model, default options
    return json.loads((out / "report.json").read_text())


def _rim_gap(report: dict) -> str:
    gap = report.get("rim_gap_mm")
    return f"{gap['median']:.2f} / {gap['p95']:.2f}" if gap else "n/a (--no-rim)"


def main(out: str = "demo_out") -> None:
    """Run the demo into ``out``."""
    t_start = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / "synthetic"
    case = "skull_000.nii.gz"
    defective = data / "defective" / DEFECT / case
    truth = data / "implant" / DEFECT / case
    _run(["doctor"])
    _run(["synth", str(data), "--n", "1", "--seed", str(SEED), "--shape", "128", "--spacing", "1.6",
          "--types", DEFECT, "--overwrite"])
    synthetic_out = out_dir / "synthetic_completed"
    synthetic = _complete(defective, synthetic_out)
    scores = json.loads(_run(["metrics", str(synthetic_out / "implant.nii.gz"), str(truth), "--defective", str(defective),
                              "--json"], capture=True))
    cases = [("synthetic (held out, seed 202)", synthetic_out, synthetic, scores)]
    if REAL_CASE.exists():
        # The bundled model has seen synthetic skulls only: if it does not fit this real skull,
        # auto says so and the rim step builds the implant from the skull's own rim and its mirror image.
        real_out = out_dir / "real_skullbreak"
        cases.append(("real SkullBreak (no ground truth)", real_out, _complete(REAL_CASE, real_out), None))
    else:
        print(f"\n(skipping the real SkullBreak case: {REAL_CASE} not found)")
    _print_tables(cases, data, truth, time.perf_counter() - t_start)


def _print_tables(cases, data: Path, truth: Path, seconds: float) -> None:
    console = make_console()
    scores = Table(title="Scores (DSC / bDSC / HD95 against the known implant; rim gap = implant rim to bone)")
    for col in ("case", "mode", "rim prior", "implant cm³", "DSC", "bDSC", "HD95 mm", "rim gap median / p95 mm", "time s"):
        scores.add_column(col)
    for name, _, report, metrics in cases:
        hd95 = "undefined" if metrics and metrics["hd95"] is None else f"{(metrics or {}).get('hd95') or 0:.2f}"
        row = [f"{metrics['dsc']:.3f}", f"{metrics['bdsc']:.3f}", hd95] if metrics else ["no ground truth"] * 3
        mode = report["mode"] if report.get("requested_mode") in (None, report["mode"]) else \
            f"{report['requested_mode']} → {report['mode']}"
        prior = (report.get("completion", {}).get("rim") or {}).get("prior", "-")
        scores.add_row(name, mode, prior, f"{report['implant']['volume_cm3']:.2f}", *row, _rim_gap(report),
                       f"{report['timings_s']['total']:.1f}")
    console.print(scores)
    files = Table(title=f"What the demo wrote ({seconds:.0f} s in all)")
    for col in ("case", "file", "where"):
        files.add_column(col)
    files.add_row("synthetic", "skull, defect, known implant", str(data))
    files.add_row("synthetic", "known implant (ground truth)", str(truth))
    for name, folder, report, _ in cases:
        outputs = report["outputs"]
        for label, key in (("implant (NIfTI)", "implant"), ("implant STL (LPS mm, for 3D Slicer)", "stl"),
                           ("preview PNG", "preview"), ("report", "report")):
            if key in outputs:
                files.add_row(name.split(" (")[0], label, str(folder / outputs[key]))
    console.print(files)


if __name__ == "__main__":
    main(*sys.argv[1:2])
