"""Find a model: a bundled name or a run folder, and read its ``config.json`` (no torch)."""

from __future__ import annotations

import os
from pathlib import Path

from skullvae.errors import SkullVAEError
from skullvae.model.files import PICKLE_SUFFIXES, check_safetensors_file, read_tagged_json
from skullvae.model.run_layout import RUN_FORMAT, RunLayout

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "bundled"


def bundled_names() -> list[str]:
    """Names of the models shipped in ``skullvae/bundled/``."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_run_dir(name_or_run_dir: str | os.PathLike) -> Path:
    """Find the folder of a run or bundled model (error if it is neither)."""
    path = Path(name_or_run_dir)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise SkullVAEError(f"refusing to load {path.name}: pickled checkpoints are not supported, use a skullvae run folder")
    if path.is_dir():
        return path
    if path.is_file():
        if path.name == "config.json":
            return path.parent
        check_safetensors_file(path)
        raise SkullVAEError(f"{path} is a weights file; pass its run folder (with config.json) instead")
    if str(name_or_run_dir) in bundled_names():
        return BUNDLED_DIR / str(name_or_run_dir)
    known = ", ".join(bundled_names()) or "none"
    raise SkullVAEError(f"no run folder or bundled model named {str(name_or_run_dir)!r} (bundled: {known})")


def read_run_config(run_dir: str | os.PathLike) -> dict:
    """Read and check ``config.json`` of a run folder."""
    layout = RunLayout(Path(run_dir))
    return read_tagged_json(layout.config, RUN_FORMAT, f"{run_dir} has no config.json: not a skullvae run folder",
                            "skullvae run config", required=("model",))
