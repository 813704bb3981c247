"""A synthetic training set: complete skulls, defective skulls, implants, manifest.

Layout under ``out_dir`` (same file name per skull in every folder)::

    complete/skull_000.nii.gz
    defective/<defect_type>/skull_000.nii.gz
    implant/<defect_type>/skull_000.nii.gz
    manifest.json

Skull ``i`` is ``synth_skull(skull_seed(seed, i), realism=...)`` and its defects use that
same seed, so one skull can be regenerated alone. With ``templates`` a share
``template_fraction`` of the skulls (chosen by the seed) are real templates deformed by
:func:`~skullvae.phantoms.templates.deform_template` instead, the templates taken in turn;
the manifest records each case's ``source`` (``synthetic:<realism>`` or ``template:<id>``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skullvae.data.manifest import new_manifest, write_manifest
from skullvae.errors import SkullVAEError
from skullvae.io.writers import write_volume
from skullvae.phantoms.realism import check_realism
from skullvae.phantoms.skull import check_field_of_view, default_rotation, synth_skull

#: The defect types (same tuple as :data:`skullvae.defects.DEFECT_TYPES`; not imported
#: to keep :mod:`skullvae.defects` → :mod:`skullvae.phantoms.fields` import-cycle free).
DEFECT_TYPES = ("bilateral", "frontoorbital", "parietotemporal", "random_1", "random_2", "skullfix")

LAYOUT = {
    "complete": "complete/{skull_id}.nii.gz",
    "defective": "defective/{defect_type}/{skull_id}.nii.gz",
    "implant": "implant/{defect_type}/{skull_id}.nii.gz",
}


def skull_seed(seed: int, index: int) -> int:
    """Seed of skull ``index`` in a data set made with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


def skull_id(index: int) -> str:
    """File id of skull ``index`` (``skull_000``)."""
    return f"skull_{index:03d}"


def synthesize_dataset(
    out_dir: str | os.PathLike,
    n: int,
    seed: int,
    shape: int = 256,
    spacing: float = 0.8,
    defect_types=DEFECT_TYPES,
    progress: bool = True,
    max_rotation_deg: float | None = None,
    overwrite: bool = False,
    realism: str = "smooth",
    templates: list | None = None,
    template_fraction: float = 0.5,
    template_manifest: str | os.PathLike | None = None,
    template_ids: list[str] | None = None,
) -> Path:
    """Synthesise ``n`` skulls with every defect type and write the manifest.

    Args:
        out_dir: output folder (must be empty or absent unless ``overwrite``).
        n: number of skulls.
        seed: data-set seed (non-negative).
        shape: grid size per axis.
        spacing: voxel size in mm.
        defect_types: defect types to cut from every skull.
        progress: show a progress bar.
        max_rotation_deg: largest random rotation of each synthetic skull (None: the realism's default).
        overwrite: allow writing into a non-empty folder (replacing files).
        realism: ``"smooth"`` or ``"real"`` synthetic skulls (:mod:`skullvae.phantoms.realism`).
        templates: prepared :class:`~skullvae.phantoms.templates.Template` list, or None.
        template_fraction: share of the skulls made from templates (with ``templates``).
        template_manifest: instead of ``templates``, a manifest whose complete skulls are
            loaded as templates (after every other argument has been checked).
        template_ids: only these skull ids of ``template_manifest``.

    Returns:
        Path of the written ``manifest.json``.
    """
    from skullvae.defects import inject_defect

    out_dir = Path(out_dir)
    types = _check_args(out_dir, n, seed, defect_types, overwrite)
    ids = [skull_id(i) for i in range(n)]
    check_realism(realism)
    rotation = default_rotation(realism, max_rotation_deg)
    check_field_of_view(shape, spacing, rotation, realism)  # fail before writing anything
    if template_manifest is not None:
        from skullvae.phantoms.templates import load_templates

        templates = load_templates(template_manifest, template_ids)
    sources = skull_sources(n, seed, [t.name for t in templates or []], template_fraction)
    by_name = {t.name: t for t in templates or []}
    jobs = [(i, sid) for i, sid in enumerate(ids)]
    with _progress(progress, n * (1 + len(types))) as bar:
        for i, sid in jobs:
            s = skull_seed(seed, i)
            if sources[i] is None:
                skull = synth_skull(s, shape, spacing, rotation, realism=realism)
            else:
                from skullvae.phantoms.templates import deform_template

                skull = deform_template(by_name[sources[i]], s, shape, spacing)
            write_volume(skull, out_dir / LAYOUT["complete"].format(skull_id=sid), overwrite=overwrite)
            bar.advance(f"{sid} complete")
            for t in types:
                defective, implant = inject_defect(skull, t, s)
                write_volume(defective, out_dir / LAYOUT["defective"].format(defect_type=t, skull_id=sid), overwrite=overwrite)
                write_volume(implant, out_dir / LAYOUT["implant"].format(defect_type=t, skull_id=sid), overwrite=overwrite)
                bar.advance(f"{sid} {t}")
    mix = f", {sum(x is not None for x in sources)} from templates {', '.join(by_name)}" if by_name else ""
    data = new_manifest(
        "synthetic",
        ids,
        LAYOUT,
        types,
        seed=0,
        description=(
            f"{n} synthetic adult skulls (skullvae.phantoms.synth_skull, realism {realism}, data-set seed {seed}, "
            f"max rotation {rotation} deg{mix}) with {', '.join(types)} defects"
        ),
        spacing_mm=[float(spacing)] * 3,
        shape=[int(shape)] * 3,
        source="skullvae synth (skullvae.phantoms.synthesize_dataset); no patient data",
        licence="Apache-2.0 (generated by skullvae)",
        citation="skullvae synthetic skull phantoms (skullvae.phantoms)",
    )
    if by_name:
        for case, src in zip(data["cases"], sources):
            case["source"] = f"synthetic:{realism}" if src is None else f"template:{src}"
    return write_manifest(data, out_dir / "manifest.json", overwrite=overwrite)


