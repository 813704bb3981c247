"""Balanced VAE objective (Asperti & Trentin 2020): γ² tracks the running MSE."""

from __future__ import annotations

import math

from skullvae.objectives.base import Objective, kl_normal, voxels_per_sample
from skullvae.objectives.reconstruction import mse_mean


class BalancedObjective(Objective):
    """``L = SSE/(2γ²) + D·ln γ + k·KL``.

    ``SSE`` = squared error of ``sigmoid(logits)`` summed over the ``D`` voxels,
    averaged over the batch; KL summed over dims, averaged over the batch. ``γ²`` is a
    constant of each step (no gradient): the running estimate ``m`` of the MSE, updated
    after every step as in the paper's own code (asperti/BalancingVAE,
    ``computed_gamma.py``): ``m ← min(m, 0.99·m + 0.01·MSE_batch)``, so γ never
    increases; the step uses the ``m`` of the steps before it (floored at
    ``gamma2_min``). Differences from that code: ``m`` starts at the first batch's MSE
    (the code starts at 1.0, an upper bound for images in [0, 1], which the min-EMA
    then needs hundreds of steps to come down from), and ``k`` defaults to 1 (the
    code's KL weight is ``k = (2·side/latent_dim)²`` for square images of ``side``
    pixels, e.g. 4 for 64-pixel images and 64 latent dimensions; that formula has no
    settled 3D counterpart, so pass ``k`` to use one).

    Args:
        k: KL weight.
        momentum: EMA momentum of the running MSE.
        gamma2_min: floor on γ².
    """

    name = "balanced"

    def __init__(self, k: float = 1.0, momentum: float = 0.99, gamma2_min: float = 1e-6):
        self.k = float(k)
        self.momentum = float(momentum)
        self.gamma2_min = float(gamma2_min)
        self.running_mse: float | None = None  # m: the clipped running MSE (the code's ``mseloss``)

    @property
    def gamma2(self) -> float | None:
        """γ² of the next step: the running MSE, floored."""
        return None if self.running_mse is None else max(self.running_mse, self.gamma2_min)

    def __call__(self, logits, target, mu, logvar, step):
        d = voxels_per_sample(target)
        mse_per = mse_mean(logits, target)
        batch_mse = float(mse_per.detach().mean())
        if self.running_mse is None:
            self.running_mse = batch_mse
        gamma2 = float(self.gamma2)  # type: ignore[arg-type]
        sse = (d * mse_per).mean()
        kl = kl_normal(mu, logvar).mean()
        loss = sse / (2.0 * gamma2) + d * 0.5 * math.log(gamma2) + self.k * kl
        m = self.running_mse
        self.running_mse = min(m, self.momentum * m + (1.0 - self.momentum) * batch_mse)
        return loss, {"loss": loss.item() / d, "mse": batch_mse, "gamma": math.sqrt(gamma2), "kl": kl.item()}

    def state_dict(self) -> dict:
        return {"running_mse": self.running_mse, "gamma2": self.gamma2}

    def load_state_dict(self, state: dict) -> None:
        # runs saved before the min-EMA fix kept an unclipped EMA beside γ²: γ² is the clipped estimate
        self.running_mse = state.get("gamma2", state.get("running_mse"))

    def config(self) -> dict:
        return {"name": self.name, "k": self.k, "momentum": self.momentum, "gamma2_min": self.gamma2_min}
