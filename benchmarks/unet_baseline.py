"""The supervised peer: a MONAI 3D U-Net from the defective skull to the complete skull.

The standard AutoImplant 2020/2021 approach (a 3D U-Net trained on defective →
complete/implant pairs), trained on the same training split, in the same model grid
and under a wall-clock budget, then scored by ``skullvae evaluate``'s scorer
(:func:`skullvae.evaluation.evaluate`) on the same cases as our model.

* **Inputs** are exactly what the VAE sees: every defective training skull placed in
  the model grid by :func:`skullvae.preprocessing.model_grid.frame_for` / ``to_grid``
  (the training cache of :mod:`skullvae.data.dataset`), thresholded at 0.5; the
  target is the complete skull resampled in the *defective* skull's frame.
* **Network**: ``monai.networks.nets.UNet`` (3D, 1 → 1 channel, instance norm, one
  residual unit per level), loss = BCE on the complete skull + soft Dice of the
  implant part ``p·(1 − x)`` against ``t·(1 − x)`` (the missing bone, which the BCE
  alone under-weights). Adam, cosine learning rate over the *time* budget, the
  same ±``--shift`` voxel augmentation as the VAE (applied to input and target alike).
* **Implant**: the U-Net's completed skull is a :class:`~skullvae.completion.result.Completion`
  in the case's model-grid frame, turned into an implant on the input grid by the same
  implant stage as ``skullvae complete``
  (:func:`skullvae.evaluation.prediction_from_completion`): mode ``unet`` = the rim
  step with the U-Net's skull as its only prior (as ``--mode dev``), ``unet:auto`` =
  the rim step choosing between the U-Net's skull, the mirror image and the rim's own
  surfaces by the held-out ring (as ``--mode auto``), ``unet:norim`` = the completed
  skull minus the bone (``--no-rim``, the classical AutoImplant post-processing).
* Weights: ``OUT/unet.safetensors`` + ``OUT/config.json`` (never a pickle).

Usage::

    python benchmarks/unet_baseline.py train DATA/manifest.json --out runs/unet --budget-min 17 \\
        --grid 64,80,64 --voxel-mm 2.8
    python benchmarks/unet_baseline.py evaluate runs/unet --data DATA/manifest.json -o eval_unet \\
        [--modes unet,unet:auto,unet:norim] [--split test] [--match-components]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError

UNET_MODES = ("unet", "unet:auto", "unet:norim")


def build_unet(config: dict):
    """The MONAI 3D U-Net of a config dict (``channels``, ``strides``, ``res_units``)."""
    from monai.networks.nets import UNet

    return UNet(spatial_dims=3, in_channels=1, out_channels=1, channels=tuple(config["channels"]),
                strides=tuple(config["strides"]), num_res_units=int(config["res_units"]), norm="instance")


def _pairs(cache) -> tuple[np.ndarray, np.ndarray]:
    """(defective, complete in the defective frame) uint8 arrays of a training cache."""
    if not len(cache.pair_index):
        raise SkullVAEError("the training split has no (defective, complete) pairs")
    return cache.volumes[cache.pair_index], cache.pair_complete


def unet_loss(logits, x, target):
    """BCE on the complete skull + soft Dice of the implant part (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float())
    free = 1.0 - x
    p = torch.sigmoid(logits.float()) * free
    t = target * free
    dice = 1.0 - (2 * (p * t).flatten(1).sum(1) + 1) / (p.flatten(1).sum(1) + t.flatten(1).sum(1) + 1)
    return bce + dice.mean()


