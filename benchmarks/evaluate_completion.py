"""Implant DSC / bDSC / HD95 and rim gap per defect type for each completion mode (Markdown table).

Completes every case of a manifest's split (written by ``skullvae synth`` or
``benchmarks/make_real_benchmark.py``) in memory, exactly as ``skullvae complete``
does (:func:`skullvae.completion.pipeline.make_implant`), and scores every implant
against the ground truth with :func:`skullvae.metrics.evaluate_implant`. No defect
type is passed unless ``--defect-type-hint``. A mode ``M:norim`` is mode ``M``
without the rim step (``--no-rim``). A case whose completion finds no implant
scores DSC = bDSC = 0 and HD95 = inf (marked * in the means).

Usage::

    python benchmarks/evaluate_completion.py data/synthetic/manifest.json \\
        --modes auto,dev,mirror,auto:norim,dev:norim,mirror:norim [--split test] [--limit 10]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from skullvae.completion.pipeline import (CompletionOptions, load_completion_model, make_implant, resolve_device,
                                          run_completion)
from skullvae.errors import SkullVAEError
from skullvae.io import read_volume
from skullvae.metrics.implant_scores import evaluate_implant
from skullvae.preprocessing.pipeline import load_mask


def _matching_components(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The connected pieces of ``pred`` that overlap ``gt`` (the others fill openings the case did not cut)."""
    from scipy import ndimage

    labels, count = ndimage.label(pred)
    if count <= 1:
        return pred
    hit = np.unique(labels[(labels > 0) & (gt > 0)])
    return np.isin(labels, hit).astype(np.uint8)


def score_case(defective_path: Path, implant_path: Path, opts: CompletionOptions, model,
               match_components: bool = False) -> dict:
    """Complete one defective skull in memory and score its implant.

    With ``match_components``, only the implant pieces that overlap the ground truth are
    scored: for skulls that had openings before the benchmark cut its defect (the real
    SkullBreak sample's own defect), whose implants are right but not this case's.
    """
    volume = read_volume(defective_path)
    gt = read_volume(implant_path)
    case = load_mask(volume, opts.hu_threshold)
    if opts.pose == "auto":
        case.upright()  # as complete does: the pose stage
    gap = {"median": float("nan"), "p95": float("nan")}
    defects = 0
    try:
        completion = run_completion(case, opts, model)
        implant, rim = make_implant(case, completion, opts, model)
        pred = implant.full(np.uint8)
        if match_components:
            pred = _matching_components(pred, gt.array)
        if rim is not None:
            gap, defects = rim.info["rim_gap_mm"], rim.info["defects_found"]
    except SkullVAEError:
        pred = np.zeros(volume.shape, np.uint8)
    scores = evaluate_implant(pred, gt.array, case.mask.array, spacing=volume.spacing)
    scores.update(failed=float(not pred.any()), gap_median=gap["median"], gap_p95=gap["p95"], defects=defects)
    return scores


def _fmt(values: list[float], digits: int = 3) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "inf"
    text = f"{np.mean(finite):.{digits}f}"
    return text + ("*" if len(finite) < len(values) else "")


