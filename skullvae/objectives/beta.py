"""β-VAE objective: ``L = D·(BCE + w·Dice) + β·KL``."""

from __future__ import annotations

import torch

from skullvae.objectives.base import Objective, kl_normal, voxels_per_sample
from skullvae.objectives.reconstruction import dice_bce


class BetaObjective(Objective):
    """β-VAE with a Dice + BCE reconstruction term.

    ``L = mean_b[ D·(BCE_mean + dice_weight·DiceLoss) + β · Σ_d KL_d ]``: the
    reconstruction is summed over the ``D`` voxels (BCE as a voxel mean times ``D``,
    the Dice loss scaled by ``D`` alike), KL summed over latent dimensions, both
    averaged over the batch. ``β = 1`` is the usual ELBO scale; Li et al.'s stage 1
    uses a *large* β so that q(z|x) stays close to N(0, I).

    Args:
        beta: KL weight.
        dice_weight: weight of the Dice loss relative to the BCE.
    """

    name = "beta"

    def __init__(self, beta: float = 100.0, dice_weight: float = 1.0):
        self.beta = float(beta)
        self.dice_weight = float(dice_weight)

    def __call__(self, logits, target, mu, logvar, step):
        d = voxels_per_sample(target)
        recon = d * dice_bce(logits, target, self.dice_weight).mean()
        kl = kl_normal(mu, logvar).mean()
        loss = recon + self.beta * kl
        return loss, {"loss": loss.item() / d, "recon": recon.item() / d, "kl": kl.item()}

    def config(self) -> dict:
        return {"name": self.name, "beta": self.beta, "dice_weight": self.dice_weight}
