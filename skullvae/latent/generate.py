"""Generation from a trained model: prior samples and latent interpolation, with montages."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path, check_writable
from skullvae.io.readers import read_volume
from skullvae.io.writers import write_volume
from skullvae.preprocessing.model_grid import GridFrame, frame_for, to_grid


def save_montage(volumes: list[np.ndarray], path: Path, titles: list[str] | None = None) -> Path:
    """PNG with, per volume, the mid-sagittal slice and a projection along the S axis (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(volumes)
    fig, axes = plt.subplots(2, n, figsize=(1.8 * n, 3.6), squeeze=False)
    for i, v in enumerate(volumes):
        axes[0][i].imshow(np.rot90(v[v.shape[0] // 2]), cmap="bone", vmin=0, vmax=1)
        axes[1][i].imshow(np.rot90(v.mean(axis=2)), cmap="bone")
        axes[0][i].set_title(titles[i] if titles else str(i), fontsize=7)
        for ax in (axes[0][i], axes[1][i]):
            ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def _decode(model, z: torch.Tensor) -> list[np.ndarray]:
    probs = torch.sigmoid(model.decode(z)).cpu().numpy()[:, 0]
    return [(p >= 0.5).astype(np.uint8) for p in probs]


def _targets(out_dir: Path, names: list[str], overwrite: bool) -> list[Path]:
    paths = [out_dir / n for n in names]
    for p in paths:
        check_writable(p, overwrite)
    return paths


def sample_volumes(model_name: str, n: int, out_dir: str | os.PathLike, seed: int = 0,
                   overwrite: bool = False, device: str = "cpu", aggregate: bool = False) -> list[Path]:
    """Decode ``n`` draws from N(0, I); write ``sample_XXX.nii.gz`` + ``montage.png``.

    With ``aggregate`` the draws come from the moment-matched Gaussian of the
    aggregated posterior, N(posterior_mean, diag posterior_var), as in Li et al.
    The volumes are in the model grid, centred at the origin (LPS).

    Returns:
        Written paths (montage last).
    """
    from skullvae.model import load_model

    model = load_model(model_name, device=device)
    out_dir = Path(out_dir)
    paths = _targets(out_dir, [f"sample_{i:03d}.nii.gz" for i in range(n)] + ["montage.png"], overwrite)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.vae_config.latent_size, generator=g)
    if aggregate:
        z = model.posterior_mean.cpu() + model.posterior_var.cpu().sqrt() * z
    vols = _decode(model, z)
    frame = GridFrame(np.zeros(3), model.voxel_mm, model.grid)
    for v, p in zip(vols, paths):
        write_volume(frame.as_volume(v), p, overwrite=overwrite)
    save_montage(vols, paths[-1], [f"z{i}" for i in range(n)])
    return paths


def interpolate_volumes(model_name: str, a: str | os.PathLike, b: str | os.PathLike, steps: int,
                        out_dir: str | os.PathLike, overwrite: bool = False, device: str = "cpu") -> list[Path]:
    """Decode ``z = (1−t)·μ_A + t·μ_B`` for ``steps`` values of t in [0, 1].

    Each skull is encoded in its own frame; outputs are in A's frame (model grid).

    Returns:
        Written paths (montage last).
    """
    from skullvae.model import load_model

    if steps < 2:
        raise SkullVAEError("--steps must be at least 2")
    model = load_model(model_name, device=device)
    vols_in, frames = [], []
    for path in (a, b):
        vol = read_volume(path)
        if not vol.is_binary:
            raise SkullVAEError(f"{path} is not a binary mask")
        frame = frame_for(vol, model.grid, model.voxel_mm)
        frames.append(frame)
        vols_in.append((to_grid(vol, frame) >= 0.5).astype(np.float32))
    out_dir = Path(out_dir)
    paths = _targets(out_dir, [f"step_{i:03d}.nii.gz" for i in range(steps)] + ["montage.png"], overwrite)
    mu, _ = model.encode(torch.from_numpy(np.stack(vols_in))[:, None])
    t = torch.linspace(0, 1, steps, device=mu.device)[:, None]
    vols = _decode(model, (1 - t) * mu[0:1] + t * mu[1:2])
    for v, p in zip(vols, paths):
        write_volume(frames[0].as_volume(v), p, overwrite=overwrite)
    save_montage(vols, paths[-1], [f"t={float(x):.2f}" for x in t[:, 0]])
    return paths
