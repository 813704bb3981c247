"""Scoring completion methods on a manifest's cases: ``skullvae evaluate``.

The layer after :mod:`skullvae.metrics`: it completes every (skull, defect type) case of
a split with one or more *completers* — callables ``complete(case) -> ImplantPrediction``
(:mod:`skullvae.evaluation.completers`: the toolkit's modes as a user runs them, or any
other method such as the supervised U-Net of ``benchmarks/unet_baseline.py``) — scores
each implant against the ground truth (DSC, bDSC, HD95, rim gap) and writes
``scores.csv``, ``summary.md`` and box plots (:mod:`skullvae.evaluation.run`).
"""

from skullvae.evaluation.cases import EvalCase, evaluation_cases
from skullvae.evaluation.completers import ImplantPrediction, mode_completers, parse_modes, prediction_from_completion
from skullvae.evaluation.run import evaluate

__all__ = ["EvalCase", "ImplantPrediction", "evaluate", "evaluation_cases", "mode_completers", "parse_modes",
           "prediction_from_completion"]
