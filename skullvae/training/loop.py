"""The epoch loop shared by stage 1 and stage 2.

Speed features: uint8 in-memory data converted per batch, ``channels_last_3d``
tensors and weights, bf16 autocast on CUDA, optional ``torch.compile``, DataLoader
workers. Every epoch ends with a validation pass (if given) and, on rank 0, an
atomic save of the weights, the exact-resume state, ``metrics.csv`` and the loss
curve PNG. Batch order is a function of ``(seed, epoch)`` and augmentation of
``(seed, epoch, index)``, so a resumed run repeats an interrupted one exactly.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from skullvae.io.atomic import atomic_path, atomic_write_text
from skullvae.training.distributed import DistInfo, all_reduce_mean
from skullvae.training.progress import make_progress
from skullvae.training.state import load_training_state, save_training_state

ForwardFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, dict, torch.Tensor]]


@dataclass
class LoopSettings:
    """Knobs of the training loop.

    Args:
        epochs: total number of epochs (a resumed run stops at the same total).
        batch_size: volumes per step and per process.
        lr: peak Adam learning rate (linear warm-up, then cosine decay to 5 %).
        seed: seed of the batch order and augmentation.
        device: torch device.
        amp: bf16 autocast (CUDA only; ignored on CPU).
        compile: wrap the module in ``torch.compile``.
        workers: DataLoader worker processes.
        progress: show the rich progress bar.
        stop_after_epochs: stop (as if killed) after this many epochs of this call; for tests.
    """

    epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    seed: int = 0
    device: torch.device = torch.device("cpu")
    amp: bool = True
    compile: bool = False
    workers: int = 0
    progress: bool = True
    stop_after_epochs: int | None = None


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, info: DistInfo) -> list[list[int]]:
    """This rank's batches of one epoch (same count on every rank)."""
    g = torch.Generator().manual_seed(int(seed) * 100003 + int(epoch))
    perm = torch.randperm(n, generator=g).tolist()
    if info.world > 1:
        perm = (perm * math.ceil(info.world / max(1, n) + 1))[: math.ceil(n / info.world) * info.world]
    mine = perm[info.rank :: info.world]
    return [mine[i : i + batch_size] for i in range(0, len(mine), batch_size)]


def steps_per_epoch(n: int, batch_size: int, info: DistInfo) -> int:
    """Optimisation steps in one epoch."""
    return math.ceil(math.ceil(n / info.world) / batch_size)


