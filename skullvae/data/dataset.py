"""The training cache: every mask of a split mapped into the model grid once, as uint8.

For a manifest split, each complete skull (in its own frame) and each defective
skull (in its own frame) is placed with :func:`frame_for` + :func:`to_grid`,
thresholded at 0.5 and kept in memory as ``uint8``. For the DEV vectors each
complete skull is also resampled in the frame of each of its defective skulls
(``pair_complete``), so ``z_complete − z_defective`` compares the same placement.
The cache can be saved to a compressed ``.npz`` keyed by the manifest content,
the split, the grid and the voxel size.

Augmentation is a small random integer shift (±``shift`` voxels, zero filled),
seeded by ``(seed, epoch, index)`` so that a resumed run sees the same data. There
is deliberately no left–right flip: defects are one-sided, and a flip would turn
a left parietotemporal defect into a right one while keeping its label.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path
from skullvae.io.readers import read_volume
from skullvae.preprocessing.model_grid import VAULT_DEPTH_MM, frame_for, to_grid

COMPLETE = "complete"


@dataclass
class GridCache:
    """Grid-resampled masks of one split.

    Attributes:
        volumes: ``uint8 [N, D, H, W]`` complete and defective skulls (own frames).
        kinds: ``"complete"`` or the defect type of each volume.
        skull_ids: skull id of each volume.
        pair_complete: ``uint8 [P, D, H, W]`` complete skull in the frame of defective volume ``pair_index[p]``.
        pair_index: index into ``volumes`` of the defective skull of each pair.
        grid, voxel_mm: the model grid.
    """

    volumes: np.ndarray
    kinds: list[str]
    skull_ids: list[str]
    pair_complete: np.ndarray
    pair_index: list[int]
    grid: tuple[int, int, int]
    voxel_mm: float
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.volumes.shape[0])

    def indices(self, kind: str | None = None) -> list[int]:
        """Indices of the volumes of one kind (``"complete"``, a defect type) or all."""
        return [i for i, k in enumerate(self.kinds) if kind is None or k == kind]

    def pair_types(self) -> list[str]:
        """Defect type of each pair."""
        return [self.kinds[i] for i in self.pair_index]


def manifest_digest(manifest) -> str:
    """Hash of the manifest content and the files' sizes/mtimes (cache key)."""
    h = hashlib.sha256(json.dumps(manifest.data, sort_keys=True, default=str).encode())
    for case in manifest.cases:
        for p in case.files():
            st = p.stat() if p.is_file() else None
            h.update(f"{p}:{st.st_size if st else -1}:{st.st_mtime_ns if st else -1}".encode())
    return h.hexdigest()[:16]


def _load_mask(path: Path):
    vol = read_volume(path)
    if not np.any(vol.array):
        raise SkullVAEError(f"mask is empty: {path}")
    return vol


