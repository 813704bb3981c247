"""What a model folder is and whether a completion can use it (no torch import).

``skullvae models`` shows :func:`describe_model` for the bundled model and any run
folders; ``skullvae doctor`` runs :func:`model_problems` on the model ``complete``
would load. Both read only JSON and file hashes:

* ``SHA256SUMS`` (written by :func:`~skullvae.model.export.export_run` and
  :func:`write_checksums`): one ``<sha256>  <path>`` line per weights and ONNX
  file, the format of ``sha256sum``, so ``sha256sum -c SHA256SUMS`` checks a copy
  by hand too. A file that no longer matches is a corrupt model.
* ``domain_fit.json`` (optional, written by ``benchmarks/domain_fit.py``): how well
  the model reconstructs skulls it was not trained on, the figure ``complete
  --mode auto`` tests against 0.7 (see :func:`read_domain_fit` for the format).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_write_text
from skullvae.model.files import check_safetensors_file, load_arrays, sha256_file
from skullvae.model.locate import BUNDLED_DIR, read_run_config
from skullvae.model.run_layout import RunLayout

CHECKSUMS = "SHA256SUMS"
DOMAIN_FIT = "domain_fit.json"
DOMAIN_FIT_FORMAT = "skullvae-domain-fit"


def weights_files(run_dir: str | os.PathLike) -> list[Path]:
    """The safetensors files a completion loads: stage-1 weights, stage-2 decoder, latent statistics."""
    layout = RunLayout(Path(run_dir))
    files = layout.inference_weights()
    return files + ([layout.latent_stats] if layout.latent_stats.is_file() else [])


def checksummed_files(run_dir: str | os.PathLike) -> list[Path]:
    """Weights and ONNX graphs of a run, the files :data:`CHECKSUMS` covers."""
    layout = RunLayout(Path(run_dir))
    graphs = [p for p in (layout.onnx_encoder, layout.onnx_decoder) if p.is_file()]
    return [p for p in weights_files(run_dir) if p.is_file()] + graphs


def write_checksums(run_dir: str | os.PathLike) -> Path:
    """Write ``SHA256SUMS`` for the weights and ONNX graphs of a run folder.

    Args:
        run_dir: a run or exported model folder.

    Returns:
        The written file.
    """
    root = Path(run_dir)
    lines = [f"{sha256_file(p)}  {p.relative_to(root).as_posix()}" for p in checksummed_files(root)]
    return atomic_write_text(root / CHECKSUMS, "\n".join(lines) + "\n", overwrite=True)


def read_checksums(run_dir: str | os.PathLike) -> dict[str, str] | None:
    """``relative path -> sha256`` from ``SHA256SUMS``, or None when the folder has none."""
    path = Path(run_dir) / CHECKSUMS
    if not path.is_file():
        return None
    out = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, rel = line.partition("  ")
        if len(digest) != 64 or not rel:
            raise SkullVAEError(f"{path} line {number} is not '<sha256>  <file>'")
        out[rel.strip().lstrip("*")] = digest.lower()
    return out


def read_domain_fit(run_dir: str | os.PathLike) -> dict | None:
    """The optional ``domain_fit.json`` of a model folder.

    Format (JSON object)::

        {"format": "skullvae-domain-fit", "version": 1,
         "model_id": "skullvae-8be0ea1f680a",          # the model it was measured on
         "metric": "input-fit Dice",                   # Dice of decode(enc(x)) with x
         "command": "python benchmarks/domain_fit.py ...",
         "skulls": [{"name": "skullbreak_parietotemporal_001", "kind": "real", "dice": 0.50},
                    {"name": "synthetic seed 202 skull_000", "kind": "synthetic", "dice": 0.88}]}

    ``kind`` is ``real`` or ``synthetic`` (held-out); :func:`domain_fit_summary`
    reduces the list to the figures ``skullvae models`` prints.

    Args:
        run_dir: a run or bundled model folder.

    Returns:
        The parsed object, or None when the folder has no ``domain_fit.json``.
    """
    path = Path(run_dir) / DOMAIN_FIT
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SkullVAEError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != DOMAIN_FIT_FORMAT:
        raise SkullVAEError(f"{path} is not a {DOMAIN_FIT_FORMAT} file")
    skulls = data.get("skulls")
    if not isinstance(skulls, list) or not all(isinstance(s, dict) and isinstance(s.get("dice"), (int, float))
                                                 for s in skulls):
        raise SkullVAEError(f"{path}: 'skulls' must be a list of objects with a numeric 'dice'")
    return data


def domain_fit_summary(fit: dict | None) -> dict:
    """Min / mean input-fit Dice per kind of skull (``real``, ``synthetic``) of a domain-fit record."""
    if fit is None:
        return {}
    out = {}
    for kind in sorted({str(s.get("kind", "real")) for s in fit["skulls"]}):
        values = [float(s["dice"]) for s in fit["skulls"] if str(s.get("kind", "real")) == kind]
        out[kind] = {"n": len(values), "min": min(values), "mean": sum(values) / len(values)}
    return out


def _objective_text(objective: dict) -> str:
    params = ", ".join(f"{k} = {v:g}" if isinstance(v, (int, float)) else f"{k} = {v}"
                       for k, v in objective.items() if k != "name")
    return f"{objective.get('name', '?')}" + (f" ({params})" if params else "")


def _training_data(config: dict) -> str:
    data = config.get("data", {})
    if data.get("description"):
        return str(data["description"])
    if data.get("manifest"):
        return f"{data['manifest']} (split {data.get('train_split', 'train')})"
    return "not recorded"


def _heldout_dice(config: dict) -> float | None:
    for stage in ("stage2_result", "stage1_result"):
        final = config.get(stage, {}).get("final", {})
        if "val_dice_complete" in final:
            return float(final["val_dice_complete"])
    return None


def describe_model(run_dir: str | os.PathLike, name: str | None = None) -> dict:
    """Everything ``skullvae models`` shows about one model folder.

    Args:
        run_dir: a run or bundled model folder.
        name: display name (default: the folder name).

    Returns:
        A JSON-able dict: name, path, model_id, grid, voxel_mm, latent_size, objective,
        training_data, heldout_dice (validation reconstruction Dice of complete skulls),
        domain_fit (per kind, or None: not measured), weights_sha256, onnx (None when
        current, else why not), problems (from :func:`model_problems`).
    """
    from skullvae.model.onnx_model import onnx_problem

    root = Path(run_dir)
    config = read_run_config(root)
    model = config.get("model", {})
    try:
        fit = read_domain_fit(root)
        fit_error = None
    except SkullVAEError as exc:
        fit, fit_error = None, str(exc)
    fit_model = fit.get("model_id") if fit else None
    return {
        "name": name or root.name,
        "path": str(root),
        "bundled": root.resolve().parent == BUNDLED_DIR.resolve(),
        "model_id": config.get("model_id"),
        "grid": [int(g) for g in model.get("grid", config.get("grid", []))],
        "voxel_mm": float(model.get("voxel_mm", config.get("voxel_mm", 0.0))),
        "latent_size": int(model.get("latent_size", config.get("latent_size", 0))),
        "objective": _objective_text(config.get("objective", {})),
        "training_data": _training_data(config),
        "heldout_dice": _heldout_dice(config),
        "domain_fit": domain_fit_summary(fit) or None,
        "domain_fit_error": fit_error,
        "domain_fit_other_model": fit_model if fit_model and fit_model != config.get("model_id") else None,
        "weights_sha256": {p.relative_to(root).as_posix(): sha256_file(p) for p in weights_files(root) if p.is_file()},
        "onnx": onnx_problem(root),
        "problems": model_problems(root),
    }


def model_problems(run_dir: str | os.PathLike) -> list[str]:
    """Why a completion could not load this model's weights (empty when it can).

    Checks the config, that every weights file exists and is a readable safetensors
    file, and that the files listed in ``SHA256SUMS`` still have their recorded hashes.
    A stale ONNX export is not a problem here (completion falls back to torch).

    Args:
        run_dir: a run or bundled model folder.

    Returns:
        One line per problem.
    """
    root = Path(run_dir)
    layout = RunLayout(root)
    try:
        read_run_config(root)
    except SkullVAEError as exc:
        return [str(exc)]
    problems = []
    if not layout.stage1_weights.is_file():
        problems.append(f"weights missing: {layout.stage1_weights}")
    for path in weights_files(root):
        if not path.is_file():
            continue
        try:
            check_safetensors_file(path)
            load_arrays(path)
        except SkullVAEError as exc:
            problems.append(str(exc))
    try:
        recorded = read_checksums(root)
    except SkullVAEError as exc:
        return problems + [str(exc)]
    for rel, digest in (recorded or {}).items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{path} is listed in {CHECKSUMS} but missing")
        elif sha256_file(path) != digest:
            problems.append(f"checksum mismatch: {path} is not the file {CHECKSUMS} records (corrupt or replaced)")
    return problems
