"""What ``--resume`` may change: a longer schedule, nothing else.

A resumed run continues exactly where it stopped, so the architecture, the grid,
the objective, the data and the optimisation settings are those stored in the
run's ``config.json``. Options given again on resume are compared with them: the
same value is fine, another value is refused with one line (start a new run for
it), except ``epochs``, which may grow — the schedule is then extended (the
learning-rate schedule is stretched to the new total from the current step on,
so the result differs from an uninterrupted run of the new length, which the
warning says).
"""

from __future__ import annotations

import logging
import math

from skullvae.errors import SkullVAEError

logger = logging.getLogger(__name__)

#: Option name → where stage 1 stores it in ``config.json``.
STAGE1_STORED = {
    "grid": ("model", "grid"), "voxel_mm": ("model", "voxel_mm"), "latent_size": ("model", "latent_size"),
    "channels": ("model", "channels"), "num_res_units": ("model", "num_res_units"), "norm": ("model", "norm"),
    "objective": ("objective", "name"), "beta": ("objective", "beta"), "shift": ("data", "shift"),
    "batch_size": ("stage1", "batch_size"), "lr": ("stage1", "lr"), "seed": ("stage1", "seed"),
}
#: The same for stage 2.
STAGE2_STORED = {"batch_size": ("stage2", "batch_size"), "lr": ("stage2", "lr"), "seed": ("stage2", "seed")}

_FLAGS = {"num_res_units": "--res-units", "latent_size": "--latent-size", "voxel_mm": "--voxel-mm",
          "batch_size": "--batch-size"}


def _flag(name: str) -> str:
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def _same(stored, given) -> bool:
    if isinstance(stored, (list, tuple)) or isinstance(given, (list, tuple)):
        a = list(stored) if isinstance(stored, (list, tuple)) else [stored]
        b = list(given) if isinstance(given, (list, tuple)) else [given]
        if len(a) != len(b) and len(b) == 1:  # --grid 64 means 64,64,64
            b = b * len(a)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(stored, (int, float)) and isinstance(given, (int, float)):
        return math.isclose(float(stored), float(given), rel_tol=1e-9, abs_tol=1e-12)
    return stored == given


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_resume_options(config: dict, stage: int, requested: dict) -> None:
    """Refuse options given on ``--resume`` that differ from the run's stored ones.

    Args:
        config: the run's ``config.json``.
        stage: 1 or 2.
        requested: the options given explicitly (``epochs`` is not checked here).

    Raises:
        SkullVAEError: naming the option, both values and what to do.
    """
    stored_at = STAGE1_STORED if stage == 1 else STAGE2_STORED
    for name, given in requested.items():
        if name == "epochs" or given is None:
            continue
        if name == "data":
            stored = config.get("data", {}).get("manifest")
            if stored is not None and str(given) != str(stored):
                from pathlib import Path

                if Path(given).resolve() != Path(stored).resolve():
                    raise SkullVAEError(f"cannot resume with --data {given}: the run was trained on {stored}; "
                                        "drop --data, or start a new run with another --out")
            continue
        if name not in stored_at:
            continue
        section, key = stored_at[name]
        stored = config.get(section, {}).get(key)
        if stored is None or _same(stored, given):
            continue
        what = "architecture and grid are fixed" if section == "model" else "a resumed run keeps its settings"
        raise SkullVAEError(
            f"cannot resume with {_flag(name)} {_show(given)}: the run was started with {_show(stored)} "
            f"({what}); drop {_flag(name)}, or start a new run with another --out"
        )


def resolve_resume_epochs(stored_epochs: int, requested: int | None, epochs_done: int, stage: int) -> int:
    """The total number of epochs of a resumed run.

    Args:
        stored_epochs: the total stored in the run.
        requested: ``--epochs`` given on resume (None: keep the stored total).
        epochs_done: epochs finished so far.
        stage: 1 or 2 (for messages).

    Returns:
        The total to train to (a longer one is announced with a warning).

    Raises:
        SkullVAEError: a total smaller than the stored one.
    """
    if requested is None or requested == stored_epochs:
        return stored_epochs
    if requested < stored_epochs:
        raise SkullVAEError(
            f"cannot resume stage {stage} with --epochs {requested}: the run is set to {stored_epochs} epochs "
            f"({epochs_done} done) and a resumed run can only be extended; drop --epochs or pass more than {stored_epochs}"
        )
    logger.warning("extending stage %d from %d to %d epochs (%d done): the learning-rate schedule is stretched to "
                   "%d epochs from here on, so the result differs from an uninterrupted %d-epoch run",
                   stage, stored_epochs, requested, epochs_done, requested, requested)
    return requested


def epochs_done(metrics_csv) -> int:
    """Epochs finished so far, from a stage's ``metrics.csv`` (0 when there is none)."""
    from pathlib import Path

    path = Path(metrics_csv)
    if not path.is_file():
        return 0
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    return max(0, len(lines) - 1)
