"""The 3D VAE, its safetensors checkpoints, :func:`load_model` and the ONNX inference files.

Names are imported on first use, so that ``skullvae.model.onnx_model`` (the CPU
inference path) can be used without importing torch and MONAI.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TrainedModel": "skullvae.model.load",
    "load_model": "skullvae.model.load",
    "bundled_names": "skullvae.model.locate",
    "Decoder": "skullvae.model.vae",
    "Encoder": "skullvae.model.vae",
    "SkullVAE": "skullvae.model.vae",
    "VAEConfig": "skullvae.model.vae",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'skullvae.model' has no attribute {name!r}")