def make_scheduler(optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over 5 % of the steps, then cosine decay to 5 % of the peak."""
    warm = max(1, int(0.05 * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total_steps - warm))
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def write_metrics(history: list[dict], csv_path: Path, png_path: Path | None) -> None:
    """Write ``metrics.csv`` and the loss-curve PNG from the epoch history (atomic)."""
    if not history:
        return
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(csv_path, buf.getvalue())
    if png_path is not None:
        plot_history(history, png_path)


def plot_history(history: list[dict], path: Path) -> None:
    """Loss terms (log scale when positive) and validation Dice against epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key in history[-1]:
        if key.startswith("train_"):
            vals = [r.get(key, float("nan")) for r in history]
            ax.plot(epochs, vals, label=key[6:])
    ax.set_xlabel("epoch")
    ax.set_title("training terms (per voxel / nats)")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=7)
    for key in history[-1]:
        if key.startswith("val_"):
            ax2.plot(epochs, [r.get(key, float("nan")) for r in history], label=key)
    ax2.set_xlabel("epoch")
    ax2.set_title("validation")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def train_loop(*, name: str, module: torch.nn.Module, forward: ForwardFn, dataset, objective, settings: LoopSettings,
               info: DistInfo, state_path: Path, save_weights: Callable[[], None], csv_path: Path, png_path: Path,
               evaluate: Callable[[], dict] | None = None, resume: bool = False,
               parameters=None) -> list[dict]:
    """Train ``module`` for ``settings.epochs`` epochs.

    Args:
        name: label of the progress bar (``stage 1``).
        module: the trained module (its state is saved/restored; DDP-wrapped when distributed).
        forward: ``forward(module_for_call, x, indices, step) -> (loss, logs, logits)``.
        dataset: map-style dataset of ``(x, index)`` items with ``set_epoch``.
        objective: object with ``auxiliary_step`` and ``state_dict`` (or None).
        settings: :class:`LoopSettings`.
        info: distributed rank information.
        state_path: resume-state file.
        save_weights: writes the weights file (called on rank 0 after each epoch).
        csv_path, png_path: metrics outputs.
        evaluate: returns validation metrics (called on every rank after each epoch).
        resume: continue from ``state_path``.
        parameters: parameters to optimise (default: all of ``module``).

    Returns:
        The per-epoch history (list of dicts).
    """
    device = settings.device
    cuda = device.type == "cuda"
    module.to(device).to(memory_format=torch.channels_last_3d)
    params = list(module.parameters()) if parameters is None else list(parameters)
    optimizer = torch.optim.Adam(params, lr=settings.lr)
    total = settings.epochs * steps_per_epoch(len(dataset), settings.batch_size, info)
    scheduler = make_scheduler(optimizer, total)
    start_epoch, step, history = 0, 0, []
    if resume and state_path.is_file():
        start_epoch, step, history = load_training_state(state_path, module=module, optimizer=optimizer,
                                                         scheduler=scheduler, objective=objective)
    call = module
    if info.enabled:
        import warnings

        # channels_last weights with one input channel have ambiguous strides; DDP warns but is correct
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        call = torch.nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if cuda else None)
    if settings.compile:
        call = torch.compile(call)
    epochs_run = 0
    with make_progress(enabled=settings.progress and info.is_main) as bar:
        task = bar.add_task(name, total=total, completed=start_epoch * (total // max(1, settings.epochs)))
        for epoch in range(start_epoch, settings.epochs):
            if settings.stop_after_epochs is not None and epochs_run >= settings.stop_after_epochs:
                break
            t0 = time.perf_counter()
            dataset.set_epoch(epoch)
            batches = epoch_batches(len(dataset), settings.batch_size, settings.seed, epoch, info)
            loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=settings.workers,
                                                 pin_memory=cuda)
            module.train()
            sums: dict[str, float] = {}
            n_seen = 0
            for x, idx in loader:
                x = x.to(device, non_blocking=True).to(memory_format=torch.channels_last_3d)
                with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=settings.amp and cuda):
                    loss, logs, logits = forward(call, x, idx, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                if objective is not None:
                    logs.update(objective.auxiliary_step(logits, x, step))
                if not all(math.isfinite(v) for v in logs.values()):
                    from skullvae.errors import SkullVAEError

                    raise SkullVAEError(f"{name}: non-finite loss at step {step} ({logs}); lower --lr or change --objective")
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                n_seen += 1
                step += 1
                bar.update(task, advance=1, info=f"ep {epoch + 1}/{settings.epochs} "
                           + " ".join(f"{k}={v:.4g}" for k, v in list(logs.items())[:4]))
            means = all_reduce_mean({f"train_{k}": v / max(1, n_seen) for k, v in sums.items()}, info)
            row = {"epoch": epoch + 1, "step": step, "lr": scheduler.get_last_lr()[0], **means}
            if evaluate is not None:
                module.eval()
                row.update(all_reduce_mean(evaluate(), info))
            row["time_s"] = time.perf_counter() - t0
            row["samples_per_s"] = n_seen * settings.batch_size * info.world / row["time_s"]
            history.append(row)
            if info.is_main:
                save_weights()
                save_training_state(state_path, module=module, optimizer=optimizer, scheduler=scheduler,
                                    objective=objective, epoch=epoch + 1, step=step, history=history)
                write_metrics(history, csv_path, png_path)
            epochs_run += 1
    module.eval()
    return history
