"""σ-VAE objective (Rybkin et al. 2021): Gaussian decoder with a shared optimal σ."""

from __future__ import annotations

import math

import torch

from skullvae.objectives.base import Objective, kl_normal, voxels_per_sample
from skullvae.objectives.reconstruction import mse_mean


def softclip(x: torch.Tensor, minimum: float) -> torch.Tensor:
    """``minimum + softplus(x − minimum)``: ≈ x well above ``minimum``, never below it."""
    return minimum + torch.nn.functional.softplus(x - minimum)


class SigmaObjective(Objective):
    """``L = D·ln σ + D/(2σ²)·MSE + KL`` with ``σ² = MSE`` of the batch.

    ``MSE`` is the mean squared error of ``sigmoid(logits)`` over all voxels and the
    batch; ``ln σ = softclip(½ ln MSE, log_sigma_min)`` with
    ``softclip(s, m) = m + softplus(s − m)``, a soft floor, so a perfect batch does not
    diverge. This is the paper's own ``optimal_sigma_vae`` (orybkin/sigma-vae-pytorch,
    ``model.py``: ``log_sigma = ((x − x̂)²).mean().sqrt().log()`` over the whole batch,
    ``softclip(log_sigma, −6)``, gradients through σ kept). ``D`` = voxels per volume;
    KL summed over dims, mean over batch, weight 1 (the paper sums both terms over the
    batch too: the same up to a constant factor). The constant ``D/2·ln 2π`` is omitted.

    Args:
        log_sigma_min: the soft floor on ``ln σ``.
    """

    name = "sigma"

    def __init__(self, log_sigma_min: float = -6.0):
        self.log_sigma_min = float(log_sigma_min)

    def __call__(self, logits, target, mu, logvar, step):
        d = voxels_per_sample(target)
        mse = mse_mean(logits, target).mean()
        log_sigma = softclip(0.5 * torch.log(mse.clamp_min(1e-12)), self.log_sigma_min)
        recon = d * log_sigma + d / (2.0 * torch.exp(2.0 * log_sigma)) * mse
        kl = kl_normal(mu, logvar).mean()
        loss = recon + kl
        return loss, {"loss": loss.item() / d, "mse": mse.item(), "sigma": math.exp(log_sigma.item()), "kl": kl.item()}

    def config(self) -> dict:
        return {"name": self.name, "log_sigma_min": self.log_sigma_min}
