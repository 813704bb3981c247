"""``make demo``: run the main job end to end with the real commands.

Synthesises skulls with defects, inspects and previews them, completes a defective
skull with the bundled model, scores the implant against the known ground truth,
samples new skulls from the model, and, when ``../shared`` is beside the checkout,
completes the real SkullBreak case.
Every step is the ``skullvae`` command a user would type.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def _run(args: list[str]) -> None:
    print(f"\n$ skullvae {shlex.join(args)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "skullvae_cli", *args])
    if proc.returncode != 0:
        print(f"demo step failed (exit {proc.returncode})", file=sys.stderr)
        sys.exit(proc.returncode)
    print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)


def main(out: str = "demo_out") -> None:
    """Run the demo into ``out``."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / "synthetic"
    case = "skull_000.nii.gz"
    _run(["synth", str(data), "--n", "2", "--seed", "0", "--shape", "128", "--spacing", "1.6", "--overwrite"])
    _run(["info", str(data / "complete" / case)])
    _run([
        "preview", str(data / "defective" / "parietotemporal" / case),
        "--overlay", str(data / "implant" / "parietotemporal" / case), "--label", "ground-truth implant",
        "-o", str(out_dir / "synthetic_case.png"), "--overwrite",
    ])
    done = out_dir / "completed_skull_000"
    _run([
        "complete", str(data / "defective" / "parietotemporal" / case), "-o", str(done), "--overwrite",
    ])  # no --defect-type: the rim step finds the defect
    _run([
        "metrics", str(done / "implant.nii.gz"), str(data / "implant" / "parietotemporal" / case),
        "--defective", str(data / "defective" / "parietotemporal" / case),
    ])
    _run(["sample", "--run", "synthetic-64", "--n", "4", "--aggregate", "-o", str(out_dir / "samples"), "--overwrite"])
    real = REAL / "skullbreak_parietotemporal_001.nii.gz"
    if real.exists():
        # The bundled model has seen synthetic skulls only and does not fit this real
        # skull (see README): the default mode, auto, notices and leaves the model out; the
        # rim step builds the implant from the skull's own rim (and its mirror image).
        _run(["info", str(real)])
        _run(["complete", str(real), "-o", str(out_dir / "real_skullbreak"), "--overwrite"])
    else:
        print(f"\n(skipping the real SkullBreak case: {real} not found)")
    print(f"\nDemo outputs are in {out_dir.resolve()}")
    for png in sorted(out_dir.rglob("*.png")):
        print(f"  {png}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
