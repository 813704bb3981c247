"""Volume commands: ``info``, ``metrics``, ``preview``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from skullvae.errors import SkullVAEError

_CT_AIR_HU = -500.0  # a volume whose minimum is below this is taken as CT in HU


def info(
    file: Path = typer.Argument(..., help="Volume file (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd) or DICOM folder."),
    hu_threshold: float = typer.Option(300.0, "--hu-threshold", help="Bone threshold in HU for CT volumes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    refuse_irregular: bool = typer.Option(
        False, "--refuse-irregular", help="Refuse a tilted/unevenly spaced DICOM series instead of resampling it."
    ),
) -> None:
    """Show shape, spacing, origin, direction, value range, binary or not, and bone fraction."""
    from skullvae.io import read_volume

    from skullvae.io.readers import count_nonfinite

    volume = read_volume(file, dicom_irregular="refuse" if refuse_irregular else "resample", nonfinite="keep")
    summary = _summarise(volume, hu_threshold)
    summary["nonfinite"] = count_nonfinite(file, volume)
    summary = {"path": str(file), **summary}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from skullvae_cli.console import make_console
    from rich.table import Table

    table = Table(title=f"{file.name}", show_header=False, title_justify="left")
    table.add_column("field", style="bold cyan")
    table.add_column("value")
    table.add_row("shape", " × ".join(str(s) for s in summary["shape"]))
    table.add_row("spacing (mm)", _vec(summary["spacing_mm"]))
    table.add_row("origin (LPS mm)", _vec(summary["origin_mm"]))
    table.add_row("direction", "\n".join(_vec(row) for row in summary["direction"]))
    table.add_row("orientation", summary["orientation"])
    table.add_row("extent (mm)", _vec(summary["extent_mm"]))
    table.add_row("dtype", summary["dtype"])
    bad = summary["nonfinite"]
    table.add_row("value range", f"{summary['min']:g} … {summary['max']:g}" + (" (finite values)" if any(bad.values()) else ""))
    if any(bad.values()):
        table.add_row("non-finite voxels", f"{bad['nan']} NaN, {bad['posinf']} +inf, {bad['neginf']} -inf "
                      "(complete refuses this file: replace them first)")
    table.add_row("kind", summary["kind"])
    table.add_row("binary", "yes" if summary["binary"] else "no")
    rule = "non-zero voxels" if summary["binary"] or summary["labels"] else f"voxels ≥ {hu_threshold:g}"
    table.add_row("bone fraction", f"{summary['bone_fraction']:.4f} ({rule})")
    table.add_row("bone volume (ml)", f"{summary['bone_volume_ml']:.1f}")
    make_console().print(table)


def metrics(
    pred: Path = typer.Argument(..., help="Predicted implant mask."),
    gt: Path = typer.Argument(..., help="Ground-truth implant mask."),
    defective: Path = typer.Option(..., "--defective", help="Defective skull mask (for bDSC)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON with keys dsc, bdsc, hd95."),
    margin_mm: float = typer.Option(10.0, "--margin-mm", help="bDSC region: voxels within this distance of the skull."),
) -> None:
    """AutoImplant 2021 metrics: DSC, boundary DSC (bDSC) and HD95 in mm.

    An empty prediction scores dsc 0 and an undefined hd95 (JSON null, with a note).
    """
    from skullvae.io import read_volume
    from skullvae.metrics import evaluate_implant

    if not (math.isfinite(margin_mm) and margin_mm > 0):
        raise SkullVAEError(f"--margin-mm must be positive, got {margin_mm}")
    volumes = {}
    for label, path in (("prediction", pred), ("ground truth", gt), ("defective skull", defective)):
        volume = read_volume(path)
        if not volume.is_binary:
            raise SkullVAEError(
                f"{label} {path.name} is not a binary mask (values {volume.array.min():g} … {volume.array.max():g})"
            )
        if label != "prediction" and not volume.array.any():
            raise SkullVAEError(f"{label} {path.name} is an empty mask")
        volumes[label] = volume
    scores = evaluate_implant(volumes["prediction"], volumes["ground truth"], volumes["defective skull"],
                              margin_mm=margin_mm)
    notes = []
    if not volumes["prediction"].array.any():
        notes.append("prediction is empty: hd95 is undefined (reported as null)")
    if as_json:
        out = {k: (v if math.isfinite(v) else None) for k, v in scores.items()}
        if notes:
            out["notes"] = notes
        typer.echo(json.dumps(out, indent=2))
        return
    from skullvae_cli.console import make_console
    from rich.table import Table

    table = Table(title=f"{pred.name} vs {gt.name}", title_justify="left")
    table.add_column("metric", style="bold cyan")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    table.add_row("DSC", f"{scores['dsc']:.4f}", "Dice overlap")
    table.add_row("bDSC", f"{scores['bdsc']:.4f}", f"Dice within {margin_mm:g} mm of the defective skull")
    hd = f"{scores['hd95']:.3f} mm" if math.isfinite(scores["hd95"]) else "undefined"
    table.add_row("HD95", hd, "95th percentile of surface distances, both directions")
    console = make_console()
    console.print(table)
    for note in notes:
        console.print(f"note: {note}")


def preview(
    volume: Path = typer.Argument(..., help="Volume to show (CT, mask or DICOM folder)."),
    overlay: Optional[List[Path]] = typer.Option(None, "--overlay", help="Mask to colour (repeatable)."),
    label: Optional[List[str]] = typer.Option(None, "--label", help="Legend name of each overlay, in order."),
    output: Path = typer.Option(..., "-o", "--output", help="Output PNG."),
    title: Optional[str] = typer.Option(None, "--title", help="Figure title (default: the file name)."),
    fov_mm: Optional[float] = typer.Option(None, "--fov-mm", help="Field of view per panel in mm (fixed scale)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
) -> None:
    """Write axial, coronal and sagittal slices with coloured overlays to a PNG."""
    from skullvae.io import read_volume
    from skullvae.io.atomic import check_writable
    from skullvae.io.formats import volume_stem
    from skullvae.viz import render_preview

    if output.suffix.lower() != ".png":
        raise SkullVAEError(f"preview output must be a .png file, got {output.name}")
    check_writable(output, overwrite)
    overlays = list(overlay or [])
    labels = list(label or [])
    if len(labels) > len(overlays):
        raise SkullVAEError(f"{len(labels)} --label given for {len(overlays)} --overlay")
    if fov_mm is not None and not (math.isfinite(fov_mm) and fov_mm > 0):
        raise SkullVAEError(f"--fov-mm must be positive, got {fov_mm}")
    base = read_volume(volume)
    named = []
    for n, path in enumerate(overlays):
        mask = read_volume(path)
        if not mask.is_binary:
            raise SkullVAEError(f"overlay {path.name} is not a binary mask")
        if not mask.array.any():
            raise SkullVAEError(f"overlay {path.name} is an empty mask: nothing to show")
        named.append((labels[n] if n < len(labels) else volume_stem(path), mask))
    written = render_preview(base, named, output, title=title or volume.name, fov_mm=fov_mm, overwrite=overwrite)
    typer.echo(f"wrote {written}")


def register(app: typer.Typer) -> None:
    """Add ``info``, ``metrics`` and ``preview`` to ``app``."""
    app.command("info")(info)
    app.command("metrics")(metrics)
    app.command("preview")(preview)


# -- helpers -----------------------------------------------------------------


def _summarise(volume, hu_threshold: float) -> dict:
    import SimpleITK as sitk

    from skullvae.preprocessing.intensity import describe_labels, label_counts

    array = volume.array
    finite = np.isfinite(array) if array.dtype.kind == "f" else None
    if finite is not None and not finite.all():
        values = array[finite]
        lo, hi = (float(values.min()), float(values.max())) if values.size else (float("nan"), float("nan"))
        array = np.where(finite, array, 0)
    else:
        lo, hi = float(array.min()), float(array.max())
    binary = volume.is_binary
    labels = None if binary else label_counts(volume)
    if binary:
        kind, bone = "binary mask", int(np.count_nonzero(array))
    elif labels is not None:
        kind = f"label map ({len(labels)} labels besides 0: {describe_labels(labels, 5)}; choose the bone with complete --label N)"
        bone = int(np.count_nonzero(array))
    else:
        kind = "CT (HU)" if lo <= _CT_AIR_HU else "intensity image (not HU)"
        bone = int(np.count_nonzero(array >= hu_threshold))
    orientation = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(
        [float(v) for v in volume.direction.reshape(-1)]
    )
    return {
        "shape": list(volume.shape),
        "spacing_mm": [float(s) for s in volume.spacing],
        "origin_mm": [float(o) for o in volume.origin],
        "direction": volume.direction.tolist(),
        "orientation": orientation,
        "extent_mm": [float(n * s) for n, s in zip(volume.shape, volume.spacing)],
        "dtype": str(array.dtype),
        "min": lo,
        "max": hi,
        "binary": bool(binary),
        "kind": kind,
        "hu_threshold": None if binary or labels is not None else float(hu_threshold),
        "labels": labels,
        "bone_fraction": bone / array.size,
        "bone_volume_ml": bone * float(np.prod(volume.spacing)) / 1000.0,
    }


def _vec(values) -> str:
    return "(" + ", ".join(f"{v + 0.0:.6g}" for v in values) + ")"
