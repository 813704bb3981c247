"""Reconstruction terms for binary volumes predicted as logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce_mean(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy averaged over voxels: shape ``[B]``."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    return bce.flatten(1).mean(dim=1)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Per-sample soft Dice loss ``1 − (2Σpt + ε)/(Σp + Σt + ε)`` with ``p = sigmoid(logits)``: shape ``[B]``."""
    p = torch.sigmoid(logits.float()).flatten(1)
    t = target.float().flatten(1)
    return 1.0 - (2.0 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)


def mse_mean(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error between ``sigmoid(logits)`` and the target: shape ``[B]``."""
    return (torch.sigmoid(logits.float()) - target.float()).pow(2).flatten(1).mean(dim=1)


def dice_bce(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """Per-sample ``BCE_mean + dice_weight · DiceLoss``, shape ``[B]`` (multiply by D for a voxel sum)."""
    return bce_mean(logits, target) + dice_weight * soft_dice_loss(logits, target)


@torch.no_grad()
def hard_dice(logits_or_prob: torch.Tensor, target: torch.Tensor, threshold: float = 0.5, logits: bool = True) -> torch.Tensor:
    """Per-sample Dice of the thresholded prediction against a binary target: shape ``[B]``.

    Two empty volumes have Dice 1.
    """
    prob = torch.sigmoid(logits_or_prob.float()) if logits else logits_or_prob.float()
    p = (prob > threshold).flatten(1).float()
    t = (target > 0.5).flatten(1).float()
    inter = (p * t).sum(1)
    denom = p.sum(1) + t.sum(1)
    return torch.where(denom > 0, 2 * inter / denom.clamp_min(1), torch.ones_like(denom))
