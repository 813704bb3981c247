"""Exact-resume training state: model, optimiser, scheduler, objective, RNGs, counters.

The state is written atomically (one safetensors file, structure in its JSON
metadata) at the end of every epoch; ``--resume`` restores everything, so a run
killed at any moment continues from its last finished epoch and ends with the
same weights as an uninterrupted run.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from skullvae.model.checkpoint import load_state, save_state


def rng_state() -> dict:
    """Python, numpy and torch (CPU and CUDA) RNG states."""
    py = random.getstate()
    np_state = np.random.get_state()
    out = {"python": [py[0], list(py[1]), py[2]],
           "numpy": [np_state[0], np_state[1], int(np_state[2]), int(np_state[3]), float(np_state[4])],
           "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state` output."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_training_state(path: Path, *, module, optimizer, scheduler, objective, epoch: int, step: int,
                        history: list[dict]) -> None:
    """Write everything needed to continue after ``epoch`` (atomic)."""
    save_state(path, {
        "module": module.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "objective": objective.state_dict() if objective is not None else None,
        "rng": rng_state(), "epoch": int(epoch), "step": int(step), "history": history,
    })


def load_training_state(path: Path, *, module, optimizer, scheduler, objective) -> tuple[int, int, list[dict]]:
    """Restore a state written by :func:`save_training_state`.

    Returns:
        ``(epochs_done, step, history)``.
    """
    state = load_state(path)
    module.load_state_dict(state["module"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if objective is not None and state["objective"] is not None:
        objective.load_state_dict(state["objective"])
    set_rng_state(state["rng"])
    return int(state["epoch"]), int(state["step"]), list(state["history"])
