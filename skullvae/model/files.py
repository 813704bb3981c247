"""Weights and run files on disk, read without importing torch.

The inference path of ``skullvae complete`` on the CPU (ONNX Runtime) must not pay
for importing torch and MONAI, so everything it needs to find and check a model's
files lives here: the pickle refusal, the safetensors header check, the latent
statistics as NumPy arrays, and file hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError

PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar")


def check_safetensors_file(path: str | os.PathLike) -> Path:
    """Validate that ``path`` is an existing safetensors file (refuse pickles).

    Args:
        path: candidate weights file.

    Returns:
        The path.
    """
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise SkullVAEError(
            f"refusing to load {path.name}: {path.suffix} files are pickles, which can run arbitrary code; "
            "skullvae only loads .safetensors weights with a JSON config"
        )
    if not path.is_file():
        raise SkullVAEError(f"weights file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9 or head[8:9] != b"{":  # safetensors: an 8-byte header length, then the JSON header
        if head[:2] == b"PK" or head[:1] == b"\x80":  # torch.save zip / a bare pickle (protocol ≥ 2)
            raise SkullVAEError(f"refusing to load {path}: it is a pickle/zip torch checkpoint, not safetensors")
        raise SkullVAEError(f"{path} is not a safetensors file")
    (n,) = struct.unpack("<Q", head[:8])
    if n > path.stat().st_size:
        raise SkullVAEError(f"{path} is a truncated or corrupt safetensors file")
    return path


def load_arrays(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a safetensors file as NumPy arrays.

    Args:
        path: a ``.safetensors`` file (checked with :func:`check_safetensors_file`).

    Returns:
        ``(arrays, metadata)``; metadata is the JSON stored under the ``"json"`` key.
    """
    path = check_safetensors_file(path)
    try:
        from safetensors import safe_open

        arrays = {}
        with safe_open(str(path), framework="np") as fh:
            meta = fh.metadata() or {}
            for key in fh.keys():
                arrays[key] = fh.get_tensor(key)
    except Exception as exc:  # safetensors raises its own error types
        raise SkullVAEError(f"cannot read weights {path}: {exc}") from exc
    return arrays, json.loads(meta["json"]) if "json" in meta else {}


def load_latent_stats(path: Path, latent_size: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Aggregated-posterior statistics and DEV vectors of a run.

    Args:
        path: ``latent/latent_stats.safetensors`` (the prior N(0, I) and no DEVs when absent).
        latent_size: the model's latent size (every vector must have it).

    Returns:
        ``(posterior_mean [L], posterior_var [L], {defect type: DEV [L]})``, float32.
    """
    mean = np.zeros(latent_size, dtype=np.float32)
    var = np.ones(latent_size, dtype=np.float32)
    devs: dict[str, np.ndarray] = {}
    if Path(path).is_file():
        stats, _ = load_arrays(path)
        mean = stats.get("posterior_mean", mean)
        var = stats.get("posterior_var", var)
        devs = {k[4:]: v for k, v in stats.items() if k.startswith("dev/")}
        if any(v.shape != (latent_size,) for v in [mean, var, *devs.values()]):
            raise SkullVAEError(f"{path} does not match latent size {latent_size}")
    return mean.astype(np.float32), var.astype(np.float32), {k: v.astype(np.float32) for k, v in devs.items()}


def read_tagged_json(path: Path, fmt: str, missing: str, what: str, required: tuple[str, ...] = ()) -> dict:
    """Read a JSON object whose ``"format"`` key names what it is, with one-line errors.

    Args:
        path: the JSON file.
        fmt: the expected ``"format"`` value.
        missing: the error message when the file does not exist.
        what: what the file should be, for the error message (e.g. "skullvae run config").
        required: keys that must be present.

    Returns:
        The parsed dict.
    """
    path = Path(path)
    if not path.is_file():
        raise SkullVAEError(missing)
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SkullVAEError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != fmt or any(key not in data for key in required):
        raise SkullVAEError(f"{path} is not a {what}")
    return data


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
