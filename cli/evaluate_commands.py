"""``skullvae evaluate``: complete every case of a manifest split and score the implants."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from skullvae_cli.complete_commands import PoseChoice

EVALUATE_HELP = """Complete every case of a manifest split as a user would and score the implants.

Writes OUT/scores.csv (one row per case × mode: DSC, bDSC, HD95 mm, rim gap, wall time), OUT/summary.md (per defect type × mode) and OUT/box_{dsc,bdsc,hd95}.png. Run it again with the same settings to continue an interrupted evaluation (scored cases are skipped).

Examples:

  skullvae evaluate --data DATA/manifest.json -o eval/ --modes auto,dev,mirror

  skullvae evaluate --data REAL/manifest.json --model runs/a -o eval_real/ --match-components

  skullvae evaluate --data DATA/manifest.json -o eval/ --modes auto,auto:norim --split all
"""


def evaluate(
    data: Path = typer.Option(..., "--data", help="Manifest JSON (skullvae synth, SkullBreak / SkullFix manifests, the real-skull benchmark)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (scores.csv, summary.md, box plots)."),
    model: Optional[str] = typer.Option(None, "--model", help="Run folder or bundled model name (default: the bundled model)."),
    modes: str = typer.Option("auto,dev,mirror", "--modes", help="Comma-separated modes (auto, dev, optimize, mirror); M:norim = mode M with --no-rim."),
    split: str = typer.Option("test", "--split", help="A split of the manifest, or 'all'."),
    defect_type_hint: bool = typer.Option(False, "--defect-type-hint", help="Pass each case's defect type (--defect-type), a hint users lack."),
    match_components: bool = typer.Option(False, "--match-components", help="Score only the implant pieces that overlap the ground truth (skulls with openings of their own)."),
    types: Optional[str] = typer.Option(None, "--types", help="Comma-separated defect types (default: all)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most this many skulls."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    gamma: float = typer.Option(1.0, "--gamma", help="Scale of the DEV vector."),
    steps: int = typer.Option(60, "--steps", min=1, help="optimize: Adam steps."),
    pose: PoseChoice = typer.Option(PoseChoice.auto, "--pose", help="auto (as complete: a scan stored upside down or face-back is completed upright) or keep."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start again in a folder that holds an evaluation."),
) -> None:
    """Score completion modes on a manifest (see examples below)."""
    from skullvae.completion.engine import load_completion_model, resolve_device
    from skullvae.data.manifest import load_manifest
    from skullvae.evaluation import evaluate as run_evaluation
    from skullvae.evaluation import evaluation_cases, mode_completers, parse_modes

    mode_list = parse_modes(modes)
    manifest = load_manifest(data)
    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    cases = evaluation_cases(manifest, split, type_list, limit)
    bases = {m.partition(":")[0] for m in mode_list}
    loaded = None
    if bases != {"mirror"}:
        engine = "torch" if "optimize" in bases else "auto"
        loaded = load_completion_model(model, resolve_device(device), engine, "optimize" if "optimize" in bases else "dev")
    settings = {"data": str(Path(data).resolve()), "split": split,
                "model": getattr(loaded, "model_id", None) if loaded is not None else "none (mirror only)",
                "model_path": str(getattr(loaded, "run_dir", "")) if loaded is not None else None,
                "defect_type_hint": defect_type_hint, "types": type_list, "limit": limit, "gamma": gamma, "pose": pose.value}
    completers = mode_completers(mode_list, loaded, defect_type_hint=defect_type_hint, gamma=gamma,
                                 optimize_steps=steps, pose=pose.value)
    rows = _run_with_progress(run_evaluation, cases, completers, output, settings, match_components, overwrite)
    _print_summary(rows, mode_list, {c.key for c in cases}, output)


def _run_with_progress(run, cases, completers, output, settings, match_components, overwrite):
    import logging
    import sys

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from skullvae_cli.console import make_console

    console = make_console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("evaluating", total=len(cases) * len(completers))

        def progress(done, total, case, mode, row):
            bar.update(task, completed=done, description=f"{case.skull_id} {case.defect_type} {mode}")
            if not console.is_terminal and row is not None:  # logs: one line per scored case
                print(f"[{done}/{total}] {case.skull_id} {case.defect_type} {mode}: DSC {row['dsc']:.3f} "
                      f"bDSC {row['bdsc']:.3f} HD95 {row['hd95']:.2f} mm, {row['wall_s']:.1f} s"
                      + (f" ({row['error']})" if row["error"] else ""), file=sys.stderr, flush=True)

        # "the model reconstructs this skull poorly" would repeat for every case of an unfamiliar data set
        modes_log = logging.getLogger("skullvae.completion.modes")
        level = modes_log.level
        modes_log.setLevel(logging.ERROR)
        try:
            return run(cases, completers, output, settings=settings, match_components=match_components,
                       overwrite=overwrite, progress=progress)
        finally:
            modes_log.setLevel(level)


def _print_summary(rows, modes, keys, output: Path) -> None:
    import numpy as np

    from skullvae_cli.console import make_console

    console = make_console()
    for m in modes:
        rs = [r for r in rows if r["mode"] == m and (r["skull_id"], r["defect_type"]) in keys]
        hd = [r["hd95"] for r in rs if math.isfinite(r["hd95"])]
        console.print(f"{m}: {len(rs)} cases, DSC {np.mean([r['dsc'] for r in rs]):.3f}, "
                      f"bDSC {np.mean([r['bdsc'] for r in rs]):.3f}, "
                      f"HD95 median {np.median([r['hd95'] for r in rs]):.2f} mm"
                      + (f" ({len(rs) - len(hd)} without implant)" if len(hd) < len(rs) else ""),
                      markup=False, highlight=False)
    console.print(f"wrote {output / 'scores.csv'}, {output / 'summary.md'} and box plots", markup=False,
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``evaluate``."""
    app.command("evaluate", help=EVALUATE_HELP)(evaluate)

