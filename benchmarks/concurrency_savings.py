"""What does each thread or child process of ``skullvae complete`` save?

``complete_case`` ran five jobs beside the main thread: the input's integrity check
and the preview (forked children), the model load and the later stages' imports
(threads), and the volume writes (a thread while the implant was meshed). The
project keeps one only where it saves at least 15 % of a case's wall time; measured
with this script (README), only the preview did, and it is the one job left
(:data:`JOBS`). This script
completes the same case in fresh processes, ``--repeat`` times in alternation, and
prints the median wall times:

* with all jobs concurrent, with each job in turn run in the main thread
  (``SKULLVAE_SERIAL=<job>``: what removing that one job costs), and with all serial;
* with ``--alone``: all serial, and all serial but one job (what that job saves by itself).

Usage::

    python benchmarks/concurrency_savings.py [--input FILE] [--mode auto] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

JOBS = ("skullvae-preview",)  # measured before, and removed: skullvae-check, -model, -imports, -write-volumes (see README)
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "skullbreak_parietotemporal_001.nii.gz"

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from skullvae.completion.pipeline import CompletionOptions, complete_case
complete_case(sys.argv[1], sys.argv[2], CompletionOptions(mode=sys.argv[3]), overwrite=True)
print(json.dumps({"wall_s": time.perf_counter() - t0}))
"""


def _run(input_path: Path, out: Path, mode: str, serial: str) -> float:
    env = dict(os.environ, SKULLVAE_SERIAL=serial)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(input_path), str(out), mode], env=env,
                          capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["wall_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=REAL if REAL.exists() else None)
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--alone", action="store_true", help="each job alone against all serial")
    args = parser.parse_args(argv)
    if args.input is None or not args.input.exists():
        print("concurrency_savings: error: no input (pass --input FILE; ../shared is not beside the checkout)",
              file=sys.stderr)
        return 2
    settings = ["all", *(",".join(j for j in JOBS if j != job) for job in JOBS)] if args.alone else ["", *JOBS, "all"]
    times: dict[str, list[float]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for s in settings:
                times[s].append(_run(args.input, Path(tmp) / "out", args.mode, s))
                print(f"[{r + 1}/{args.repeat}] serial={s or 'none'}: {times[s][-1]:.2f} s", file=sys.stderr, flush=True)
    med = {s: sorted(v)[len(v) // 2] for s, v in times.items()}
    print(f"\n{args.input.name}, --mode {args.mode}, median of {args.repeat} (fresh processes, alternating)\n")
    if args.alone:
        base = med["all"]
        print("| concurrent | wall s | saving of the job alone (% of the all-serial case) |")
        print("| --- | --- | --- |")
        print(f"| nothing (all serial) | {base:.2f} | |")
        for job, s in zip(JOBS, settings[1:]):
            print(f"| only {job} | {med[s]:.2f} | {100.0 * (base - med[s]) / base:+.1f} % |")
        return 0
    base = med[""]
    print("| run in the main thread | wall s | saving of the job (% of the concurrent case) |")
    print("| --- | --- | --- |")
    print(f"| nothing (all jobs concurrent) | {base:.2f} | |")
    for s in settings[1:]:
        print(f"| {s} | {med[s]:.2f} | {100.0 * (med[s] - base) / base:+.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
