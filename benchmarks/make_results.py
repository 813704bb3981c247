"""Run the whole comparison of issue 11 and write ``docs/RESULTS.md`` from what it measured.

One command per configuration; every step is a logged command line (so RESULTS.md
lists exactly what ran, with its seeds) and a finished step is reused when the script
runs again (each step writes into ``WORK``):

* ``smoke`` — a toy data set (6 ellipsoidal shells), a 16³ grid, 1 epoch per method,
  a 1-epoch U-Net, one real-skull case: proves the machinery in ~5 minutes; **its
  numbers are not results**.
* ``cpu`` — 40 synthetic skulls at 1.6 mm, grid 64 × 80 × 64 at 2.8 mm, 25 stage-1
  epochs per method, 20 stage-2 epochs, the U-Net under the two-stage model's
  training time, all 36 synthetic test cases and every real-skull case (the benchmark
  built at 1.0 mm, so that the six methods can be scored on it too), and a β sweep at
  β = 10 and 1000 (a β-VAE and a two-stage model at each, its own step): estimated at about
  85 minutes on 2 cores (≤ 90; run it in the background) from measured costs: a
  stage-1 epoch ≈ 8.5 s and a stage-2 epoch ≈ 6.7 s on one thread (README, issue 3),
  a synthetic 144³ case 3.3 s in ``dev``, 1.9 s in ``auto``/``mirror``, 0.4 s in
  ``dev:norim``, a 1.0 mm real-skull case 2–7 s per mode; the evaluations of the six
  methods (≈ 14 min synthetic, ≈ 16 min real) and their training (≈ 20 min) dominate;
  the sweep adds ≈ 10 min (two β-VAEs and two stage-2 decoders).
* ``gpu`` — 100 synthetic skulls at 0.8 mm, grid 96 × 128 × 96 at 1.9 mm,
  200 / 150 epochs on CUDA (``--device cuda``), the real-skull benchmark at 0.5 mm; the same steps.

Usage::

    nohup python benchmarks/make_results.py --config cpu --work /tmp/results_cpu > results_cpu.log 2>&1 &
    python benchmarks/make_results.py --config smoke --work /tmp/results_smoke      # writes docs/RESULTS.md

``--real MANIFEST`` uses an existing real-skull benchmark (else it is built with
``benchmarks/make_real_benchmark.py`` when ``../shared`` exists, or left out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

CONFIGS = {
    "smoke": {"data": "toy", "grid": "16", "voxel_mm": 14.0, "channels": "4,8", "latent": 4, "epochs": 1,
              "stage2_epochs": 1, "batch_size": 2, "mog_warmup": 1, "prior_samples": 8, "eval_limit": 1,
              "heldout": "val", "eval_split": "val", "device": "cpu", "threads": "2", "unet_channels": "4,8,16",
              "sweep": "10",
              "unet_max_epochs": 1, "real_limit": 1, "real_types": "random_1", "real_spacing": 1.0},
    "cpu": {"data": "synth", "synth": ["--n", "40", "--seed", "0", "--shape", "144", "--spacing", "1.6"],
            "grid": "64,80,64", "voxel_mm": 2.8, "channels": "8,16,32,64", "latent": 32, "epochs": 25,
            "stage2_epochs": 20, "batch_size": 4, "mog_warmup": 200, "prior_samples": 32, "eval_limit": None,
            "heldout": "test", "eval_split": "test", "device": "cpu", "threads": "2", "unet_channels": "8,16,32,64",
            "sweep": "10,1000",
            "unet_max_epochs": None, "real_limit": None, "real_types": None, "real_spacing": 1.0},
    "gpu": {"data": "synth", "synth": ["--n", "100", "--seed", "0", "--shape", "256", "--spacing", "0.8"],
            "grid": "96,128,96", "voxel_mm": 1.9, "channels": "16,32,64,128", "latent": 64, "epochs": 200,
            "stage2_epochs": 150, "batch_size": 8, "mog_warmup": 500, "prior_samples": 64, "eval_limit": None,
            "heldout": "test", "eval_split": "test", "device": "cuda", "threads": "16", "unet_channels": "16,32,64,128",
            "sweep": "10,30,300,1000",
            "unet_max_epochs": None, "real_limit": None, "real_types": None, "real_spacing": 0.5},
}
VAE_MODES = "auto,dev,mirror"
UNET_MODES = "unet,unet:auto,unet:norim"


class Steps:
    """Runs and logs the command lines of one configuration."""

    def __init__(self, work: Path, threads: str):
        self.work, self.log = work, []
        self.env = dict(os.environ, OMP_NUM_THREADS=threads, MPLBACKEND="Agg")
        self.record = work / "steps.json"  # how long each step took when it ran (a reused step keeps its time)
        self.took = json.loads(self.record.read_text()) if self.record.is_file() else {}

    def total_s(self) -> float:
        """Seconds of all steps of this configuration, as they ran (reused ones included)."""
        return float(sum(s["seconds"] or 0.0 for s in self.log))

    def run(self, name: str, argv: list[str], done: Path | None = None) -> float:
        shown = " ".join(shlex.quote(str(a)).replace(str(self.work), "$WORK").replace(PY, "python")
                         .replace(str(ROOT) + "/", "") for a in argv)
        if done is not None and done.exists():
            self.log.append({"step": name, "command": shown, "seconds": self.took.get(shown), "reused": True})
            return 0.0
        print(f"== {name}: {shown}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        subprocess.run([str(a) for a in argv], check=True, cwd=ROOT, env=self.env)
        seconds = time.perf_counter() - t0
        self.log.append({"step": name, "command": shown, "seconds": round(seconds, 1), "reused": False})
        self.took[shown] = round(seconds, 1)
        self.record.write_text(json.dumps(self.took, indent=1))
        return seconds


def cli(*args) -> list[str]:
    return [PY, "-m", "skullvae_cli", *map(str, args)]


def make_data(cfg: dict, work: Path, steps: Steps) -> Path:
    data = work / "data"
    if cfg["data"] == "toy":
        code = ("from skullvae.training.toy_data import make_toy_dataset; "
                f"make_toy_dataset({str(data)!r}, n=6, shape=32, spacing=6.0)")
        steps.run("data (toy shells, seed 0)", [PY, "-c", code], data / "manifest.json")
    else:
        steps.run("data (skullvae synth)", cli("synth", data, *cfg["synth"]), data / "manifest.json")
    return data / "manifest.json"


def real_manifest(args, cfg: dict, work: Path, steps: Steps) -> Path | None:
    if args.real is not None:
        return args.real
    if not (ROOT.parent / "shared" / "data" / "real").is_dir():
        return None
    out = work / "real"
    steps.run(f"real-skull benchmark at {cfg['real_spacing']} mm", [PY, "benchmarks/make_real_benchmark.py", out,
              "--spacing", cfg["real_spacing"]], out / "manifest.json")
    return out / "manifest.json"


def run_all(cfg: dict, args, work: Path, steps: Steps) -> dict:
    manifest = make_data(cfg, work, steps)
    real = real_manifest(args, cfg, work, steps)
    cmp_dir = work / "objectives"
    common = [PY, "benchmarks/compare_objectives.py", manifest, "--out", cmp_dir, "--grid", cfg["grid"],
              "--voxel-mm", cfg["voxel_mm"], "--channels", cfg["channels"], "--latent", cfg["latent"],
              "--epochs", cfg["epochs"], "--stage2-epochs", cfg["stage2_epochs"], "--batch-size", cfg["batch_size"]]
    compare = common + ["--mog-warmup", cfg["mog_warmup"], "--prior-samples", cfg["prior_samples"],
                        "--heldout", cfg["heldout"], "--eval-split", cfg["eval_split"], "--device", cfg["device"],
                        "--seed", "0"]
    if cfg["eval_limit"]:
        compare += ["--eval-limit", cfg["eval_limit"]]
    if real is not None:
        compare += ["--real", real, "--real-modes", "dev"]
        compare += ["--real-limit", cfg["real_limit"]] if cfg["real_limit"] else []
        compare += ["--real-types", cfg["real_types"]] if cfg["real_types"] else []
    steps.run("objectives compared", compare, cmp_dir / "objectives.json")
    objectives = json.loads((cmp_dir / "objectives.json").read_text())
    if cfg["sweep"]:  # its own step: β-VAE and two-stage at each β (held-out Dice and KL)
        steps.run(f"β sweep ({cfg['sweep']})", common + ["--heldout", cfg["heldout"], "--device", cfg["device"],
                                                         "--seed", "0", "--sweep-only", "--sweep-betas", cfg["sweep"]],
                  cmp_dir / "sweep.json")
        objectives["sweep"] = json.loads((cmp_dir / "sweep.json").read_text())["sweep"]
    two_stage = next(m for m in objectives["methods"] if m["method"] == "two_stage")
    ours = Path(two_stage["run"])
    budget = round(two_stage["train_s"] / 60.0, 2)
    unet = work / "unet"
    train = [PY, "benchmarks/unet_baseline.py", "train", manifest, "--out", unet, "--budget-min", budget,
             "--grid", cfg["grid"], "--voxel-mm", cfg["voxel_mm"], "--channels", cfg["unet_channels"],
             "--device", cfg["device"], "--seed", "0", "--overwrite"]
    if cfg["unet_max_epochs"]:
        train += ["--max-epochs", cfg["unet_max_epochs"]]
    steps.run(f"U-Net peer (budget = two-stage training time, {budget} min)", train, unet / "unet.safetensors")
    sets = {"synthetic": (manifest, cfg["eval_split"], [], cfg["eval_limit"], None)}
    if real is not None:
        sets["real"] = (real, "test", ["--match-components"], cfg["real_limit"], cfg["real_types"])
    for name, (man, split, extra, limit, types) in sets.items():
        lim = ["--limit", limit] if limit else []
        typ = ["--types", types] if types else []
        steps.run(f"evaluate two-stage model ({name})",
                  cli("evaluate", "--data", man, "--model", ours, "-o", work / f"eval_{name}", "--modes", VAE_MODES,
                      "--split", split, "--device", cfg["device"], *extra, *lim, *typ),
                  work / f"eval_{name}" / "summary.md")
        steps.run(f"evaluate U-Net peer ({name})",
                  [PY, "benchmarks/unet_baseline.py", "evaluate", unet, "--data", man, "-o", work / f"unet_{name}",
                   "--modes", UNET_MODES, "--split", split, "--device", cfg["device"], *extra, *lim, *typ],
                  work / f"unet_{name}" / "summary.md")
    notes = json.loads(Path(real).read_text()).get("notes", "") if real is not None else ""
    return {"objectives": objectives, "sets": list(sets), "unet": json.loads((unet / "config.json").read_text()),
            "real": str(real) if real is not None else None, "real_notes": notes.split(";")[0]}


def machine() -> str:
    import torch

    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} CPU cores ({cpu}), {gpu}; Python {platform.python_version()}, torch {torch.__version__}; "
            f"skullvae commit {commit or 'unknown'}")


if __name__ == "__main__" and __package__ is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_report import write_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--work", type=Path, required=True, help="folder for data, runs and evaluations (reused)")
    parser.add_argument("--real", type=Path, default=None, help="an existing real-skull benchmark manifest")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "RESULTS.md")
    parser.add_argument("--fresh", action="store_true", help="delete WORK first")
    parser.add_argument("--remark", action="append", default=[],
                        help="a sentence about how this run went (e.g. the machine was shared), printed in RESULTS.md")
    args = parser.parse_args(argv)
    cfg = CONFIGS[args.config]
    if args.fresh and args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    steps = Steps(args.work.resolve(), cfg["threads"])
    measured = run_all(cfg, args, args.work.resolve(), steps)
    write_results(args.results, args.config, cfg, measured, steps.log, args.work.resolve(), machine(), steps.total_s(),
                  remarks=args.remark)
    print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