def skull_sources(n: int, seed: int, template_names: list[str], fraction: float) -> list[str | None]:
    """Which skulls come from which template (None = synthetic), chosen by the data-set seed.

    ``round(n * fraction)`` skulls, at positions drawn by the seed, use the templates in turn.
    """
    if not template_names:
        return [None] * n
    if not 0.0 <= fraction <= 1.0:
        raise SkullVAEError(f"template fraction must be between 0 and 1, got {fraction}")
    count = int(round(n * fraction))
    chosen = sorted(np.random.default_rng([int(seed), 77]).permutation(n)[:count].tolist())
    out: list[str | None] = [None] * n
    for k, i in enumerate(chosen):
        out[i] = template_names[k % len(template_names)]
    return out


def _check_args(out_dir: Path, n: int, seed: int, defect_types, overwrite: bool) -> tuple[str, ...]:
    if int(n) < 1:
        raise SkullVAEError(f"--n must be at least 1, got {n}")
    if int(seed) < 0:
        raise SkullVAEError(f"seed must be non-negative, got {seed}")
    types = tuple(defect_types)
    unknown = [t for t in types if t not in DEFECT_TYPES]
    if unknown or not types:
        raise SkullVAEError(f"unknown defect type(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(DEFECT_TYPES)}")
    if out_dir.exists() and not out_dir.is_dir():
        raise SkullVAEError(f"output is not a folder: {out_dir}")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise SkullVAEError(f"output folder is not empty: {out_dir} (pass --overwrite to write into it)")
    return types


class _progress:
    """A rich progress bar, or nothing when disabled."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled
        self.total = total

    def __enter__(self):
        if self.enabled:
            from rich.console import Console

            console = Console(stderr=True)
            self.enabled = console.is_terminal  # no bar in logs and pipes (rich would print its last state)
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("synth {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                transient=False, console=console,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total)
        return self

    def advance(self, what: str) -> None:
        if self.enabled:
            self._bar.update(self._task, advance=1, description=what)

    def __exit__(self, *exc):
        if self.enabled:
            self._bar.__exit__(*exc)
        return False