def build_cache(manifest, split: str, grid, voxel_mm: float, progress: bool = True, with_pairs: bool = True,
                cache_dir: str | os.PathLike | None = None) -> GridCache:
    """Map every mask of ``split`` into the model grid (or load it from ``cache_dir``).

    Args:
        manifest: a loaded :class:`~skullvae.data.manifest.Manifest`.
        split: split name (``train``, ``val``, ``test``).
        grid: model grid, 3 ints.
        voxel_mm: model voxel size.
        progress: show a rich progress bar.
        with_pairs: also build the complete-in-defective-frame volumes.
        cache_dir: folder for the ``.npz`` cache file (None = memory only).

    Returns:
        The :class:`GridCache`.
    """
    grid = tuple(int(g) for g in grid)
    cases = manifest.split(split)
    if not cases:
        raise SkullVAEError(f"manifest {manifest.name!r} has no cases in split {split!r}")
    key = hashlib.sha256(f"{manifest_digest(manifest)}:{split}:{grid}:{voxel_mm}:{with_pairs}:vault{VAULT_DEPTH_MM}".encode()).hexdigest()[:16]
    cache_file = Path(cache_dir) / f"grid-{split}-{key}.npz" if cache_dir is not None else None
    if cache_file is not None and cache_file.is_file():
        return _read_cache(cache_file)
    manifest.validate()
    jobs: list[tuple[str, str, Path]] = []
    for case in cases:
        if case.complete is not None:
            jobs.append((case.skull_id, COMPLETE, case.complete))
        for t in manifest.defect_types:
            if t in case.defective:
                jobs.append((case.skull_id, t, case.defective[t]))
    n_pairs = sum(1 for c in cases if c.complete is not None for t in c.defective) if with_pairs else 0
    volumes = np.zeros((len(jobs), *grid), dtype=np.uint8)
    pair_complete = np.zeros((n_pairs, *grid), dtype=np.uint8)
    kinds, ids, pair_index = [], [], []
    complete_vol: dict[str, object] = {}
    from skullvae.training.progress import make_progress

    with make_progress(enabled=progress) as bar:
        task = bar.add_task(f"resampling {split} masks", total=len(jobs) + n_pairs)
        for i, (sid, kind, path) in enumerate(jobs):
            vol = _load_mask(path)
            frame = frame_for(vol, grid, voxel_mm)
            volumes[i] = to_grid(vol, frame) >= 0.5
            kinds.append(kind)
            ids.append(sid)
            bar.advance(task)
            if kind == COMPLETE:
                complete_vol[sid] = vol
            elif with_pairs and sid in complete_vol:
                pair_complete[len(pair_index)] = to_grid(complete_vol[sid], frame) >= 0.5  # type: ignore[arg-type]
                pair_index.append(i)
                bar.advance(task)
    out = GridCache(volumes, kinds, ids, pair_complete[: len(pair_index)], pair_index, grid, float(voxel_mm),
                    {"split": split, "key": key})
    if cache_file is not None:
        _write_cache(cache_file, out)
    return out


def _write_cache(path: Path, cache: GridCache) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, volumes=cache.volumes, pair_complete=cache.pair_complete,
                                pair_index=np.asarray(cache.pair_index, dtype=np.int64),
                                meta=np.frombuffer(json.dumps({"kinds": cache.kinds, "skull_ids": cache.skull_ids,
                                                               "grid": list(cache.grid), "voxel_mm": cache.voxel_mm,
                                                               "meta": cache.meta}).encode(), dtype=np.uint8))


def _read_cache(path: Path) -> GridCache:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes().decode())
        return GridCache(data["volumes"], meta["kinds"], meta["skull_ids"], data["pair_complete"],
                         [int(i) for i in data["pair_index"]], tuple(meta["grid"]), float(meta["voxel_mm"]),
                         meta["meta"])


def shift_volume(array: np.ndarray, offset) -> np.ndarray:
    """Shift a 3D array by integer voxels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(array)
    src, dst = [], []
    for o, n in zip(offset, array.shape):
        o = int(o)
        src.append(slice(max(0, -o), n - max(0, o)))
        dst.append(slice(max(0, o), n - max(0, -o)))
    out[tuple(dst)] = array[tuple(src)]
    return out


class GridDataset(torch.utils.data.Dataset):
    """Torch view of cached volumes: item ``i`` → ``(float tensor [1, D, H, W], i)``.

    Args:
        volumes: ``uint8 [N, D, H, W]``.
        shift: maximum random shift in voxels (0 = no augmentation).
        seed: augmentation seed.
    """

    def __init__(self, volumes: np.ndarray, shift: int = 0, seed: int = 0):
        self.volumes = volumes
        self.shift = int(shift)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draw of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.volumes.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        arr = self.volumes[index]
        if self.shift > 0:
            rng = np.random.default_rng([self.seed, self.epoch, int(index)])
            arr = shift_volume(arr, rng.integers(-self.shift, self.shift + 1, size=3))
        return torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(0).float(), int(index)
