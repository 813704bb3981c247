"""Training throughput: our loop against a plain fp32 loop in the style of the skullVAE scripts.

Both loops train the same model at the same grid with the same objective for the
same number of steps; only the data path and numerics differ:

* **ours**: masks resampled once into a uint8 in-memory cache, converted per batch,
  ``channels_last_3d`` model and inputs, bf16 autocast on CUDA, optional
  ``torch.compile``.
* **plain**: every step reads the NIfTI masks from disk and resamples them into the
  grid again (float32), contiguous NCDHW tensors, fp32, no autocast.

Usage::

    python benchmarks/train_throughput.py                      # toy data, 64³, CPU/GPU auto
    python benchmarks/train_throughput.py --data DATA/manifest.json --grid 128 --device cuda

Prints samples/s of each loop and the ratio, plus one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from skullvae.data.dataset import build_cache
from skullvae.data.manifest import load_manifest
from skullvae.io.readers import read_volume
from skullvae.model.vae import SkullVAE, VAEConfig
from skullvae.objectives import build_objective
from skullvae.preprocessing.model_grid import frame_for, to_grid
from skullvae.training.common import resolve_device


def _paths(manifest) -> list[Path]:
    out = []
    for case in manifest.split("train"):
        if case.complete is not None:
            out.append(case.complete)
        out += list(case.defective.values())
    return out


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_ours(cfg, volumes: np.ndarray, steps: int, batch: int, device, compile_: bool) -> float:
    """Samples/s of the optimised loop."""
    torch.manual_seed(0)
    model = SkullVAE(cfg).to(device).to(memory_format=torch.channels_last_3d)
    call = torch.compile(model) if compile_ else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    obj = build_objective("beta")
    rng = np.random.default_rng(0)
    cuda = device.type == "cuda"

    def step(i):
        idx = rng.integers(0, len(volumes), batch)
        x = torch.from_numpy(volumes[idx]).to(device, non_blocking=True).unsqueeze(1).float()
        x = x.contiguous(memory_format=torch.channels_last_3d)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            logits, mu, logvar, _ = call(x)
            loss, _ = obj(logits, x, mu, logvar, i)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _samples_per_second(step, steps, batch, device, warmup=3)  # warm-up includes compilation


def _samples_per_second(step, steps: int, batch: int, device, warmup: int) -> float:
    """Run ``warmup`` untimed steps, then time ``steps`` steps of ``batch`` samples."""
    for i in range(warmup):
        step(i)
    _sync(device)
    t = time.perf_counter()
    for i in range(steps):
        step(i)
    _sync(device)
    return steps * batch / (time.perf_counter() - t)


def run_plain(cfg, paths: list[Path], steps: int, batch: int, device) -> float:
    """Samples/s of the skullVAE-script-style loop (disk + resampling each step, fp32, NCDHW)."""
    torch.manual_seed(0)
    model = SkullVAE(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    obj = build_objective("beta")
    rng = np.random.default_rng(0)

    def step(i):
        xs = []
        for j in rng.integers(0, len(paths), batch):
            vol = read_volume(paths[j])
            xs.append((to_grid(vol, frame_for(vol, cfg.grid, cfg.voxel_mm)) >= 0.5).astype(np.float32))
        x = torch.from_numpy(np.stack(xs)).unsqueeze(1).to(device)
        logits, mu, logvar, _ = model(x)
        loss, _ = obj(logits, x, mu, logvar, i)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _samples_per_second(step, steps, batch, device, warmup=1)


def main(argv=None) -> dict:
    """Run both loops and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="manifest (default: a toy data set in a temp folder)")
    parser.add_argument("--grid", type=int, default=64)
    parser.add_argument("--voxel-mm", type=float, default=None, help="default: 224 mm / grid")
    parser.add_argument("--channels", default="8,16,32,64")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    voxel = args.voxel_mm or 224.0 / args.grid
    channels = tuple(int(c) for c in args.channels.split(","))
    cfg = VAEConfig(grid=(args.grid,) * 3, voxel_mm=voxel, channels=channels, strides=(2,) * len(channels))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from skullvae.training.toy_data import make_toy_dataset

            data = make_toy_dataset(Path(tmp) / "toy", n=4, shape=64, spacing=3.5)
        manifest = load_manifest(data)
        t = time.perf_counter()
        cache = build_cache(manifest, "train", cfg.grid, cfg.voxel_mm, progress=False, with_pairs=False)
        cache_s = time.perf_counter() - t
        ours = run_ours(cfg, cache.volumes, args.steps, args.batch_size, device, args.compile)
        plain = run_plain(cfg, _paths(manifest), args.steps, args.batch_size, device)
    result = {"device": str(device), "grid": args.grid, "batch_size": args.batch_size, "steps": args.steps,
              "threads": torch.get_num_threads(), "cache_build_s": round(cache_s, 2),
              "ours_samples_per_s": round(ours, 2), "plain_samples_per_s": round(plain, 2),
              "ratio": round(ours / plain, 2)}
    print(f"device {device}, grid {args.grid}³, batch {args.batch_size}, {args.steps} steps, "
          f"{torch.get_num_threads()} threads")
    print(f"  ours  (uint8 cache, channels_last_3d{', bf16' if device.type == 'cuda' else ''}"
          f"{', compile' if args.compile else ''}): {ours:8.2f} samples/s")
    print(f"  plain (disk+resample each step, fp32, NCDHW):       {plain:8.2f} samples/s")
    print(f"  ratio: {ours / plain:.2f}x")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
