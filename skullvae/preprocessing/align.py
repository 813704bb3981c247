"""Rigid alignment of a skull to the model's canonical pose (L, P, S grid axes).

The result is always a :class:`~skullvae.preprocessing.model_grid.GridFrame`
(rotation + centre), so results computed in the grid map back exactly through
:func:`~skullvae.preprocessing.model_grid.from_grid`.

Two steps, both optional:

* principal axes: the bone's inertia axes, each matched to the nearest current
  patient axis (corrects tilts, keeps the rough orientation);
* registration to a reference skull in the canonical frame (e.g. the model's
  decoded posterior-mean skull): SimpleITK refines a rigid (Euler 3D) transform
  from each of the four proper axis-sign choices; the best overlap wins.
"""

from __future__ import annotations

import itertools

import numpy as np

from skullvae.io.volume import Volume
from skullvae.preprocessing.model_grid import GridFrame, frame_for, to_grid

ALIGN_CHOICES = ("none", "axes", "register")


def principal_axes_rotation(mask: Volume, max_points: int = 200_000) -> np.ndarray:
    """Rotation whose columns are the bone's principal axes, nearest to L, P, S.

    Args:
        mask: bone mask with geometry.
        max_points: bone voxels sampled for the inertia tensor.

    Returns:
        3×3 proper rotation (det +1); columns are grid axes in LPS.
    """
    idx = np.argwhere(mask.array)
    if idx.shape[0] > max_points:
        idx = idx[:: idx.shape[0] // max_points + 1]
    pts = mask.index_to_physical(idx)
    cov = np.cov((pts - pts.mean(axis=0)).T)
    _, vecs = np.linalg.eigh(cov)
    best, best_score = None, -np.inf
    for perm in itertools.permutations(range(3)):
        cand = vecs[:, perm]
        score = sum(abs(cand[k, k]) for k in range(3))  # alignment with L, P, S
        if score > best_score:
            best, best_score = cand, score
    rot = best * np.sign(np.where(np.diag(best) == 0, 1.0, np.diag(best)))[None, :]
    if np.linalg.det(rot) < 0:
        weakest = int(np.argmin(np.abs(np.diag(rot))))
        rot[:, weakest] *= -1
    return rot


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    denom = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / denom) if denom else 0.0


_SIGN_CHOICES = ((1, 1, 1), (-1, -1, 1), (-1, 1, -1), (1, -1, -1))


def _register_rigid(moving: np.ndarray, reference: np.ndarray, frame: GridFrame) -> GridFrame:
    """Refine ``frame`` so that the skull (``moving``, sampled in ``frame``) matches ``reference``."""
    import SimpleITK as sitk

    fixed = sitk.SmoothingRecursiveGaussian(frame.as_volume(reference.astype(np.float32)).to_sitk(), frame.voxel_mm)
    mov = sitk.SmoothingRecursiveGaussian(frame.as_volume(moving.astype(np.float32)).to_sitk(), frame.voxel_mm)
    init = sitk.Euler3DTransform()
    init.SetCenter([float(c) for c in frame.center_mm])
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3, numberOfIterations=100)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SetInitialTransform(init, inPlace=True)
    reg.Execute(fixed, mov)
    # The transform maps canonical-frame points onto the patient-sampled frame's points.
    a = np.asarray(init.GetMatrix()).reshape(3, 3)
    center = np.asarray(init.TransformPoint([float(c) for c in frame.center_mm]))
    # ``moving`` itself lives in ``frame``: compose with the frame's placement.
    return GridFrame(center, frame.voxel_mm, frame.grid, a @ frame.rotation)


def align_frame(
    mask: Volume,
    grid,
    voxel_mm: float,
    method: str = "axes",
    reference: np.ndarray | None = None,
) -> tuple[GridFrame, np.ndarray, dict]:
    """Place the model grid on ``mask`` in the canonical pose.

    Args:
        mask: bone mask with geometry.
        grid: model grid size.
        voxel_mm: model voxel size.
        method: ``"none"``, ``"axes"`` (principal axes) or ``"register"`` (principal
            axes, sign choice and rigid registration to ``reference``).
        reference: a canonical skull in the model grid (fractions in [0, 1]);
            required for ``"register"``.

    Returns:
        ``(frame, grid_array, info)``: the frame, the mask sampled in it, and a
        summary (rotation angle in degrees, overlap with the reference).
    """
    if method not in ALIGN_CHOICES:
        raise ValueError(f"unknown alignment {method!r}")
    rotation = None if method == "none" else principal_axes_rotation(mask)
    frame = frame_for(mask, grid, voxel_mm, rotation)
    array = to_grid(mask, frame)
    info: dict = {"method": method}
    if method == "register" and reference is not None:
        # Principal axes fix the axes, not their signs: register each of the four
        # proper sign choices and keep the best fit (the unflipped one on ties).
        best = None
        for signs in _SIGN_CHOICES:
            flipped = GridFrame(frame.center_mm, frame.voxel_mm, frame.grid, frame.rotation * np.asarray(signs, float)[None, :])
            axes = tuple(i for i, s in enumerate(signs) if s < 0)
            moving = np.ascontiguousarray(np.flip(array, axes)) if axes else array
            candidate = _register_rigid(moving, reference, flipped)
            sampled = to_grid(mask, candidate)
            dice = _dice(sampled, reference) - (0.0 if not axes else 0.02)
            if best is None or dice > best[0]:
                best = (dice, candidate, sampled)
        _, frame, array = best
        info["dice_to_reference"] = _dice(array, reference)
    angle = np.degrees(np.arccos(np.clip((np.trace(frame.rotation) - 1) / 2, -1, 1)))
    info["rotation_deg"] = float(angle)
    return frame, array, info
