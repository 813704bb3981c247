"""``skullvae models`` (what each model is) and ``skullvae doctor`` (can this machine complete a case)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from skullvae.errors import SkullVAEError


def _domain_fit_text(info: dict) -> str:
    if info.get("domain_fit_error"):
        return f"unreadable: {info['domain_fit_error']}"
    fit = info.get("domain_fit")
    if not fit:
        return "not measured (no domain_fit.json; benchmarks/domain_fit.py writes it)"
    parts = [f"{kind} min {v['min']:.3f} / mean {v['mean']:.3f} (n = {v['n']})" for kind, v in fit.items()]
    text = "input-fit Dice: " + "; ".join(parts)
    if info.get("domain_fit_other_model"):
        text += f" (measured on another model, {info['domain_fit_other_model']})"
    return text


def _model_rows(info: dict) -> list[tuple[str, str]]:
    onnx = "current" if info["onnx"] is None else f"not usable: {info['onnx']}"
    held = f"{info['heldout_dice']:.3f}" if info.get("heldout_dice") is not None else "not recorded"
    rows = [
        ("path", info["path"] + ("  (bundled)" if info["bundled"] else "")),
        ("model id", str(info["model_id"])),
        ("grid", f"{' × '.join(str(g) for g in info['grid'])} voxels"),
        ("voxel size", f"{info['voxel_mm']:g} mm"),
        ("latent size", str(info["latent_size"])),
        ("objective", info["objective"]),
        ("training data", info["training_data"]),
        ("held-out Dice", f"{held} (reconstruction of validation complete skulls, training data's kind)"),
        ("domain fit", _domain_fit_text(info)),
        ("ONNX export", onnx),
    ]
    rows += [(f"SHA-256 {rel}", digest) for rel, digest in info["weights_sha256"].items()]
    rows += [("problem", p) for p in info["problems"]]
    return rows


def models(
    runs: Optional[List[Path]] = typer.Argument(None, metavar="[RUN ...]", help="Run folders to describe besides the bundled models."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """List the bundled models and the given run folders: grid, voxel size, objective, data, domain fit, SHA-256."""
    from rich.table import Table

    from skullvae.model.inventory import describe_model
    from skullvae.model.locate import BUNDLED_DIR, bundled_names, resolve_run_dir
    from skullvae_cli.console import make_console

    infos = [describe_model(BUNDLED_DIR / name, name=name) for name in bundled_names()]
    for run in runs or []:
        if not run.is_dir():
            raise SkullVAEError(f"no such run folder: {run}")
        infos.append(describe_model(resolve_run_dir(run), name=str(run)))
    if as_json:
        typer.echo(json.dumps(infos, indent=2))
        return
    if not infos:
        raise SkullVAEError("no bundled model is installed and no run folder was given")
    console = make_console()
    for info in infos:
        table = Table(title=info["name"], show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in _model_rows(info):
            table.add_row(key, value)
        console.print(table)


def _doctor_rows(report: dict) -> list[tuple[str, str]]:
    versions = report["versions"]
    rows = [(name, version or "not installed") for name, version in versions.items()]
    rows.append(("Python", f"{report['python']} ({report['platform']})"))
    torch = report["torch"]
    if torch.get("importable"):
        rows.append(("torch build", f"CUDA {torch['cuda_build']}" if torch["cuda_build"] else "CPU only"))
        rows.append(("CUDA", "available" if torch["cuda_available"] else "not available"
                     + ("" if report["gpu_driver"] else " (no GPU driver)")))
        for gpu in torch["gpus"]:
            rows.append((f"GPU {gpu['index']}", f"{gpu['name']}, compute {gpu['capability']}, "
                                                f"{gpu['total_gb']:.1f} GB ({gpu['free_gb']:.1f} GB free)"))
    else:
        rows.append(("torch", f"does not import: {torch['error']}"))
    rows.append(("device (--device auto)", report["device"]))
    threads = report["threads"]
    rows.append(("threads", f"{threads['usable_cores']} usable cores of {threads['cpu_count']}; torch "
                            f"{torch.get('threads', '-')}; OMP_NUM_THREADS={threads['OMP_NUM_THREADS'] or 'unset'}"))
    caches = report["caches"]
    rows.append(("matplotlib cache", f"{caches['matplotlib']} ({'writable' if caches['matplotlib_writable'] else 'NOT writable'})"))
    rows.append(("temporary folder", f"{caches['tmp']} ({'writable' if caches['tmp_writable'] else 'NOT writable'})"))
    model = report["model"]
    if model.get("name") is not None and "path" in model:
        rows.append(("model", f"{model['name']} ({model['model_id']}) in {model['path']}"))
        rows += [(f"SHA-256 {rel}", digest) for rel, digest in model["weights_sha256"].items()]
        rows.append(("checksums", "match SHA256SUMS" if model["checksums_recorded"] and not model["problems"]
                     else ("no SHA256SUMS in the model folder" if not model["checksums_recorded"] else "see the errors")))
        rows.append(("ONNX export", "current" if model["onnx"] is None else f"not current: {model['onnx']}"))
    return rows


def doctor(
    model: Optional[str] = typer.Option(None, "--model", help="Run folder or bundled model name to check (default: the bundled model)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check that this machine can complete a case: versions, device, CUDA memory, threads, model checksum, ONNX export.

    Exit code 2 with one error line when something a completion needs is broken.
    """
    from rich.table import Table

    from skullvae.completion.readiness import readiness_problems, readiness_report
    from skullvae_cli.console import make_console

    report = readiness_report(model)
    errors, warnings = readiness_problems(report)
    if as_json:
        typer.echo(json.dumps({**report, "errors": errors, "warnings": warnings}, indent=2, default=str))
    else:
        table = Table(title="skullvae doctor", show_header=False, title_justify="left")
        table.add_column("item", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in _doctor_rows(report):
            table.add_row(key, value)
        make_console().print(table)
    err = make_console(stderr=True)
    for warning in warnings:
        err.print(f"skullvae: warning: {warning}", markup=False, highlight=False)
    if errors:
        raise SkullVAEError("; ".join(errors))
    if not as_json:
        make_console().print("ready: skullvae complete can run here")


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
    app.command("models")(models)
    app.command("doctor")(doctor)
