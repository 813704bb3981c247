"""How much slower is ``skullvae complete`` than just reading and writing the volume?

On a 512³, 0.4 mm skull (the real SkullBreak sample when ``../shared`` is beside
the checkout, else a synthetic one), one run each, in fresh child processes:

* I/O: ``read_volume`` + ``write_volume`` of the same volume (same format);
* complete: ``complete_case`` end to end (read, preprocess, complete, implant,
  mesh, write implant + completed + STL + preview + report), cold: the model's
  engine (ONNX Runtime on the CPU by default, or torch and MONAI with
  ``--engine torch``) and the model are loaded inside the timed span, as for a
  single ``skullvae complete``;
* warm: the same case once more in the same process with the model already loaded,
  as for every case of a batch (``--input-dir``).

Prints the time of a cold completion (target with the rim step, issue 8: ≤ 10 s on
the CPU for a 512³ case), its ratio to the I/O time, and the peak resident memory of
the completion process (target ≤ 4 GB). Both sides
are measured ``--repeat`` times (default 3), alternating, and the median run is
reported with all ratios (single timings vary by ±30 % on a small machine). The timed
spans exclude the start-up of the Python process (importing skullvae), which is
printed separately; in the VAE modes the model's own imports (onnxruntime, or
torch and MONAI) and loading are timed, as a user waits for them too.

``complete_case`` runs its stages in order; only the preview is drawn beside them,
in a child forked at the start (``benchmarks/concurrency_savings.py``), so the
printed stage times add up to the wall time and a second core helps the preview.

Usage::

    python benchmarks/complete_speed.py [--mode mirror] [--engine torch] [--model NAME_OR_RUN] [--input FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "skullbreak_parietotemporal_001.nii.gz"


def _child_io(src: Path, work: Path) -> dict:
    from skullvae.io import read_volume, write_volume

    t0 = time.perf_counter()
    vol = read_volume(src)
    write_volume(vol, work / ("copy" + "".join(src.suffixes[-2:]) if src.name.endswith(".nii.gz") else "copy" + src.suffix))
    return {"seconds": time.perf_counter() - t0}


def _child_complete(src: Path, work: Path, mode: str, model: str | None, engine: str) -> dict:
    from skullvae.completion.pipeline import CompletionOptions, complete_case

    t0 = time.perf_counter()
    report = complete_case(src, work / "out", CompletionOptions(mode=mode, model=model, engine=engine))
    cold = time.perf_counter() - t0
    # The same case again in the same process with the model already loaded, as for
    # every case in batch mode (--input-dir loads the model once, before the cases).
    if mode != "mirror":
        from skullvae.completion.pipeline import load_completion_model, resolve_device

        model = load_completion_model(model, resolve_device("auto"), engine, mode)
    t1 = time.perf_counter()
    complete_case(src, work / "out_warm", CompletionOptions(mode=mode, model=model, engine=engine))
    return {"seconds": cold, "warm_seconds": time.perf_counter() - t1, "timings_s": report["timings_s"],
            "engine": report["engine"], "mode": report["mode"],
            "implant_cm3": report["implant"]["volume_cm3"], "faces": report["mesh"]["faces"]}


def _run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args, "--launched", repr(time.time())], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")))
    if proc.returncode != 0:
        sys.exit(f"child failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _synthetic_input(work: Path) -> Path:
    from skullvae.defects import inject_defect
    from skullvae.io import write_volume
    from skullvae.phantoms import synth_skull

    skull = synth_skull(0, shape=512, spacing=0.4)
    defective, _ = inject_defect(skull, "parietotemporal", 0)
    return write_volume(defective, work / "synthetic_parietotemporal_512.nii.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--input", type=Path, default=None)
    parser.add_argument("--engine", default="auto", help="auto (ONNX Runtime when the model has a current export), onnx or torch")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs of each side; the median ratio is reported")
    parser.add_argument("--child", choices=["io", "complete"], help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import skullvae.completion.pipeline  # noqa: F401  # (the I/O side needs less; both are outside the timed spans)

        startup = time.time() - args.launched
        out = _child_io(args.input, args.work) if args.child == "io" else _child_complete(args.input, args.work, args.mode, args.model, args.engine)
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        out["startup_s"] = startup
        print(json.dumps(out))
        return
    from skullvae.completion.pipeline import DEFAULT_MODE
    from skullvae.model.load import bundled_names

    mode = args.mode or DEFAULT_MODE
    if mode != "mirror" and args.model is None and not bundled_names():
        print(f"no bundled model and no --model: timing --mode mirror instead of {mode}")
        mode = "mirror"
    with tempfile.TemporaryDirectory(prefix="skullvae-bench-") as tmp:
        work = Path(tmp)
        src = args.input or (REAL if REAL.exists() else _synthetic_input(work))
        runs = []
        for i in range(args.repeat):  # alternate, so that a slow spell of the machine hits both sides
            (work / f"run{i}").mkdir()
            common = ["--input", str(src), "--work", str(work / f"run{i}"), "--mode", mode, "--engine", args.engine]
            common += ["--model", args.model] if args.model else []
            io = _run_child(["--child", "io", *common])
            comp = _run_child(["--child", "complete", *common])
            runs.append((comp["seconds"] / io["seconds"], io, comp))
    runs.sort(key=lambda r: r[0])
    ratio, io, comp = runs[len(runs) // 2]  # the median run
    print(f"input: {src}")
    engine = f" --engine {comp['engine']}" if comp.get("engine") else ""
    print(f"median of {len(runs)} runs -- read+write: {io['seconds']:.2f} s; complete --mode {mode}{engine}: "
          f"{comp['seconds']:.2f} s (stages: {', '.join(f'{k} {v:.2f}' for k, v in comp['timings_s'].items())})")
    print(f"process start-up (Python + importing skullvae, not included on either side): {comp['startup_s']:.2f} s")
    print(f"mode used: {comp['mode']}; implant {comp['implant_cm3']:.1f} cm³, STL {comp['faces']} faces")
    print(f"cold complete {comp['seconds']:.2f} s (target <= 10 s on the CPU for 512³)")
    print(f"ratio complete / (read+write) = {ratio:.2f}x; all runs: "
          f"{', '.join(f'{r[0]:.2f}x' for r in runs)}")
    warm = sorted(r[2]["warm_seconds"] / r[1]["seconds"] for r in runs)[len(runs) // 2]
    print(f"warm ratio (second case in the same process, as in batch mode), median = {warm:.2f}x")
    print(f"peak memory (maxrss) of the completion process = {max(r[2]['maxrss_mb'] for r in runs) / 1024:.2f} GB "
          f"(target <= 4 GB)")


if __name__ == "__main__":
    main()
