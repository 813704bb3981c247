"""A tiny toy dataset (ellipsoidal shells with spherical defects) for smoke tests and benchmarks.

Much cruder than :mod:`skullvae.phantoms` but instant to make, so tests of the
training machinery (resume, DDP, objectives) do not depend on the phantom
generator. Layout and manifest follow the project's schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skullvae.io.volume import Volume
from skullvae.io.writers import write_volume

TOY_DEFECT_DIRECTIONS = {"left": (1.0, 0.0, 0.3), "right": (-1.0, 0.0, 0.3), "top": (0.0, 0.2, 1.0)}


def toy_skull(seed: int, shape: int = 40, spacing: float = 5.0, thickness_mm: float = 12.0) -> Volume:
    """An ellipsoidal shell with random radii and centre offset (uint8, identity direction)."""
    rng = np.random.default_rng(seed)
    radii = np.array([70.0, 85.0, 65.0]) * rng.uniform(0.85, 1.1, 3)
    centre = (np.asarray([shape] * 3) - 1) / 2 * spacing + rng.uniform(-6, 6, 3)
    ax = np.arange(shape) * spacing
    x, y, z = np.meshgrid(ax - centre[0], ax - centre[1], ax - centre[2], indexing="ij")
    r = np.sqrt((x / radii[0]) ** 2 + (y / radii[1]) ** 2 + (z / radii[2]) ** 2)
    mean_r = float(np.mean(radii))
    shell = (r <= 1.0) & (r >= 1.0 - thickness_mm / mean_r) & (z > -0.5 * radii[2])
    return Volume(shell.astype(np.uint8), (spacing,) * 3, (0.0, 0.0, 0.0))


def toy_defect(skull: Volume, defect_type: str, seed: int, radius_mm: float = 35.0) -> tuple[Volume, Volume]:
    """Cut a ball out of the shell in the direction of ``defect_type``; returns ``(defective, implant)``."""
    rng = np.random.default_rng(seed)
    idx = np.argwhere(skull.array > 0)
    pts = skull.index_to_physical(idx)
    centre = pts.mean(axis=0)
    direction = np.asarray(TOY_DEFECT_DIRECTIONS[defect_type]) + rng.normal(0, 0.1, 3)
    direction /= np.linalg.norm(direction)
    proj = (pts - centre) @ direction
    hit = pts[np.argmax(proj)]
    inside = np.linalg.norm(pts - hit, axis=1) < radius_mm * rng.uniform(0.8, 1.2)
    implant = np.zeros_like(skull.array)
    implant[tuple(idx[inside].T)] = 1
    defective = ((skull.array > 0) & (implant == 0)).astype(np.uint8)
    return skull.with_array(defective), skull.with_array(implant)


def make_toy_dataset(out_dir: str | Path, n: int = 6, seed: int = 0, shape: int = 40, spacing: float = 5.0,
                     defect_types=("left", "right", "top")) -> Path:
    """Write ``n`` toy skulls with defects and a manifest; returns the manifest path."""
    from skullvae.data.manifest import new_manifest

    out = Path(out_dir)
    ids = [f"toy_{i:03d}" for i in range(n)]
    for i, sid in enumerate(ids):
        skull = toy_skull(seed * 1000 + i, shape, spacing)
        write_volume(skull, out / "complete" / f"{sid}.nii.gz", overwrite=True)
        for j, t in enumerate(defect_types):
            defective, implant = toy_defect(skull, t, seed * 1000 + i * 10 + j)
            write_volume(defective, out / "defective" / t / f"{sid}.nii.gz", overwrite=True)
            write_volume(implant, out / "implant" / t / f"{sid}.nii.gz", overwrite=True)
    fractions = {"train": 0.67, "val": 0.33} if n < 8 else {"train": 0.7, "val": 0.15, "test": 0.15}
    data = new_manifest("toy", ids, {"complete": "complete/{skull_id}.nii.gz",
                                     "defective": "defective/{defect_type}/{skull_id}.nii.gz",
                                     "implant": "implant/{defect_type}/{skull_id}.nii.gz"},
                        list(defect_types), seed=seed, fractions=fractions, description="toy shells for tests")
    path = out / "manifest.json"
    path.write_text(json.dumps(data, indent=1))
    return path
