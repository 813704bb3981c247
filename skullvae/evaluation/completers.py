"""Completers: ``complete(case, volume) -> ImplantPrediction`` for every method scored.

A completer gets an :class:`~skullvae.evaluation.cases.EvalCase` and its defective
volume as read, and returns the predicted implant on that volume's grid. The toolkit's
own modes are wrapped by :func:`mode_completers` exactly as ``skullvae complete`` runs
them (:func:`~skullvae.completion.modes.run_completion`, then
:func:`~skullvae.completion.pipeline.make_implant`); any other method that produces a
completed skull in some grid frame (e.g. the supervised U-Net of
``benchmarks/unet_baseline.py``) derives its implant the same way with
:func:`prediction_from_completion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np

from skullvae.completion.options import MODES, CompletionOptions
from skullvae.errors import SkullVAEError

#: The suffix of a mode without the rim step (``auto:norim`` = ``--mode auto --no-rim``).
NO_RIM = "norim"


@dataclass
class ImplantPrediction:
    """A predicted implant and what the method reported about it.

    Attributes:
        mask: uint8/bool implant mask on the defective volume's grid.
        defective_mask: the bone mask the method used (after its clean-up), same grid;
            None = the defective volume's non-zero voxels. bDSC is measured around it.
        gap_median_mm, gap_p95_mm: rim gap of the implant (NaN when not measured).
        defects: defects found (0 when not counted).
        info: anything else (JSON-able), not scored.
    """

    mask: np.ndarray
    defective_mask: np.ndarray | None = None
    gap_median_mm: float = float("nan")
    gap_p95_mm: float = float("nan")
    defects: int = 0
    info: dict = field(default_factory=dict)


Completer = Callable[..., Union[ImplantPrediction, np.ndarray]]


def parse_modes(text: str) -> list[str]:
    """Check a comma-separated mode list (``auto,dev,mirror,auto:norim``).

    Raises:
        SkullVAEError: an unknown mode or suffix, or an empty list.
    """
    modes = [m.strip() for m in text.split(",") if m.strip()]
    if not modes:
        raise SkullVAEError("--modes is empty (e.g. --modes auto,dev,mirror)")
    for m in modes:
        base, _, flag = m.partition(":")
        if base not in MODES or flag not in ("", NO_RIM):
            raise SkullVAEError(f"unknown mode {m!r} (choose from {', '.join(MODES)}, each optionally with "
                                f":{NO_RIM} for --no-rim)")
    if len(set(modes)) != len(modes):
        raise SkullVAEError(f"--modes lists a mode twice: {text}")
    return modes


def prediction_from_completion(case, completion, opts: CompletionOptions, model=None) -> ImplantPrediction:
    """The implant stage of ``skullvae complete`` on any method's completed skull.

    Args:
        case: the :class:`~skullvae.preprocessing.pipeline.PreparedCase` (from ``load_mask``).
        completion: a :class:`~skullvae.completion.result.Completion` (completed-bone
            probability in some grid frame).
        opts: ``opts.rim`` chooses the rim step (the completion is then its ``model``
            prior) or the completed skull minus the bone; ``opts.mode`` chooses the priors
            the rim step may pick from (``auto``: model, mirror, none; otherwise its own).
        model: the VAE (for ``dev`` without a defect type: every DEV's completion), or None.

    Returns:
        The :class:`ImplantPrediction` with the rim gap and defect count of the rim step.
    """
    from skullvae.completion.pipeline import make_implant

    implant, rim = make_implant(case, completion, opts, model)
    pred = ImplantPrediction(implant.full(np.uint8), defective_mask=case.mask.array)
    if rim is not None:
        gap = rim.info["rim_gap_mm"]
        pred.gap_median_mm, pred.gap_p95_mm = float(gap["median"]), float(gap["p95"])
        pred.defects = int(rim.info["defects_found"])
        pred.info["prior"] = rim.info.get("prior")
    return pred


def upright_mask(volume, hu_threshold: float = 300.0, pose: str = "auto"):
    """``complete``'s preprocess and pose stages: the bone mask, turned upright with ``pose="auto"``."""
    from skullvae.preprocessing.pipeline import load_mask

    prepared = load_mask(volume, hu_threshold)
    if pose == "auto":
        prepared.upright()  # same voxels: every result stays on the input grid
    return prepared


def mode_completers(modes: list[str], model=None, *, defect_type_hint: bool = False, gamma: float = 1.0,
                    optimize_steps: int = 60, hu_threshold: float = 300.0, pose: str = "auto") -> dict[str, Completer]:
    """One completer per mode, each running ``skullvae complete``'s stages in memory.

    Args:
        modes: checked mode names (:func:`parse_modes`).
        model: a loaded model (:func:`~skullvae.completion.engine.load_completion_model`);
            None is allowed when every mode is ``mirror``.
        defect_type_hint: pass each case's defect type (``--defect-type``), a hint users lack.
        gamma: DEV scale.
        optimize_steps: Adam steps of ``optimize``.
        hu_threshold: bone threshold for CT inputs.
        pose: ``auto`` turns a scan stored upside down or face-back upright first, as
            ``complete`` does (same voxels: the implant stays on the input grid); ``keep``.

    Returns:
        ``{mode: complete(case, volume)}``.
    """
    if pose not in ("auto", "keep"):
        raise SkullVAEError(f"unknown --pose {pose!r} (choose from auto, keep)")
    from skullvae.completion.modes import run_completion

    def make(mode: str) -> Completer:
        base, _, flag = mode.partition(":")

        def complete(case, volume) -> ImplantPrediction:
            opts = CompletionOptions(mode=base, model=model, defect_type=case.defect_type if defect_type_hint else None,
                                     gamma=gamma, optimize_steps=optimize_steps, rim=flag != NO_RIM,
                                     hu_threshold=hu_threshold, pose=pose)
            prepared = upright_mask(volume, hu_threshold, pose)
            completion = run_completion(prepared, opts, model)
            pred = prediction_from_completion(prepared, completion, opts, model)
            pred.info["completion_mode"] = completion.mode
            return pred

        return complete

    return {m: make(m) for m in modes}
