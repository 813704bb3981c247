"""Benchmark: synthetic skulls per second at 256³ (0.8 mm), one skull, one run.

Usage: ``python benchmarks/synth_speed.py [--shape 256] [--spacing 0.8] [--seed 0]``
(run with ``OMP_NUM_THREADS=1`` for the one-core figure).
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, default=256)
    parser.add_argument("--spacing", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from skullvae.defects import DEFECT_TYPES, inject_defect
    from skullvae.phantoms import synth_skull

    synth_skull(args.seed + 1, 64, 3.2)  # warm-up (imports, BLAS)
    start = time.perf_counter()
    skull = synth_skull(args.seed, args.shape, args.spacing)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    for defect_type in DEFECT_TYPES:
        inject_defect(skull, defect_type, args.seed)
    defect_seconds = (time.perf_counter() - start) / len(DEFECT_TYPES)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"synth_skull {args.shape}^3 @ {args.spacing} mm (OMP_NUM_THREADS={threads})")
    print(f"seconds per skull: {seconds:.2f}")
    print(f"skulls per second: {1.0 / seconds:.3f}")
    print(f"seconds per defect (mean of {len(DEFECT_TYPES)} types): {defect_seconds:.2f}")


if __name__ == "__main__":
    main()
