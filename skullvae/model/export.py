"""Export the inference files of a run (e.g. into ``skullvae/bundled/<name>/``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path, atomic_write_text
from skullvae.model.inventory import write_checksums
from skullvae.model.load import read_run_config
from skullvae.model.run_layout import RunLayout

INFERENCE_FILES = ("stage1/model.safetensors", "stage2/decoder.safetensors", "latent/latent_stats.safetensors",
                   "latent/report.json", "latent/histograms.png", "stage1/metrics.csv", "stage2/metrics.csv",
                   "stage1/loss_curve.png", "stage2/loss_curve.png", "onnx/encoder.onnx", "onnx/decoder.onnx",
                   "onnx/manifest.json")


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Copy ``config.json`` and the inference files of a finished run (no resume state, no cache).

    The copy gets a ``SHA256SUMS`` of its weights and ONNX graphs (``skullvae doctor`` checks it).

    Args:
        run_dir: a run folder with both stages finished.
        out_dir: destination folder (same layout, loadable with ``load_model``).
        overwrite: replace files in an existing destination.

    Returns:
        The destination folder.
    """
    src = RunLayout(Path(run_dir))
    config = read_run_config(src.root)
    for needed in (src.stage1_weights, src.stage2_weights, src.latent_stats):
        if not needed.is_file():
            raise SkullVAEError(f"{run_dir} is not a finished two-stage run: {needed.name} missing")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise SkullVAEError(f"{out} exists and is not empty (pass overwrite)")
    for rel in INFERENCE_FILES:
        if (src.root / rel).is_file():
            with atomic_path(out / rel) as tmp:
                shutil.copyfile(src.root / rel, tmp)
    config["data"] = {k: v for k, v in config.get("data", {}).items() if k != "manifest"}
    atomic_write_text(out / "config.json", json.dumps(config, indent=1))
    write_checksums(out)
    return out
