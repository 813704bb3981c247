"""What does each thread or child process of ``skullvae complete`` save?

``complete_case`` runs some jobs beside the main thread: the input's integrity check
(a forked child), the preview (a forked child), the model load and the later stages'
imports (threads), and the volume writes (a thread while the implant is meshed). The
project keeps one only where it saves at least 15 % of a case's wall time. This script
completes the same case in fresh processes with all jobs concurrent, with each job in
turn run in the main thread (``SKULLVAE_SERIAL=<job>``), and with all of them serial,
``--repeat`` times in alternation, and prints the median wall time and each job's
saving in percent of the concurrent time.

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

JOBS = ("skullvae-check", "skullvae-preview", "skullvae-model", "skullvae-imports", "skullvae-write-volumes")
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
    args = parser.parse_args(argv)
    if args.input is None or not args.input.exists():
        print("concurrency_savings: error: no input (pass --input FILE; ../shared is not beside the checkout)",
              file=sys.stderr)
        return 2
    settings = ["", *JOBS, "all"]
    times: dict[str, list[float]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for s in settings:
                times[s].append(_run(args.input, Path(tmp) / "out", args.mode, s))
                print(f"[{r + 1}/{args.repeat}] serial={s or 'none'}: {times[s][-1]:.2f} s", file=sys.stderr, flush=True)
    med = {s: sorted(v)[len(v) // 2] for s, v in times.items()}
    base = med[""]
    print(f"\n{args.input.name}, --mode {args.mode}, median of {args.repeat} (fresh processes, alternating)\n")
    print("| run in the main thread | wall s | saving of the job (% of the concurrent case) |")
    print("| --- | --- | --- |")
    print(f"| nothing (all jobs concurrent) | {base:.2f} | |")
    for s in settings[1:]:
        print(f"| {s} | {med[s]:.2f} | {100.0 * (med[s] - base) / base:+.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