def markdown_table(results: dict, modes: list[str], types: list[str]) -> str:
    """``results[mode][type] -> list of score dicts`` as one Markdown table."""
    head = "| defect type | n | " + " | ".join(f"{m} DSC / bDSC / HD95 mm" for m in modes) + " |"
    sep = "|" + "---|" * (2 + len(modes))
    lines = [head, sep]
    for t in types + ["**mean**"]:
        row = [t]
        first = None
        for m in modes:
            scores = results[m].get(t, []) if t != "**mean**" else [s for v in results[m].values() for s in v]
            first = first if first is not None else len(scores)
            row.append(" / ".join([_fmt([s["dsc"] for s in scores]), _fmt([s["bdsc"] for s in scores]),
                                   _fmt([s["hd95"] for s in scores], 2)]))
        row.insert(1, str(first or 0))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--model", default=None, help="run folder or bundled model name")
    parser.add_argument("--modes", default="auto,dev,mirror,auto:norim,dev:norim,mirror:norim",
                        help="comma-separated; M:norim = mode M with --no-rim")
    parser.add_argument("--defect-type-hint", action="store_true", help="pass each case's defect type (a hint users lack)")
    parser.add_argument("--split", default="test", help="a split name, or 'all'")
    parser.add_argument("--limit", type=int, default=None, help="at most this many skulls")
    parser.add_argument("--match-components", action="store_true",
                        help="score only implant pieces that overlap the ground truth (skulls with earlier openings)")
    parser.add_argument("--types", default=None, help="comma-separated defect types (default: all)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--gamma", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=60, help="optimize: Adam steps")
    parser.add_argument("--json", type=Path, default=None, help="also write all scores as JSON")
    args = parser.parse_args(argv)

    from skullvae.data.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    pairs = [(c, t) for c, t in manifest.pairs(None if args.split == "all" else args.split) if t in c.implant]
    if args.types:
        wanted = set(args.types.split(","))
        pairs = [(c, t) for c, t in pairs if t in wanted]
    if args.limit:
        keep = {c.skull_id for c, _ in pairs[: 10**9]}
        keep = sorted(keep)[: args.limit]
        pairs = [(c, t) for c, t in pairs if c.skull_id in keep]
    if not pairs:
        raise SkullVAEError(f"no {args.split} cases with ground-truth implants in {args.manifest}")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    model = None
    bases = [m.split(":")[0] for m in modes]
    if any(b != "mirror" for b in bases):
        # one model for all modes: optimize needs torch (gradients), dev alone runs on ONNX Runtime
        engine = "torch" if "optimize" in bases else "auto"
        model = load_completion_model(args.model, resolve_device(args.device), engine, "optimize" if "optimize" in bases else "dev")
    results: dict = {m: defaultdict(list) for m in modes}
    started = time.perf_counter()
    for i, (case, dtype) in enumerate(pairs, 1):
        for mode in modes:
            base, _, flag = mode.partition(":")
            opts = CompletionOptions(mode=base, model=model, defect_type=dtype if args.defect_type_hint else None,
                                     gamma=args.gamma, optimize_steps=args.steps, rim=flag != "norim")
            scores = score_case(case.defective[dtype], case.implant[dtype], opts, model, args.match_components)
            results[mode][dtype].append(scores)
            print(f"[{i}/{len(pairs)}] {case.skull_id} {dtype} {mode}: DSC {scores['dsc']:.3f} "
                  f"bDSC {scores['bdsc']:.3f} HD95 {scores['hd95']:.2f} rim gap {scores['gap_median']:.2f}/{scores['gap_p95']:.2f} "
                  f"defects {scores['defects']}", file=sys.stderr, flush=True)
    types = [t for t in manifest.defect_types if any(t in results[m] for m in modes)]
    print(f"\nModel: {getattr(model, 'model_id', None)}; {len(pairs)} (skull, defect) pairs from the "
          f"'{args.split}' split of {args.manifest}; {time.perf_counter() - started:.0f} s. "
          f"Defect type hint: {'yes' if args.defect_type_hint else 'no'}. "
          f"{'Only implant pieces overlapping the ground truth scored. ' if args.match_components else ''}"
          f"HD95 averages skip failed cases (marked *).\n")
    print(markdown_table(results, modes, types))
    gaps = {m: [s for v in results[m].values() for s in v if math.isfinite(s["gap_median"])] for m in modes}
    for m in modes:
        if gaps[m]:
            print(f"\n{m}: rim gap median of cases {np.median([s['gap_median'] for s in gaps[m]]):.2f} mm, "
                  f"95th percentile (median of cases) {np.median([s['gap_p95'] for s in gaps[m]]):.2f} mm")
    if args.json:
        args.json.write_text(json.dumps({m: dict(v) for m, v in results.items()}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SkullVAEError as exc:
        print(f"evaluate_completion: error: {exc}", file=sys.stderr)
        sys.exit(2)
