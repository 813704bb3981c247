"""Run a completion mode on a prepared case: ``auto``, ``dev``, ``optimize`` or ``mirror``.

``auto`` first measures how well the model knows the skull (:func:`input_fit_dice`)
and runs ``dev``, or falls back to the mirror baseline below
:data:`~skullvae.completion.options.MIN_INPUT_FIT_DICE`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from skullvae.completion.options import MIN_INPUT_FIT_DICE, MODES, CompletionOptions
from skullvae.completion.result import Completion
from skullvae.errors import SkullVAEError
from skullvae.preprocessing.pipeline import PreparedCase

logger = logging.getLogger(__name__)


def _model_grid(model) -> tuple[list[int], float]:
    config = getattr(model, "config", {}) or {}
    grid = config.get("grid", getattr(model, "grid", None))
    voxel = config.get("voxel_mm", getattr(model, "voxel_mm", None))
    if grid is None or voxel is None:
        raise SkullVAEError("the model config lacks grid / voxel_mm")
    return [int(g) for g in grid], float(voxel)


def input_fit_dice(reconstruction: np.ndarray, grid_array: np.ndarray, seen: np.ndarray | None = None) -> float:
    """Dice between the model's reconstruction of the defective input and the input itself.

    A model reproduces skulls like its training skulls closely (held-out synthetic
    skulls ≈ 0.87); a low value means the input lies outside what the model knows.
    Only the voxels the scan saw count: bone the model puts beyond the scan's edge
    (the vault top of a scan that stops below it) is not a misfit.

    Args:
        reconstruction: decoded bone probability of enc(x), in the model grid.
        grid_array: the defective input's bone fraction in the same grid.
        seen: the grid voxels inside the scanned box (:attr:`PreparedCase.grid_seen`); None = all.

    Returns:
        Dice of the two masks thresholded at 0.5 (1.0 when both are empty).
    """
    a = reconstruction > 0.5
    b = grid_array >= 0.5
    if seen is not None:
        a, b = a & seen, b & seen
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def run_completion(case: PreparedCase, opts: CompletionOptions, model=None) -> Completion:
    """Run the chosen completion mode on a prepared case (frame placed as needed).

    ``auto`` runs ``dev`` and falls back to ``mirror`` (with a warning) when the model
    reconstructs the input poorly (:data:`MIN_INPUT_FIT_DICE`); ``info["requested_mode"]``
    and ``info["fallback"]`` then say so.
    """
    if opts.mode == "mirror":
        from skullvae.completion.mirror import complete_mirror
        from skullvae.preprocessing.symmetry import symmetry_rotation

        rotation = None if opts.align == "none" else symmetry_rotation(case.cropped_mask())
        return complete_mirror(case.cropped_mask(), rotation=rotation)
    if opts.mode not in MODES:
        raise SkullVAEError(f"unknown --mode {opts.mode!r} (choose from {', '.join(MODES)})")
    auto = opts.mode == "auto"
    result = _run_vae(case, replace(opts, mode="dev") if auto else opts, model,
                      min_fit=MIN_INPUT_FIT_DICE if auto else None)
    if isinstance(result, float):  # auto, and the model does not know this skull
        instead = ("the rim step chooses between the skull's mirror image and its own rim surfaces" if opts.rim
                   else "the mirror baseline is used instead")
        logger.warning(
            "the model reconstructs this skull poorly (Dice %.2f < %.2f): it is unlike the skulls the model "
            "was trained on, so %s (--mode dev forces the model's completion)", result, MIN_INPUT_FIT_DICE, instead)
        mirror = run_completion(case, replace(opts, mode="mirror"))
        mirror.info.update(requested_mode="auto", fallback={
            "from": "dev", "input_fit_dice": result, "min_input_fit_dice": MIN_INPUT_FIT_DICE})
        return mirror
    if auto:
        result.info["requested_mode"] = "auto"
    elif result.info["input_fit_dice"] < MIN_INPUT_FIT_DICE:
        logger.warning(
            "the model reconstructs this skull poorly (Dice %.2f < %.2f): it is unlike the skulls the model was "
            "trained on, so the completion is unreliable; check the preview, try --align register or --mode mirror, "
            "or use a model trained on similar scans", result.info["input_fit_dice"], MIN_INPUT_FIT_DICE)
    return result


def _run_vae(case: PreparedCase, opts: CompletionOptions, model, min_fit: float | None = None) -> Completion | float:
    """``dev`` or ``optimize``; ``info["input_fit_dice"]`` says how well the model knows the input.

    With ``min_fit``, a fit below it is returned (a float) before any completion work.
    """
    from skullvae.completion.dev import as_array, complete_dev, decode_probability, dev_vector, encode_grid, missing_side

    grid, voxel = _model_grid(model)
    reference = None
    if opts.align == "register":
        mean = getattr(model, "posterior_mean", None)
        latent = int(getattr(model, "config", {}).get("latent_size", 1))
        z_ref = (as_array(mean) if mean is not None else np.zeros(latent, dtype=np.float32))[None, :]
        reference = decode_probability(model, z_ref)[0]
    case.place(grid, voxel, opts.align, reference)
    grid_array = case.grid_array
    encoded = encode_grid(model, grid_array)
    recon = decode_probability(model, encoded[0])[0]
    fit = round(input_fit_dice(recon, grid_array, case.grid_seen), 4)
    if min_fit is not None and fit < min_fit:
        return fit
    info: dict = {"align": case.info.get("align")}
    if opts.mode == "dev":
        prob, z, logvar, dinfo = complete_dev(model, grid_array, opts.defect_type, opts.gamma, encoded=encoded)
    else:  # optimize (run_completion has checked the mode)
        from skullvae.completion.optimize import complete_optimize

        init = None
        if getattr(model, "dev_vectors", None):
            init, _ = dev_vector(model, opts.defect_type, missing_side(grid_array))
        prob, z, dinfo = complete_optimize(model, grid_array, voxel, steps=opts.optimize_steps,
                                           init_dev=init, gamma=opts.gamma)
        logvar = None
    info.update(dinfo)
    info["input_fit_dice"] = fit
    result = Completion(opts.mode, case.frame, prob, case.grid_array, info=info,
                        reconstruction=recon if opts.use_reconstruction else None)
    if opts.samples > 1:
        from skullvae.completion.sampling import implant_probability, sample_probabilities

        mean, std = sample_probabilities(model, z, logvar, opts.samples, seed=opts.seed)
        result.implant_probability = implant_probability(mean, case.grid_array)
        info["samples"] = int(opts.samples)
        info["mean_std_in_defect"] = float(std[result.implant_probability > 0.5].mean()) if (result.implant_probability > 0.5).any() else 0.0
    return result
