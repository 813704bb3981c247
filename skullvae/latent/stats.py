"""Aggregated-posterior statistics and DEV vectors of a trained encoder.

* Aggregated posterior ``q(z) = 1/N Σ_i N(μ_i, σ_i²)`` over the training volumes:
  per-dimension mean ``E[μ]`` and variance ``Var[μ] + E[σ²]`` (law of total variance).
* DEV vectors (defect-embedding vectors): for each training pair, ``μ(complete in
  the defective skull's frame) − μ(defective)``, averaged per defect type, plus a
  ``pooled`` mean over all pairs.
* Side DEVs ``<type>@left`` / ``<type>@right`` for lateral defect types: a defect that
  occurs on either side (e.g. parietotemporal) has a per-type mean that fills both
  sides by half; averaging per side keeps the vector pointing at one side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from skullvae.model.checkpoint import save_weights


@torch.no_grad()
def encode_volumes(encoder: torch.nn.Module, volumes: np.ndarray, device: torch.device,
                   batch_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior parameters of ``uint8 [N, D, H, W]`` volumes (eval mode, on CPU float32).

    Returns:
        ``(mu, logvar)`` each ``[N, L]``.
    """
    encoder.eval()
    mus, lvs = [], []
    for i in range(0, volumes.shape[0], batch_size):
        x = torch.from_numpy(volumes[i : i + batch_size]).unsqueeze(1).float().to(device)
        mu, lv = encoder(x.contiguous(memory_format=torch.channels_last_3d))
        mus.append(mu.float().cpu())
        lvs.append(lv.float().cpu())
    return torch.cat(mus), torch.cat(lvs)


def aggregate_posterior(mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-dimension moments of the mixture ``1/N Σ N(μ_i, σ_i²)`` and of the means alone."""
    mu64, var64 = mu.double(), logvar.double().exp()
    return {
        "posterior_mean": mu64.mean(0).float(),
        "posterior_var": (mu64.var(0, unbiased=False) + var64.mean(0)).float(),
        "mu_mean": mu64.mean(0).float(),
        "mu_var": mu64.var(0, unbiased=False).float(),
    }


def dev_vectors(mu_complete: torch.Tensor, mu_defective: torch.Tensor, types: list[str]) -> dict[str, torch.Tensor]:
    """Mean ``μ_complete − μ_defective`` per defect type and pooled.

    Args:
        mu_complete: ``[P, L]`` means of the complete skulls (in the defective frames).
        mu_defective: ``[P, L]`` means of the defective skulls.
        types: defect type of each pair.

    Returns:
        ``{type: [L], ..., "pooled": [L]}``.
    """
    diff = (mu_complete - mu_defective).double()
    out = {t: diff[[i for i, k in enumerate(types) if k == t]].mean(0).float() for t in dict.fromkeys(types)}
    out["pooled"] = diff.mean(0).float()
    return out


#: A pair's implant is lateral when its centroid lies this far (mm) from the grid's centre plane.
LATERAL_MM = 20.0
#: A type gets side DEVs when this fraction of its pairs is lateral and each side has 2+ pairs.
LATERAL_FRACTION = 0.7
SIDES = ("left", "right")


def implant_sides(pair_complete: np.ndarray, defective: np.ndarray, voxel_mm: float) -> list[str | None]:
    """Side of each training pair's implant along grid axis 0 (+L), or None when central.

    Args:
        pair_complete: ``[P, D, H, W]`` complete skulls in the defective frames.
        defective: ``[P, D, H, W]`` the matching defective skulls.
        voxel_mm: grid voxel size.

    Returns:
        ``"left"``, ``"right"`` or None per pair.
    """
    centre = (pair_complete.shape[1] - 1) / 2.0
    out: list[str | None] = []
    for comp, dfct in zip(pair_complete, defective):
        implant = (comp > 0) & ~(dfct > 0)
        profile = implant.sum(axis=(1, 2)).astype(np.float64)
        if profile.sum() == 0:
            out.append(None)
            continue
        offset = (np.arange(profile.size) - centre) @ profile / profile.sum() * voxel_mm
        out.append(None if abs(offset) < LATERAL_MM else ("left" if offset > 0 else "right"))
    return out


def side_dev_vectors(mu_complete: torch.Tensor, mu_defective: torch.Tensor, types: list[str],
                     sides: list[str | None]) -> dict[str, torch.Tensor]:
    """``<type>@left`` / ``<type>@right`` DEVs for the types whose defects are lateral."""
    diff = (mu_complete - mu_defective).double()
    out = {}
    for t in dict.fromkeys(types):
        rows = [i for i, k in enumerate(types) if k == t]
        by_side = {s: [i for i in rows if sides[i] == s] for s in SIDES}
        lateral = sum(len(v) for v in by_side.values())
        if lateral >= LATERAL_FRACTION * len(rows) and all(len(v) >= 2 for v in by_side.values()):
            out.update({f"{t}@{s}": diff[idx].mean(0).float() for s, idx in by_side.items()})
    return out


def compute_latent_stats(encoder: torch.nn.Module, cache, device: torch.device) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Encode a :class:`~skullvae.data.dataset.GridCache` and derive statistics and DEV vectors.

    Returns:
        ``(tensors, mu, logvar)``: ``tensors`` holds the posterior statistics and ``dev/<type>``
        entries ready for :func:`write_latent_stats`; ``mu``/``logvar`` are those of all volumes.
    """
    mu, logvar = encode_volumes(encoder, cache.volumes, device)
    tensors = aggregate_posterior(mu, logvar)
    if len(cache.pair_index):
        mu_c, _ = encode_volumes(encoder, cache.pair_complete, device)
        devs = dev_vectors(mu_c, mu[cache.pair_index], cache.pair_types())
        sides = implant_sides(cache.pair_complete, cache.volumes[cache.pair_index], cache.voxel_mm)
        devs.update(side_dev_vectors(mu_c, mu[cache.pair_index], cache.pair_types(), sides))
        tensors.update({f"dev/{k}": v for k, v in devs.items()})
    return tensors, mu, logvar


def write_latent_stats(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    """Write the statistics/DEV tensors as safetensors (atomic)."""
    return save_weights(path, tensors, metadata or {})
