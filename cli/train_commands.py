"""CLI: ``skullvae train``, ``skullvae sample``, ``skullvae interpolate``."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from skullvae.errors import SkullVAEError


class ObjectiveName(str, Enum):
    beta = "beta"
    sigma = "sigma"
    balanced = "balanced"
    mog = "mog"


TRAIN_HELP = """Train the two-stage VAE.

[bold]Stage 1[/bold] trains encoder + decoder with an objective; [bold]stage 2[/bold] freezes the encoder and trains a
fresh decoder on samples z ~ q(z|x), then stores posterior statistics and DEV vectors.

Examples:

  skullvae train --stage 1 --data DATA/manifest.json --out runs/s64 --epochs 40

  skullvae train --stage 2 --run runs/s64 --epochs 30

  skullvae train --stage 1 --data DATA/manifest.json --out runs/s64 --resume

  torchrun --nproc_per_node 2 -m skullvae_cli train --stage 1 --data DATA/manifest.json --out runs/ddp

  torchrun --nproc_per_node 2 -m skullvae_cli train --stage 2 --out runs/ddp   (torchrun would eat --run)
"""


def _parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise SkullVAEError(f"{what} must be comma-separated integers, got {text!r}") from None


def train(
    stage: int = typer.Option(..., "--stage", help="1 (VAE) or 2 (decoupled decoder)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Dataset manifest JSON (stage 1)."),
    out: Optional[Path] = typer.Option(None, "--out", help="New run folder (stage 1)."),
    run: Optional[Path] = typer.Option(None, "--run", help="Existing run folder (stage 2; --out also accepted)."),
    objective: Optional[ObjectiveName] = typer.Option(None, "--objective", help="Stage-1 objective (default beta)."),
    beta: Optional[float] = typer.Option(None, "--beta", help="KL weight of the beta objective (default 100)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Total epochs (default 40); with --resume: keep the run's, or a larger total to extend it."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Default 4."),
    lr: Optional[float] = typer.Option(None, "--lr", min=0.0, help="Peak learning rate (default 0.002)."),
    grid: Optional[str] = typer.Option(None, "--grid", help="Model grid: N or D,H,W (default 64)."),
    voxel_mm: Optional[float] = typer.Option(None, "--voxel-mm", help="Model voxel size (default: fit the largest skull)."),
    latent_size: Optional[int] = typer.Option(None, "--latent-size", min=1, help="Default 32."),
    channels: Optional[str] = typer.Option(None, "--channels", help="Encoder channels per level (default 8,16,32,64)."),
    res_units: Optional[int] = typer.Option(None, "--res-units", min=0, help="Residual units per level (default 0)."),
    norm: Optional[str] = typer.Option(None, "--norm", help="instance, batch, group or none (default instance)."),
    shift: Optional[int] = typer.Option(None, "--shift", min=0, help="Augmentation: random shift up to this many voxels (default 2)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="bf16 autocast on CUDA."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    workers: int = typer.Option(0, "--workers", min=0, help="DataLoader worker processes."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run exactly (its stored settings; only a larger --epochs may be given)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Default 0."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    onnx: bool = typer.Option(True, "--onnx/--no-onnx", help="Stage 2: export RUN/onnx/ for fast CPU completion."),
) -> None:
    """Train stage 1 or stage 2 (see examples below)."""
    from skullvae_cli.console import make_console

    from skullvae.training import LoopSettings, train_stage1, train_stage2
    from skullvae.training.common import resolve_device

    given = {"objective": objective.value if objective is not None else None, "beta": beta, "epochs": epochs,
             "batch_size": batch_size, "lr": lr, "voxel_mm": voxel_mm, "latent_size": latent_size,
             "grid": _parse_ints(grid, "--grid") if grid is not None else None,
             "channels": _parse_ints(channels, "--channels") if channels is not None else None,
             "num_res_units": res_units, "norm": norm, "shift": shift, "seed": seed,
             "data": str(data.resolve()) if data is not None else None}
    requested = {k: v for k, v in given.items() if v is not None}  # what was given, for --resume
    if stage == 2:
        allowed = {"epochs", "batch_size", "lr", "seed"}
        ignored = sorted(set(requested) - allowed)
        if ignored:
            flags = ", ".join("--" + k.replace("_", "-").replace("num-res-units", "res-units") for k in ignored)
            raise SkullVAEError(f"stage 2 takes its architecture, grid and data from the run; drop {flags}")
    objective = objective or ObjectiveName.beta
    settings = LoopSettings(epochs=epochs or 40, batch_size=batch_size or 4, lr=2e-3 if lr is None else lr,
                            seed=seed or 0, device=resolve_device(device),
                            amp=amp, compile=compile, workers=workers, progress=not quiet)
    console = make_console(stderr=True)
    grid = grid or "64"
    channels = channels or "8,16,32,64"
    if stage == 1:
        if out is None:
            raise SkullVAEError("--stage 1 needs --out RUN_DIR")
        if data is None and not resume:
            raise SkullVAEError("--stage 1 needs --data MANIFEST")
        if data is not None and data.suffix.lower() in (".pt", ".pth", ".ckpt"):
            raise SkullVAEError(f"--data must be a manifest JSON, got a pickled checkpoint {data.name}")
        grid_t = _parse_ints(grid, "--grid")
        summary = train_stage1(data, out, objective=objective.value,
                               objective_params={"beta": beta} if objective == ObjectiveName.beta else {},
                               grid=grid_t if len(grid_t) == 3 else grid_t[0], voxel_mm=voxel_mm,
                               latent_size=latent_size or 32, channels=_parse_ints(channels, "--channels"),
                               norm=norm or "instance", num_res_units=res_units or 0, shift=2 if shift is None else shift,
                               settings=settings, resume=resume, requested=requested)
    elif stage == 2:
        run_dir = run or out
        if run_dir is None:
            raise SkullVAEError("--stage 2 needs --run RUN_DIR (a folder with stage-1 weights)")
        if not run_dir.is_dir():
            raise SkullVAEError(f"run folder not found: {run_dir}")
        summary = train_stage2(run_dir, settings=settings, resume=resume, export_onnx=onnx, requested=requested)
    else:
        raise SkullVAEError(f"--stage must be 1 or 2, got {stage}")
    final = summary.get("final", {})
    msg = _epochs_message(stage, summary)
    if "val_dice_complete" in final:
        msg += f", held-out Dice (complete) {final['val_dice_complete']:.3f}"
    if "latent" in summary:
        msg += f", KL(q(z)||N(0,I)) ≈ {summary['latent']['kl_moment_matched']:.2f} nats (moment-matched)"
    if str(summary.get("onnx", "")).startswith("failed"):
        msg += "; ONNX export failed (see the warning above)"
    elif summary.get("onnx"):
        msg += f"; ONNX export in {summary['onnx']}"
    if int(os.environ.get("RANK", "0")) == 0:
        console.print(msg)


def _epochs_message(stage: int, summary: dict) -> str:
    """``stage 1: epochs 4-80 of 80 in 52 s`` (what ran in this call, not the run's total)."""
    done, before = int(summary.get("epochs_done", 0)), int(summary.get("epochs_before", 0))
    total = int(summary.get("epochs_total", done))
    if done == before:
        return f"stage {stage}: already finished ({done} of {total} epochs), nothing to train " \
               f"(pass --epochs N > {total} with --resume to extend it)"
    ran = f"epochs {before + 1}–{done}" if before else f"{done} epochs"
    return f"stage {stage}: {ran} of {total} in {summary.get('train_s', 0):.0f} s"


def sample(
    run: Path = typer.Option(..., "--run", help="Run folder or bundled model name."),
    n: int = typer.Option(8, "--n", min=1, max=256, help="Number of draws."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    seed: int = typer.Option(0, "--seed"),
    aggregate: bool = typer.Option(False, "--aggregate", help="Draw from the aggregated-posterior Gaussian instead of N(0, I)."),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Decode draws z ~ N(0, I) into volumes plus a montage PNG.

    Example: skullvae sample --run synthetic-64 --n 8 -o samples/ [--aggregate]
    """
    from skullvae.latent.generate import sample_volumes

    paths = sample_volumes(str(run), n, out, seed=seed, overwrite=overwrite, aggregate=aggregate)
    typer.echo(f"wrote {len(paths) - 1} volumes and {paths[-1]}")


def interpolate(
    a: Path = typer.Argument(..., help="First skull mask."),
    b: Path = typer.Argument(..., help="Second skull mask."),
    run: Path = typer.Option(..., "--run", help="Run folder or bundled model name."),
    steps: int = typer.Option(5, "--steps", min=2, max=64),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Decode the latent path between two skulls (each in its own frame).

    Example: skullvae interpolate --run runs/s64 a.nii.gz b.nii.gz --steps 7 -o path/
    """
    from skullvae.latent.generate import interpolate_volumes

    paths = interpolate_volumes(str(run), a, b, steps, out, overwrite=overwrite)
    typer.echo(f"wrote {len(paths) - 1} volumes and {paths[-1]}")


def export_onnx(
    run: Path = typer.Argument(..., help="Run folder (after stage 2) or bundled model name."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing export that is out of date."),
) -> None:
    """Export a run to RUN/onnx/ so that complete runs on ONNX Runtime (CPU, starts in ~0.1 s).

    Example: skullvae export-onnx runs/s64
    """
    from skullvae.model.locate import resolve_run_dir
    from skullvae.model.onnx_export import export_onnx as export
    from skullvae.model.onnx_model import onnx_problem, read_manifest
    from skullvae.model.run_layout import RunLayout

    run_dir = resolve_run_dir(run)
    layout = RunLayout(run_dir)
    problem = onnx_problem(run_dir) if layout.onnx_dir.exists() else "missing"
    if problem is None:
        typer.echo(f"{layout.onnx_dir} is up to date with the run's weights; nothing to do")
        return
    if layout.onnx_dir.exists() and not overwrite:
        raise SkullVAEError(f"{problem} (pass --overwrite to export again)")
    folder = export(run_dir)
    diffs = read_manifest(layout)["check_max_abs_diff"]
    typer.echo(f"wrote {folder}: ONNX Runtime vs torch max |Δprobability| {diffs['probability']:.1e}, "
               f"|Δmu| {diffs['mu']:.1e}")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``export-onnx``, ``sample`` and ``interpolate``."""
    app.command("train", help=TRAIN_HELP)(train)
    app.command("export-onnx")(export_onnx)
    app.command("sample")(sample)
    app.command("interpolate")(interpolate)