def train(manifest: Path, out: Path, budget_min: float, grid, voxel_mm: float | None, max_epochs: int | None,
          batch_size: int, lr: float, channels, shift: int, seed: int, device: str, overwrite: bool) -> dict:
    """Train under the budget; write ``unet.safetensors`` + ``config.json``; return the config."""
    import torch

    from skullvae.data.dataset import build_cache, shift_volume
    from skullvae.data.manifest import load_manifest
    from skullvae.io.atomic import atomic_write_text
    from skullvae.model.checkpoint import save_weights
    from skullvae.training.common import auto_voxel_mm
    from skullvae.training.state import seed_everything

    if (out / "config.json").exists() and not overwrite:
        raise SkullVAEError(f"{out} already holds a U-Net (pass --overwrite)")
    grid3 = tuple(grid) if len(grid) == 3 else (grid[0],) * 3
    strides = (2,) * (len(channels) - 1)
    if any(g % (2 ** len(strides)) for g in grid3):
        raise SkullVAEError(f"--grid {grid3} must be divisible by {2 ** len(strides)} for {len(channels)} levels")
    vmm = voxel_mm if voxel_mm is not None else auto_voxel_mm(str(manifest), grid3)
    t0 = time.perf_counter()
    cache = build_cache(load_manifest(manifest), "train", grid3, vmm, progress=False, cache_dir=out / "cache")
    x_all, t_all = _pairs(cache)
    data_s = time.perf_counter() - t0
    seed_everything(seed)
    config = {"format": "skullvae-unet-baseline", "version": 1, "grid": list(grid3), "voxel_mm": float(vmm),
              "channels": list(channels), "strides": list(strides), "res_units": 1, "target": "complete skull",
              "data": {"manifest": str(manifest.resolve()), "train_split": "train", "pairs": int(len(x_all)),
                       "shift": shift},
              "train": {"budget_min": budget_min, "max_epochs": max_epochs, "batch_size": batch_size, "lr": lr,
                        "seed": seed, "device": device}}
    net = build_unet(config).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    budget_s = budget_min * 60.0
    rng = np.random.default_rng(seed)
    steps, epochs, losses, start = 0, 0, [], time.perf_counter()
    stop = False
    while not stop:
        order = rng.permutation(len(x_all))
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            xs, ts = [], []
            for j in idx:
                off = rng.integers(-shift, shift + 1, size=3) if shift else (0, 0, 0)
                xs.append(shift_volume(x_all[j], off))
                ts.append(shift_volume(t_all[j], off))
            x = torch.from_numpy(np.stack(xs)[:, None].astype(np.float32)).to(device)
            t = torch.from_numpy(np.stack(ts)[:, None].astype(np.float32)).to(device)
            frac = min(1.0, (time.perf_counter() - start) / budget_s)
            for g in opt.param_groups:  # cosine over the time budget, floor 5 %
                g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
            net.train()
            loss = unet_loss(net(x), x, t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed + elapsed / steps > budget_s:
                stop = True
                break
        epochs += 1
        print(f"epoch {epochs}: {steps} steps, loss {np.mean(losses[-max(1, len(order) // batch_size):]):.4f}, "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        if max_epochs is not None and epochs >= max_epochs:
            stop = True
    config["result"] = {"train_s": round(time.perf_counter() - start, 1), "data_s": round(data_s, 1), "steps": steps,
                        "epochs": epochs, "final_loss": float(np.mean(losses[-10:]))}
    out.mkdir(parents=True, exist_ok=True)
    save_weights(out / "unet.safetensors", {k: v.detach().cpu() for k, v in net.state_dict().items()},
                 {"format": "skullvae-unet-baseline"})
    atomic_write_text(out / "config.json", json.dumps(config, indent=1) + "\n")
    return config


def load_unet(run: Path, device: str = "cpu"):
    """``(net, config)`` of a trained baseline (safetensors + JSON)."""
    from skullvae.model.checkpoint import load_into, load_weights

    if not (run / "config.json").is_file() or not (run / "unet.safetensors").is_file():
        raise SkullVAEError(f"{run} holds no trained U-Net baseline (config.json + unet.safetensors)")
    config = json.loads((run / "config.json").read_text())
    net = build_unet(config)
    tensors, _ = load_weights(run / "unet.safetensors")
    load_into(net, tensors, str(run / "unet.safetensors"))
    return net.to(device).eval().requires_grad_(False), config


def unet_completers(net, config: dict, modes=UNET_MODES, device: str = "cpu") -> dict:
    """``{mode: complete(case, volume)}`` for the evaluator (see the module docstring)."""
    import torch

    from skullvae.completion.options import CompletionOptions
    from skullvae.completion.result import Completion
    from skullvae.evaluation import prediction_from_completion
    from skullvae.evaluation.completers import upright_mask

    def make(mode: str):
        flag = mode.partition(":")[2]
        # "dev" only selects the rim step's own-prior behaviour; no VAE is involved (model=None)
        opts = CompletionOptions(mode="auto" if flag == "auto" else "dev", rim=flag != "norim")

        @torch.no_grad()
        def complete(case, volume):
            prepared = upright_mask(volume)  # complete's preprocess and pose stages
            prepared.place(config["grid"], float(config["voxel_mm"]))
            x = torch.from_numpy((prepared.grid_array >= 0.5).astype(np.float32))[None, None].to(device)
            prob = torch.sigmoid(net(x).float())[0, 0].cpu().numpy()
            completion = Completion("unet", prepared.frame, prob, prepared.grid_array, info={"method": "unet"})
            return prediction_from_completion(prepared, completion, opts, model=None)

        return complete

    return {m: make(m) for m in modes}


def evaluate_unet(run: Path, data: Path, out: Path, modes, split: str, match_components: bool, limit: int | None,
                  overwrite: bool, device: str = "cpu", types: list[str] | None = None) -> list[dict]:
    """Score the baseline with ``skullvae evaluate``'s scorer on a manifest's cases."""
    from skullvae.data.manifest import load_manifest
    from skullvae.evaluation import evaluate, evaluation_cases

    unknown = [m for m in modes if m not in UNET_MODES]
    if unknown:
        raise SkullVAEError(f"unknown U-Net mode(s) {', '.join(unknown)} (choose from {', '.join(UNET_MODES)})")
    net, config = load_unet(run, device)
    cases = evaluation_cases(load_manifest(data), split, types, limit)
    settings = {"data": str(data.resolve()), "split": split, "model": f"unet-baseline:{run.resolve()}",
                "defect_type_hint": False, "types": types, "limit": limit}

    def progress(done, total, case, mode, row):
        if row is not None:
            print(f"[{done}/{total}] {case.skull_id} {case.defect_type} {mode}: DSC {row['dsc']:.3f} "
                  f"HD95 {row['hd95']:.2f} mm", file=sys.stderr, flush=True)

    return evaluate(cases, unet_completers(net, config, modes, device), out, settings=settings,
                    match_components=match_components, overwrite=overwrite, progress=progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train the U-Net under a time budget")
    tr.add_argument("manifest", type=Path)
    tr.add_argument("--out", type=Path, required=True)
    tr.add_argument("--budget-min", type=float, required=True, help="wall-clock training budget (minutes)")
    tr.add_argument("--max-epochs", type=int, default=None, help="stop earlier after this many epochs (smoke tests)")
    tr.add_argument("--grid", default="64,80,64")
    tr.add_argument("--voxel-mm", type=float, default=None, help="default: fit the largest training skull")
    tr.add_argument("--channels", default="8,16,32,64")
    tr.add_argument("--batch-size", type=int, default=2)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--shift", type=int, default=2)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu")
    tr.add_argument("--overwrite", action="store_true")
    ev = sub.add_parser("evaluate", help="score a trained U-Net with skullvae evaluate's scorer")
    ev.add_argument("run", type=Path)
    ev.add_argument("--data", type=Path, required=True)
    ev.add_argument("-o", "--output", type=Path, required=True)
    ev.add_argument("--modes", default=",".join(UNET_MODES))
    ev.add_argument("--split", default="test")
    ev.add_argument("--match-components", action="store_true")
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--types", default=None, help="comma-separated defect types (default: all)")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "train":
        ints = lambda s: [int(v) for v in s.replace("x", ",").split(",") if v.strip()]  # noqa: E731
        config = train(args.manifest, args.out, args.budget_min, ints(args.grid), args.voxel_mm, args.max_epochs,
                       args.batch_size, args.lr, ints(args.channels), args.shift, args.seed, args.device, args.overwrite)
        print(json.dumps(config["result"]))
    else:
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
        rows = evaluate_unet(args.run, args.data, args.output, modes, args.split, args.match_components, args.limit,
                             args.overwrite, args.device, types)
        print(f"{len(rows)} rows in {args.output / 'scores.csv'}; summary in {args.output / 'summary.md'}")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main, __file__)
