"""σ-VAE objective (Rybkin et al. 2021): Gaussian decoder with a shared optimal σ."""

from __future__ import annotations

import math

import torch

from skullvae.objectives.base import Objective, kl_normal, voxels_per_sample
from skullvae.objectives.reconstruction import mse_mean


class SigmaObjective(Objective):
    """``L = D·ln σ + D/(2σ²)·MSE + KL`` with ``σ² = MSE`` of the batch.

    ``MSE`` is the mean squared error of ``sigmoid(logits)`` over all voxels and the
    batch; ``ln σ = max(½ ln MSE, log_sigma_min)`` (a floor, so a perfect batch does
    not diverge). ``D`` = voxels per volume; KL summed over dims, mean over batch,
    weight 1. The constant ``D/2·ln 2π`` is omitted.

    Args:
        log_sigma_min: floor on ``ln σ``.
    """

    name = "sigma"

    def __init__(self, log_sigma_min: float = -6.0):
        self.log_sigma_min = float(log_sigma_min)

    def __call__(self, logits, target, mu, logvar, step):
        d = voxels_per_sample(target)
        mse = mse_mean(logits, target).mean()
        log_sigma = torch.clamp(0.5 * torch.log(mse.clamp_min(1e-12)), min=self.log_sigma_min)
        recon = d * log_sigma + d / (2.0 * torch.exp(2.0 * log_sigma)) * mse
        kl = kl_normal(mu, logvar).mean()
        loss = recon + kl
        return loss, {"loss": loss.item() / d, "mse": mse.item(), "sigma": math.exp(log_sigma.item()), "kl": kl.item()}

    def config(self) -> dict:
        return {"name": self.name, "log_sigma_min": self.log_sigma_min}
