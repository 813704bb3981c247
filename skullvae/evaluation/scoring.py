"""Score one predicted implant: DSC, bDSC, HD95 (mm), rim gap, failure."""

from __future__ import annotations

import math
import time

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.evaluation.completers import ImplantPrediction
from skullvae.metrics.implant_scores import evaluate_implant


def matching_components(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The connected pieces of ``pred`` that overlap ``gt``.

    For skulls with openings of their own before the benchmark cut its defect (the real
    SkullBreak sample's defect, a thresholding hole): the implant pieces that fill them
    are right, but not this case's.
    """
    from scipy import ndimage

    labels, count = ndimage.label(pred)
    if count <= 1:
        return pred
    hit = np.unique(labels[(labels > 0) & (gt > 0)])
    return np.isin(labels, hit).astype(np.uint8)


def score_prediction(pred: ImplantPrediction | np.ndarray | None, gt, defective, match_components: bool = False) -> dict:
    """Scores of a prediction against the ground-truth implant.

    Args:
        pred: the prediction (a bare mask, or None when the method found no implant).
        gt: ground-truth implant :class:`~skullvae.io.volume.Volume`.
        defective: the defective skull :class:`~skullvae.io.volume.Volume` as read.
        match_components: score only the pieces overlapping the ground truth.

    Returns:
        ``dsc``, ``bdsc``, ``hd95`` (``inf`` when no implant was found), ``gap_median_mm``,
        ``gap_p95_mm``, ``defects`` and ``failed`` (1 when the implant is empty).
    """
    if pred is None:
        pred = ImplantPrediction(np.zeros(defective.shape, np.uint8))
    elif not isinstance(pred, ImplantPrediction):
        pred = ImplantPrediction(np.asarray(pred))
    mask = np.asarray(pred.mask) > 0
    if mask.shape != tuple(gt.shape):
        raise SkullVAEError(f"the predicted implant has shape {mask.shape}, the ground truth {tuple(gt.shape)}")
    if match_components:
        mask = matching_components(mask.astype(np.uint8), gt.array) > 0
    bone = pred.defective_mask if pred.defective_mask is not None else defective.array > 0
    scores = evaluate_implant(mask, gt.array, bone, spacing=gt.spacing)
    scores.update(gap_median_mm=pred.gap_median_mm, gap_p95_mm=pred.gap_p95_mm, defects=int(pred.defects),
                  failed=int(not mask.any()))
    return scores


def score_case(case, complete, match_components: bool = False) -> dict:
    """Read one case, run one completer on it, score it, time it.

    A :class:`~skullvae.errors.SkullVAEError` inside the completer (e.g. no defect
    found) is the method's failure on this case: scored as an empty implant, with the
    reason in ``error``.

    Args:
        case: an :class:`~skullvae.evaluation.cases.EvalCase`.
        complete: ``complete(case, volume) -> ImplantPrediction | mask``.
        match_components: see :func:`score_prediction`.

    Returns:
        The scores of :func:`score_prediction` plus ``wall_s`` (the completion's wall
        time, reading excluded) and ``error``.
    """
    from skullvae.io.readers import read_volume

    volume = read_volume(case.defective)
    gt = read_volume(case.implant)
    t0 = time.perf_counter()
    error = ""
    try:
        pred = complete(case, volume)
    except SkullVAEError as exc:
        pred, error = None, " ".join(str(exc).split())
    wall = time.perf_counter() - t0
    scores = score_prediction(pred, gt, volume, match_components)
    scores.update(wall_s=round(wall, 3), error=error)
    return scores


def finite(values) -> list[float]:
    """The finite values of a sequence (HD95 is inf for a missing implant)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]
