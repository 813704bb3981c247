"""Data commands: ``skullvae synth`` and ``skullvae defect``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from skullvae.errors import SkullVAEError


def synth(
    out_dir: Path = typer.Argument(..., help="Output folder (created; must be empty unless --overwrite)."),
    n: int = typer.Option(..., "--n", help="Number of skulls."),
    seed: int = typer.Option(..., "--seed", help="Data-set seed; the same seed gives byte-identical files."),
    shape: int = typer.Option(256, "--shape", help="Grid size per axis (voxels)."),
    spacing: float = typer.Option(0.8, "--spacing", help="Isotropic voxel size in mm (shape × spacing must hold a skull, ~200 mm)."),
    types: str = typer.Option(
        "all", "--types", help="Comma-separated defect types, or 'all': bilateral, frontoorbital, parietotemporal, random_1, random_2, skullfix."
    ),
    max_rotation: Optional[float] = typer.Option(
        None, "--max-rotation", help="Largest random rotation of each skull in degrees (default 0 smooth, 6 real)."),
    realism: str = typer.Option(
        "smooth", "--realism", help="smooth (regular closed skulls) or real (real thickness, shape variation, "
        "CT artefacts, crop levels, pose jitter)."),
    templates: Optional[Path] = typer.Option(
        None, "--templates", help="Manifest of real complete skulls to deform into training skulls (schema v1)."),
    template_ids: Optional[str] = typer.Option(
        None, "--template-ids", help="Comma-separated skull ids of --templates to use (default all with a complete skull)."),
    template_fraction: float = typer.Option(0.5, "--template-fraction", help="Share of the skulls made from templates."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty folder, replacing files."),
) -> None:
    """Synthesise adult skulls with SkullBreak/SkullFix-style defects.

    Writes complete/<id>.nii.gz, defective/<type>/<id>.nii.gz, implant/<type>/<id>.nii.gz
    and manifest.json (splits by skull). With --templates, a share of the skulls are
    real skulls smoothly deformed, rescaled and re-thickened.
    """
    from skullvae.phantoms import synthesize_dataset
    from skullvae.phantoms.realism import check_realism

    check_realism(realism)
    if not 0.0 <= template_fraction <= 1.0:
        raise SkullVAEError(f"--template-fraction must be between 0 and 1, got {template_fraction}")
    if template_ids and templates is None:
        raise SkullVAEError("--template-ids needs --templates MANIFEST")
    ids = [t.strip() for t in template_ids.split(",") if t.strip()] if template_ids else None
    manifest = synthesize_dataset(
        out_dir, n, seed, shape=shape, spacing=spacing, defect_types=_parse_types(types),
        progress=True, max_rotation_deg=max_rotation, overwrite=overwrite, realism=realism,
        template_manifest=templates, template_ids=ids, template_fraction=template_fraction,
    )
    typer.echo(f"wrote {n} skulls and {manifest}")


def defect(
    skull: Path = typer.Argument(..., help="Binary skull mask (NIfTI, NRRD, MetaImage or DICOM folder)."),
    defect_type: str = typer.Option(..., "--type", help="Defect type, or 'all' for every type (one subfolder each)."),
    seed: int = typer.Option(..., "--seed", help="Random seed (same seed, same defect)."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
) -> None:
    """Cut a defect from a skull mask: writes defective.<ext> and implant.<ext>.

    The outputs keep the input's format (a DICOM input gives .nii.gz) and geometry.
    With --type all, each type goes to OUT_DIR/<type>/defective.<ext> and implant.<ext>.
    """
    from skullvae.defects import DEFECT_TYPES, inject_defect
    from skullvae.io.atomic import check_writable
    from skullvae.io.formats import volume_extension
    from skullvae.io.readers import read_volume
    from skullvae.io.writers import write_volume

    chosen = list(DEFECT_TYPES) if defect_type == "all" else _parse_types(defect_type)
    ext = ".nii.gz" if skull.is_dir() else volume_extension(skull)
    folders = {t: (out_dir / t if defect_type == "all" else out_dir) for t in chosen}
    targets = [(t, folders[t] / f"defective{ext}", folders[t] / f"implant{ext}") for t in chosen]
    for _, d_path, i_path in targets:  # refuse before any work or output
        for path in (d_path, i_path):
            if path.resolve() == skull.resolve():
                raise SkullVAEError(f"output would overwrite the input: {path}")
            check_writable(path, overwrite)
    volume = read_volume(skull)
    results = [(inject_defect(volume, t, seed), d_path, i_path) for t, d_path, i_path in targets]
    for (defective, implant), d_path, i_path in results:
        write_volume(defective, d_path, overwrite=overwrite)
        write_volume(implant, i_path, overwrite=overwrite)
        typer.echo(f"wrote {d_path} and {i_path} ({int(implant.array.sum())} implant voxels)")


def _parse_types(text: str) -> list[str]:
    from skullvae.defects import DEFECT_TYPES

    if text.strip() == "all":
        return list(DEFECT_TYPES)
    types = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in types if t not in DEFECT_TYPES]
    if unknown or not types:
        raise SkullVAEError(f"unknown defect type(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(DEFECT_TYPES)} or all")
    return types


def register(app: typer.Typer) -> None:
    """Add ``synth`` and ``defect`` to ``app``."""
    app.command("synth")(synth)
    app.command("defect")(defect)
