"""Pieces shared by the two training stages: device, data caches, validation, latent outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from skullvae.data.dataset import COMPLETE, GridCache, build_cache
from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_write_text
from skullvae.latent.report import write_latent_report
from skullvae.latent.stats import compute_latent_stats, write_latent_stats
from skullvae.model.run_layout import RunLayout
from skullvae.objectives.reconstruction import hard_dice


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available (the local rank's GPU under torchrun), else CPU."""
    import os

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SkullVAEError("--device cuda requested but no CUDA GPU is available")
        if name == "cuda":
            name = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(torch.device(name))
    elif name != "cpu":
        raise SkullVAEError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def load_caches(manifest_path: str, grid, voxel_mm: float, cache_dir: Path, progress: bool,
                val_split: str | None = None) -> tuple[GridCache, GridCache | None]:
    """Training cache and held-out cache (``val``, else ``test``) of a manifest."""
    from skullvae.data.manifest import load_manifest

    manifest = load_manifest(manifest_path)
    train = build_cache(manifest, "train", grid, voxel_mm, progress=progress, cache_dir=cache_dir)
    names = [val_split] if val_split else ["val", "test"]
    for name in names:
        if manifest.split(name):
            return train, build_cache(manifest, name, grid, voxel_mm, progress=progress, cache_dir=cache_dir,
                                      with_pairs=False)
    return train, None


def auto_voxel_mm(manifest_path: str, grid, margin: float = 1.07) -> float:
    """Voxel size whose field of view holds the largest training skull plus a margin (0.1 mm steps).

    The extent is the part of the skull that :func:`frame_for` keeps (the vault), per grid axis.
    """
    from skullvae.data.manifest import load_manifest
    from skullvae.io.readers import read_volume
    from skullvae.preprocessing.model_grid import bone_bbox_mm, frame_for

    manifest = load_manifest(manifest_path)
    extents = []
    for case in manifest.split("train"):
        paths = [case.complete] if case.complete is not None else list(case.defective.values())[:1]
        for p in paths:
            vol = read_volume(p)
            frame = frame_for(vol, grid, 1.0)  # the extent the frame keeps (the vault)
            lo, hi = bone_bbox_mm(vol, frame.rotation, frame.floor_mm)
            extents.append(np.max((hi - lo) / np.asarray(grid, dtype=float)))
    if not extents:
        raise SkullVAEError("cannot choose a voxel size: the training split has no skulls")
    return math.ceil(max(extents) * margin * 10) / 10


@torch.no_grad()
def heldout_dice(encoder, decoder, cache: GridCache | None, device: torch.device, batch_size: int = 8) -> dict:
    """Dice of ``decoder(μ(x))`` against ``x`` on held-out volumes (complete skulls and all)."""
    if cache is None:
        return {}
    encoder.eval()
    decoder.eval()
    dices = []
    for i in range(0, len(cache), batch_size):
        x = torch.from_numpy(cache.volumes[i : i + batch_size]).unsqueeze(1).float().to(device)
        x = x.contiguous(memory_format=torch.channels_last_3d)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            mu, _ = encoder(x)
            logits = decoder(mu)
        dices.append(hard_dice(logits, x).cpu())
    d = torch.cat(dices)
    complete = [i for i, k in enumerate(cache.kinds) if k == COMPLETE]
    out = {"val_dice_all": float(d.mean())}
    if complete:
        out["val_dice_complete"] = float(d[complete].mean())
    return out


def finalize_latent(encoder, cache: GridCache, device: torch.device, layout: RunLayout, extra: dict) -> dict:
    """Write ``latent/latent_stats.safetensors``, ``report.json`` and ``histograms.png``."""
    tensors, mu, logvar = compute_latent_stats(encoder, cache, device)
    write_latent_stats(layout.latent_stats, tensors, {"n_volumes": len(cache), "n_pairs": len(cache.pair_index)})
    return write_latent_report(mu, logvar, layout.latent_dir, extra)


def update_config(layout: RunLayout, updates: dict) -> dict:
    """Merge ``updates`` into ``config.json`` (atomic)."""
    config = json.loads(layout.config.read_text())
    config.update(updates)
    atomic_write_text(layout.config, json.dumps(config, indent=1))
    return config
