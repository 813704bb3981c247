"""``skullvae complete`` (one case or a folder of cases) and ``skullvae export-stl``."""

from __future__ import annotations

import os
import shutil
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from skullvae.errors import SkullVAEError


class Mode(str, Enum):
    auto = "auto"
    dev = "dev"
    optimize = "optimize"
    mirror = "mirror"


class Engine(str, Enum):
    auto = "auto"
    onnx = "onnx"
    torch = "torch"


class Align(str, Enum):
    none = "none"
    axes = "axes"
    register = "register"


class PoseChoice(str, Enum):
    auto = "auto"
    keep = "keep"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _default_mode() -> Mode:
    from skullvae.completion.pipeline import DEFAULT_MODE

    return Mode(DEFAULT_MODE)


def complete(
    input_path: Optional[Path] = typer.Argument(None, metavar="INPUT", help="Defective skull: mask or CT in HU (NIfTI, NRRD, MHA, or a DICOM folder)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder (default ./<input stem>_skullvae/)."),
    input_dir: Optional[Path] = typer.Option(None, "--input-dir", help="Batch: complete every volume in this folder."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", help="Batch: one sub-folder per input name (and implants/<input name>)."),
    mode: Mode = typer.Option(_default_mode().value, "--mode", help="auto (dev, or mirror when the model reconstructs this skull with Dice < 0.7: a skull unlike its training data), dev (latent + DEV), optimize (latent search) or mirror (left-right reflection baseline)."),
    model: Optional[str] = typer.Option(None, "--model", help="Run folder from 'skullvae train' or a bundled model name (default: the bundled model)."),
    device: Device = typer.Option(Device.auto, "--device", help="Device for the model (cuda needs --engine torch or auto)."),
    engine: Engine = typer.Option(Engine.auto, "--engine", help="onnx (ONNX Runtime, CPU, fast start), torch, or auto: onnx on the CPU when the run has a current export, except --mode optimize."),
    defect_type: Optional[str] = typer.Option(None, "--defect-type", help="Optional hint: defect type for its DEV vector (default: the pooled DEV). The rim step finds the defects without it."),
    rim: bool = typer.Option(True, "--rim/--no-rim", help="Rim step (default): find every defect, correct the prior's surfaces to the bone around it and build the implant on the input's grid. --no-rim: completed skull minus bone."),
    gamma: float = typer.Option(1.0, "--gamma", help="Scale of the DEV vector."),
    samples: int = typer.Option(1, "--samples", min=1, help="Decode K latents around the posterior and write implant_probability (K > 1)."),
    align: Align = typer.Option(Align.none, "--align", help="Rigid alignment to the model's pose: axes (the normal of the skull's left-right symmetry plane becomes the L axis) or register (rigid registration to the model's mean skull, from three starts)."),
    pose: PoseChoice = typer.Option(PoseChoice.auto, "--pose", help="auto: a scan stored upside down or face-back (found from the anatomy) is completed upright, outputs stay on the input grid; keep: use the header's axes as they are."),
    hu_threshold: float = typer.Option(300.0, "--hu-threshold", help="Bone threshold for CT input (Hounsfield units)."),
    label: Optional[int] = typer.Option(None, "--label", min=0, help="Bone label of a label-map input (voxels equal to it are bone)."),
    smooth: int = typer.Option(10, "--smooth", min=0, help="Taubin smoothing iterations of the STL."),
    decimate: Optional[float] = typer.Option(None, "--decimate", help="Keep about this fraction of the STL faces (0-1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty output folder."),
) -> None:
    """Complete a defective skull: completed skull, implant, watertight STL (LPS mm), preview and report."""
    from skullvae.completion.pipeline import CompletionOptions

    opts = CompletionOptions(mode=mode.value, model=model, device=device.value, engine=engine.value,
                             defect_type=defect_type,
                             gamma=gamma, samples=samples, align=align.value, hu_threshold=hu_threshold, label=label,
                             smooth=smooth, decimate=decimate, rim=rim, pose=pose.value)
    if input_dir is not None or output_dir is not None:
        if input_path is not None or output is not None:
            raise SkullVAEError("use either INPUT [-o OUT] or --input-dir IN --output-dir OUT, not both")
        if input_dir is None or output_dir is None:
            raise SkullVAEError("batch mode needs both --input-dir and --output-dir")
        failed = _complete_batch(input_dir, output_dir, opts, overwrite)
        raise typer.Exit(1 if failed else 0)
    if input_path is None:
        raise SkullVAEError("missing INPUT (or --input-dir/--output-dir for a batch)")
    report = _complete_one(input_path, output, opts, overwrite, show_progress=True)
    _print_summary(report)


def _complete_one(input_path: Path, output: Optional[Path], opts, overwrite: bool, show_progress: bool) -> dict:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skullvae.completion.pipeline import complete_case
    from skullvae_cli.console import make_console

    stages = ["load_model", "read", "preprocess", "pose", "prior", "implant", "mesh", "write"]
    if not show_progress:
        return complete_case(input_path, output, opts, overwrite=overwrite)
    console = make_console(stderr=True)  # a bar only on a terminal: nothing stray in logs and pipes
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True, console=console,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("reading", total=len(stages))

        def step(name: str) -> None:
            bar.update(task, completed=stages.index(name), description=f"{name}")

        report = complete_case(input_path, output, opts, overwrite=overwrite, progress=step)
        bar.update(task, completed=len(stages))
    return report


def _print_summary(report: dict) -> None:
    from skullvae_cli.console import make_console

    console = make_console()
    imp, mesh = report["implant"], report["mesh"]
    mode = report["mode"]
    fallback = report.get("completion", {}).get("fallback")
    if fallback:
        instead = "not used as a prior" if report.get("completion", {}).get("rim") else "mirror baseline"
        mode = (f"auto (the model fits this skull with Dice {fallback['input_fit_dice']:.2f} < "
                f"{fallback['min_input_fit_dice']}: {instead})")
    console.print(
        f"[bold]{mode}[/bold] completion → {report['output_dir']}\n"
        f"  implant {imp['volume_cm3']:.2f} cm³, size {' × '.join(f'{s:.0f}' for s in imp['size_mm'])} mm; "
        f"STL {mesh['faces']} faces, watertight={mesh['watertight']}; {report['timings_s']['total']:.1f} s"
    )
    rim = report.get("completion", {}).get("rim")
    if rim:
        gap = rim["rim_gap_mm"]
        console.print(f"  {rim['defects_found']} defect(s) found; prior: {rim['prior']}; "
                      f"rim gap median {gap['median']:.2f} mm, 95th percentile {gap['p95']:.2f} mm")
        bone = rim.get("bone_prior") or {}
        if bone.get("defects"):
            console.print(f"  {len(bone['defects'])} defect(s) not a vault shell (rim error > {bone['max_shell_error_mm']} mm): "
                          f"implant = the model's completed skull ({bone['skull']}) minus the bone")
        if bone.get("unfilled"):
            console.print(f"  {len(bone['unfilled'])} opening(s) not a vault shell left unfilled: "
                          "the model's completed skull has no bone there either")


def _batch_inputs(input_dir: Path) -> list[Path]:
    from skullvae.io.formats import VOLUME_EXTENSIONS

    if not input_dir.is_dir():
        raise SkullVAEError(f"no such folder: {input_dir}")
    items = []
    for p in sorted(input_dir.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.name.lower().endswith(VOLUME_EXTENSIONS) and not p.name.lower().endswith(".raw"):
            items.append(p)
        elif p.is_dir() and any(q.is_file() for q in p.iterdir()):
            items.append(p)  # a DICOM series folder
    if not items:
        raise SkullVAEError(f"no volumes found in {input_dir}")
    return items


def _complete_batch(input_dir: Path, output_dir: Path, opts, overwrite: bool) -> int:
    from skullvae_cli.console import make_console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from skullvae.completion.engine import load_completion_model, resolve_device
    from skullvae.io.formats import volume_stem
    from skullvae_cli.errors import case_error_message

    inputs = _batch_inputs(input_dir)
    if opts.mode != "mirror":
        opts.model = load_completion_model(opts.model, resolve_device(opts.device), opts.engine, opts.mode)
    console = make_console(stderr=True)
    rows = []
    implants = output_dir / "implants"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("completing", total=len(inputs))
        for path in inputs:
            bar.update(task, description=path.name)
            case_dir = output_dir / volume_stem(path)
            try:
                report = _complete_one(path, case_dir, opts, overwrite, show_progress=False)
                _link_implant(case_dir / report["outputs"]["implant"], implants / _implant_name(path, report), overwrite)
                rows.append((path.name, "ok", f"{report['implant']['volume_cm3']:.2f}", f"{report['timings_s']['total']:.1f}"))
            except Exception as exc:  # noqa: BLE001 - one broken case must not stop the batch
                reason = case_error_message(exc)
                rows.append((path.name, f"failed: {reason}", "", ""))
                console.print(f"skullvae: error: {path.name}: {reason}", markup=False, highlight=False)
            bar.advance(task)
    table = Table(title=f"skullvae complete: {len(inputs)} cases → {output_dir}")
    for col in ("input", "status", "implant cm³", "time s"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    make_console().print(table)
    failed = sum(1 for r in rows if r[1] != "ok")
    if failed:
        names = ", ".join(r[0] for r in rows if r[1] != "ok")
        console.print(f"skullvae: {failed} of {len(inputs)} cases failed: {names}", markup=False, highlight=False)
    return failed


def _implant_name(path: Path, report: dict) -> str:
    ext = report["outputs"]["implant"][len("implant"):]
    from skullvae.io.formats import volume_stem

    return volume_stem(path) + ext


def _link_implant(src: Path, dst: Path, overwrite: bool) -> None:
    """AutoImplant convention: ``implants/<input name>`` (a hard link when possible)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        if not overwrite:
            raise SkullVAEError(f"output exists: {dst} (pass --overwrite to replace it)")
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def export_stl(
    mask: Path = typer.Argument(..., help="Binary mask volume (non-zero = inside)."),
    out: Path = typer.Argument(..., help="Output .stl (LPS millimetres, as 3D Slicer reads it)."),
    smooth: int = typer.Option(10, "--smooth", min=0, help="Taubin smoothing iterations."),
    decimate: Optional[float] = typer.Option(None, "--decimate", help="Keep about this fraction of the faces (0-1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing STL."),
) -> None:
    """Mesh any mask into a watertight STL in physical LPS millimetres."""
    from skullvae_cli.console import make_console

    from skullvae.implant.mesh import mask_to_mesh, write_stl
    from skullvae.io.atomic import check_writable
    from skullvae.io.readers import read_volume
    from skullvae.preprocessing.crop import crop, nonzero_bbox
    from skullvae.preprocessing.intensity import input_kind

    if out.suffix.lower() != ".stl":
        raise SkullVAEError(f"output must end in .stl: {out.name}")
    check_writable(out, overwrite)
    volume = read_volume(mask)
    if input_kind(volume) != "mask":
        raise SkullVAEError(f"{mask.name} is not a binary mask (more than two values)")
    box = nonzero_bbox(volume.array)
    if box is None:
        raise SkullVAEError(f"{mask.name} is empty: no non-zero voxels to mesh")
    mesh = mask_to_mesh(crop(volume, *box), smooth_iterations=smooth, decimate=decimate)
    write_stl(mesh, out, overwrite=overwrite)
    make_console().print(f"wrote {out}: {len(mesh.faces)} faces, watertight={mesh.is_watertight}, "
                    f"volume {abs(mesh.volume) / 1000:.2f} cm³")


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
    app.command("complete")(complete)
    app.command("export-stl")(export_stl)
