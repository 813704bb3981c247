"""Load a trained two-stage model from a run folder or a bundled name.

``load_model("synthetic-64")`` looks in ``skullvae/bundled/synthetic-64/``;
``load_model("runs/x")`` reads a run folder. Both have the layout of
:class:`~skullvae.model.run_layout.RunLayout`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from skullvae.errors import SkullVAEError
from skullvae.model.checkpoint import load_into, load_weights
from skullvae.model.files import load_latent_stats
from skullvae.model.locate import BUNDLED_DIR, bundled_names, read_run_config, resolve_run_dir
from skullvae.model.run_layout import RunLayout
from skullvae.model.vae import Decoder, Encoder, VAEConfig

__all__ = ["BUNDLED_DIR", "TrainedModel", "bundled_names", "load_model", "read_run_config", "resolve_run_dir"]


class TrainedModel:
    """A trained model ready for encoding/decoding on one device.

    Attributes:
        config: the run's config dict (``grid``, ``voxel_mm``, ``latent_size``, ``model``, ...).
        model_id: stable id of the weights.
        encoder: stage-1 encoder (eval mode).
        decoder: stage-2 decoder when present, else the stage-1 decoder (eval mode).
        has_stage2: whether the stage-2 decoder was found.
        dev_vectors: defect type (and ``"pooled"``) → DEV vector ``[L]``.
        posterior_mean, posterior_var: aggregated-posterior statistics ``[L]`` (prior N(0, I) if absent).
        device: torch device.
        engine: ``"torch"`` (see :class:`~skullvae.model.onnx_model.OnnxModel` for the other).
    """

    engine = "torch"

    def __init__(self, run_dir: Path, device: str | torch.device = "cpu", stage: int | None = None):
        self.run_dir = Path(run_dir)
        self.config = read_run_config(run_dir)
        self.vae_config = VAEConfig.from_dict(self.config["model"])
        self.model_id = str(self.config.get("model_id", self.run_dir.name))
        self.device = torch.device(device)
        layout = RunLayout(self.run_dir)
        if not layout.stage1_weights.is_file():
            raise SkullVAEError(f"{run_dir} has no stage-1 weights ({layout.stage1_weights.name}); train stage 1 first")
        tensors, _ = load_weights(layout.stage1_weights)
        self.encoder = Encoder(self.vae_config)
        load_into(self.encoder, _sub(tensors, "encoder."), str(layout.stage1_weights))
        self.decoder = Decoder(self.vae_config)
        self.has_stage2 = layout.stage2_weights.is_file() and stage != 1
        if self.has_stage2:
            dec, _ = load_weights(layout.stage2_weights)
            load_into(self.decoder, dec, str(layout.stage2_weights))
        else:
            load_into(self.decoder, _sub(tensors, "decoder."), str(layout.stage1_weights))
        for m in (self.encoder, self.decoder):
            m.to(self.device).eval().requires_grad_(False)
        mean, var, devs = load_latent_stats(layout.latent_stats, self.vae_config.latent_size)
        self.posterior_mean = torch.from_numpy(mean).to(self.device)
        self.posterior_var = torch.from_numpy(var).to(self.device)
        self.dev_vectors: dict[str, torch.Tensor] = {k: torch.from_numpy(v).to(self.device) for k, v in devs.items()}

    @property
    def grid(self) -> tuple[int, int, int]:
        """Model grid ``(D, H, W)``."""
        return self.vae_config.grid

    @property
    def voxel_mm(self) -> float:
        """Model voxel size (mm)."""
        return self.vae_config.voxel_mm

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 1 or tuple(x.shape[2:]) != tuple(self.grid):
            raise SkullVAEError(f"model input must be [B,1,{','.join(map(str, self.grid))}], got {list(x.shape)}")
        return x.to(self.device, torch.float32)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``[B,1,D,H,W]`` volumes in [0, 1] to ``(mu, logvar)`` each ``[B, L]``."""
        return self.encoder(self._check_input(x))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decode ``[B, L]`` latents to logits ``[B,1,D,H,W]``."""
        if z.ndim != 2 or z.shape[1] != self.vae_config.latent_size:
            raise SkullVAEError(f"latent must be [B,{self.vae_config.latent_size}], got {list(z.shape)}")
        return self.decoder(z.to(self.device, torch.float32))

    def encode_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`encode` for NumPy ``[B,1,D,H,W]`` float32; returns NumPy ``(mu, logvar)``."""
        mu, logvar = self.encode(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return mu.float().cpu().numpy(), logvar.float().cpu().numpy()

    def decode_array(self, z: np.ndarray) -> np.ndarray:
        """:meth:`decode` for NumPy ``[B, L]``; returns NumPy float32 logits ``[B,1,D,H,W]``."""
        return self.decode(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))).float().cpu().numpy()

    def __repr__(self) -> str:
        return f"TrainedModel({self.model_id!r}, grid={list(self.grid)}, voxel_mm={self.voxel_mm}, stage2={self.has_stage2})"


def _sub(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_model(name_or_run_dir: str | os.PathLike, device: str | torch.device = "cpu", stage: int | None = None) -> TrainedModel:
    """Load a trained model.

    Args:
        name_or_run_dir: a bundled model name (see :func:`bundled_names`) or a run folder.
        device: torch device to put it on.
        stage: force the stage-1 decoder with ``1``; default uses stage 2 when present.

    Returns:
        The :class:`TrainedModel`.
    """
    return TrainedModel(resolve_run_dir(name_or_run_dir), device=device, stage=stage)
