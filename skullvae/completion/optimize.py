"""Latent search: find z whose decoded skull explains the defective bone.

Maximises ``log p(x | z) + log N(z; 0, I)`` with a data term that does not
penalise adding bone where the defect is: full binary cross-entropy where the
input has bone and far from the skull (clear background, > ``far_mm``, which must
exceed the radius of the largest defect), and ``near_weight`` (default 0) on empty
voxels near the skull, where a defect may be. Starts at ``enc(x)`` (+ γ·DEV when available); a fixed number of Adam steps.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from skullvae.completion.dev import as_array, decode_probability, encode_grid
from skullvae.errors import SkullVAEError


def data_weights(grid_array: np.ndarray, voxel_mm: float, far_mm: float = 40.0, near_weight: float = 0.0) -> np.ndarray:
    """Per-voxel weights of the data term (1 on bone and far background, small near bone)."""
    bone = grid_array >= 0.5
    dist = ndimage.distance_transform_edt(~bone, sampling=voxel_mm)
    weights = np.where(dist > far_mm, 1.0, near_weight).astype(np.float32)
    weights[bone] = 1.0
    return weights


def _decoder(model):
    """A differentiable decoder: the module when exposed (``decode`` may be no-grad)."""
    module = getattr(model, "decoder", None)
    if isinstance(module, torch.nn.Module):
        return module
    if hasattr(model, "decode"):
        return model.decode
    raise SkullVAEError("--mode optimize needs gradients through the decoder: load the model with --engine torch")


def complete_optimize(model, grid_array: np.ndarray, voxel_mm: float, steps: int = 60, lr: float = 0.05,
                      init_dev=None, gamma: float = 1.0, far_mm: float = 40.0, near_weight: float = 0.0,
                      prior_weight: float = 1.0):
    """Completed-skull probability by latent optimisation.

    Args:
        model: trained model.
        grid_array: defective skull in the model grid.
        voxel_mm: model voxel size.
        steps: Adam steps.
        lr: Adam learning rate.
        init_dev: optional DEV vector ``[L]`` added (× ``gamma``) to the start point.
        gamma: DEV scale for the start point.
        far_mm: background farther than this from bone is fully penalised.
        near_weight: weight of empty voxels nearer than ``far_mm`` to bone.
        prior_weight: weight of the N(0, I) prior term ``½‖z‖²``.

    Returns:
        ``(probability [D,H,W], z [1, L], info)``.
    """
    mu, _ = encode_grid(model, grid_array)
    z0 = mu if init_dev is None else mu + float(gamma) * as_array(init_dev)[None, :]
    device = getattr(model, "device", "cpu")
    z0 = torch.from_numpy(z0).to(device)
    target = torch.from_numpy(np.ascontiguousarray(grid_array >= 0.5, dtype=np.float32))[None, None].to(device)
    weight = torch.from_numpy(data_weights(grid_array, voxel_mm, far_mm, near_weight))[None, None].to(device)
    decoder = _decoder(model)
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    losses = []
    with torch.enable_grad():
        for _ in range(int(steps)):
            opt.zero_grad()
            logits = decoder(z)
            data = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
            loss = data + prior_weight * 0.5 * (z * z).sum()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    z = z.detach().float().cpu().numpy()
    prob = decode_probability(model, z)[0]
    info = {"steps": int(steps), "lr": lr, "loss_start": losses[0] if losses else None,
            "loss_end": losses[-1] if losses else None, "z_norm": float(np.linalg.norm(z))}
    return prob, z, info
