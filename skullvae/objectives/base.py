"""The common interface of the stage-1 objectives.

Reductions used by every objective (so the weights are comparable):

* ``D`` = number of voxels of one volume.
* Reconstruction terms are **summed over voxels** (``D`` × a per-voxel mean) and
  **averaged over the batch**.
* KL(q(z|x) ‖ N(0, I)) is **summed over latent dimensions** and **averaged over the batch**.
"""

from __future__ import annotations

import torch


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(N(mu, exp(logvar)) ‖ N(0, I)) summed over dims: shape ``[B]``.

    ``0.5 · Σ_d (μ² + σ² − 1 − ln σ²)``.
    """
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def voxels_per_sample(x: torch.Tensor) -> int:
    """``D``: the number of voxels of one volume of a ``[B, C, ...]`` batch."""
    return int(x[0].numel())


class Objective:
    """A loss ``L(logits, target, mu, logvar, step) -> (loss, logs)``.

    Subclasses implement :meth:`__call__`; objectives with running statistics or
    auxiliary networks override :meth:`state_dict`/:meth:`load_state_dict` so that a
    resumed run continues exactly, and :meth:`auxiliary_step` (called once per
    training step after the model update, e.g. to train a discriminator).
    """

    name = "base"

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Compute the loss.

        Args:
            logits: decoder output ``[B,1,D,H,W]``.
            target: binary target of the same shape.
            mu, logvar: posterior parameters ``[B, L]``.
            step: global optimisation step (for warm-ups).

        Returns:
            ``(loss, logs)``: a scalar tensor and floats to display/log.
        """
        raise NotImplementedError

    def auxiliary_step(self, logits: torch.Tensor, target: torch.Tensor, step: int) -> dict[str, float]:
        """Optional extra update after the model step (default: nothing)."""
        return {}

    def to(self, device: torch.device) -> "Objective":
        """Move internal tensors/networks to ``device``."""
        return self

    def state_dict(self) -> dict:
        """Running statistics needed for an exact resume."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""

    def config(self) -> dict:
        """Hyper-parameters (stored in the run config)."""
        return {"name": self.name}
