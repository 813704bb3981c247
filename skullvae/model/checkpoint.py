"""Weights on disk: safetensors + JSON only, never pickle.

* :func:`save_weights` / :func:`load_weights` store flat ``name → tensor`` maps.
* :func:`save_state` / :func:`load_state` store an arbitrary nested training state
  (optimiser, scheduler, RNG states, counters): tensors go into the safetensors
  payload, the structure into its JSON metadata, so one file holds everything and
  it is written atomically.
* Files that look like pickles (``.pt``, ``.pth``, ``.ckpt``, zip/pickle magic) are
  refused with a :class:`SkullVAEError`, because unpickling runs arbitrary code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path
from skullvae.model.files import PICKLE_SUFFIXES, check_safetensors_file

__all__ = ["PICKLE_SUFFIXES", "check_safetensors_file", "load_into", "load_state", "load_weights", "save_state",
           "save_weights"]


def save_weights(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    """Write ``tensors`` to a safetensors file atomically.

    Args:
        path: output ``.safetensors`` path.
        tensors: name → tensor (made contiguous and moved to CPU).
        metadata: optional JSON-able dict stored under the ``"json"`` metadata key.

    Returns:
        The path.
    """
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    meta = {"json": json.dumps(metadata)} if metadata is not None else None
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=meta)
    return Path(path)


def load_weights(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Read a safetensors file written by :func:`save_weights`.

    Returns:
        ``(tensors, metadata)``.
    """
    path = check_safetensors_file(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except Exception as exc:  # safetensors raises its own error types
        raise SkullVAEError(f"cannot read weights {path}: {exc}") from exc
    return tensors, json.loads(meta["json"]) if "json" in meta else {}


def load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str) -> None:
    """Load ``tensors`` into ``module`` strictly, with a clear error on mismatch.

    Args:
        module: target module.
        tensors: state dict.
        what: description for the error message (e.g. the file name).
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    bad = [k for k in expected if k in tensors and tuple(expected[k].shape) != tuple(tensors[k].shape)]
    if missing or unexpected or bad:
        detail = []
        if missing:
            detail.append(f"missing {missing[:3]}")
        if unexpected:
            detail.append(f"unexpected {unexpected[:3]}")
        if bad:
            detail.append(f"shape mismatch {bad[:3]} (wrong grid/architecture?)")
        raise SkullVAEError(f"{what} does not match the model config: {'; '.join(detail)}")
    module.load_state_dict(tensors, strict=True)


# -- nested training state -------------------------------------------------
def _flatten(obj, tensors: dict, prefix: str):
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, np.ndarray):
        tensors[prefix] = torch.from_numpy(np.ascontiguousarray(obj))
        return {"__ndarray__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, tensors, f"{prefix}.k{i}"), _flatten(v, tensors, f"{prefix}.{i}")]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot serialise {type(obj).__name__} in training state")


def _unflatten(obj, tensors: dict):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy()
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(path: str | os.PathLike, state: dict) -> Path:
    """Atomically write a nested state (dicts, lists, tuples, tensors, arrays, scalars)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, tensors, "s")
    return save_weights(path, tensors, {"skeleton": skeleton})


def load_state(path: str | os.PathLike) -> dict:
    """Inverse of :func:`save_state`."""
    tensors, meta = load_weights(path)
    if "skeleton" not in meta:
        raise SkullVAEError(f"{path} is not a skullvae training state")
    return _unflatten(meta["skeleton"], tensors)
