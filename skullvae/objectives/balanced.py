"""Balanced VAE objective (Asperti & Trentin 2020): γ² tracks the running MSE."""

from __future__ import annotations

import math

import torch

from skullvae.objectives.base import Objective, kl_normal, voxels_per_sample
from skullvae.objectives.reconstruction import mse_mean


class BalancedObjective(Objective):
    """``L = SSE/(2γ²) + D·ln γ + k·KL``.

    ``SSE`` = squared error of ``sigmoid(logits)`` summed over the ``D`` voxels,
    averaged over the batch; KL summed over dims, averaged over the batch. ``γ`` is
    a constant of each step (no gradient): before the step the running MSE is
    updated, ``m ← 0.99·m + 0.01·MSE_batch`` (initialised with the first batch),
    and ``γ² ← min(γ², m)`` so γ never increases (floored at ``gamma2_min``).

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
        self.running_mse: float | None = None
        self.gamma2: float | None = None

    def __call__(self, logits, target, mu, logvar, step):
        d = voxels_per_sample(target)
        mse_per = mse_mean(logits, target)
        batch_mse = float(mse_per.detach().mean())
        if self.running_mse is None:
            self.running_mse = batch_mse
            self.gamma2 = max(batch_mse, self.gamma2_min)
        else:
            self.running_mse = self.momentum * self.running_mse + (1.0 - self.momentum) * batch_mse
            self.gamma2 = max(min(self.gamma2, self.running_mse), self.gamma2_min)  # type: ignore[type-var]
        gamma2 = float(self.gamma2)
        sse = (d * mse_per).mean()
        kl = kl_normal(mu, logvar).mean()
        loss = sse / (2.0 * gamma2) + d * 0.5 * math.log(gamma2) + self.k * kl
        return loss, {"loss": loss.item() / d, "mse": batch_mse, "gamma": math.sqrt(gamma2), "kl": kl.item()}

    def state_dict(self) -> dict:
        return {"running_mse": self.running_mse, "gamma2": self.gamma2}

    def load_state_dict(self, state: dict) -> None:
        self.running_mse = state.get("running_mse")
        self.gamma2 = state.get("gamma2")

    def config(self) -> dict:
        return {"name": self.name, "k": self.k, "momentum": self.momentum, "gamma2_min": self.gamma2_min}
