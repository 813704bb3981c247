"""Rigid alignment of a skull to the model's canonical pose (L, P, S grid axes).

The result is always a :class:`~skullvae.preprocessing.model_grid.GridFrame`
(rotation + centre), so results computed in the grid map back exactly through
:func:`~skullvae.preprocessing.model_grid.from_grid`.

Two methods:

* ``axes``: the L axis is the normal of the skull's plane of left–right symmetry
  (:func:`~skullvae.preprocessing.symmetry.symmetry_rotation`: corrects a turned or
  sideways-tilted head). The inertia (principal) axes are not used for this: a
  skull is nearly round, two of its inertia moments are close, and its principal
  axes came out 31° (complete) and 37° (with a defect) away from the canonical pose
  of a synthetic skull that was in it.
* ``register``: rigid (Euler 3D) SimpleITK registration to a reference skull in the
  canonical frame (the model's decoded posterior-mean skull), started from the scan's
  own axes, from the symmetry axes and from the principal axes; the start whose result
  overlaps the reference best wins, so a skull already in the canonical pose stays in it.
"""

from __future__ import annotations

import itertools

import numpy as np

from skullvae.io.volume import Volume
from skullvae.preprocessing.model_grid import GridFrame, frame_for, to_grid
from skullvae.preprocessing.symmetry import symmetry_rotation

ALIGN_CHOICES = ("none", "axes", "register")


def principal_axes_rotation(mask: Volume, max_points: int = 200_000) -> np.ndarray:
    """Rotation whose columns are the bone's principal axes, nearest to L, P, S.

    Well defined for elongated shapes; for a skull only a starting point of
    ``register`` (see the module docstring).

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
        method: ``"none"``, ``"axes"`` (symmetry plane) or ``"register"`` (rigid
            registration to ``reference`` from three starts).
        reference: a canonical skull in the model grid (fractions in [0, 1]);
            required for ``"register"``.

    Returns:
        ``(frame, grid_array, info)``: the frame, the mask sampled in it, and a
        summary (rotation angle in degrees, overlap with the reference).
    """
    if method not in ALIGN_CHOICES:
        raise ValueError(f"unknown alignment {method!r}")
    info: dict = {"method": method}
    if method == "register" and reference is not None:
        best = None
        for start, rotation in (("scan", None), ("symmetry", symmetry_rotation(mask)),
                                ("principal", principal_axes_rotation(mask))):
            start_frame = frame_for(mask, grid, voxel_mm, rotation)
            frame = _register_rigid(to_grid(mask, start_frame), reference, start_frame)
            array = to_grid(mask, frame)
            dice = _dice(array, reference)
            if best is None or dice > best[0] + 1e-3:  # ties keep the earlier (simpler) start
                best = (dice, frame, array, start)
        dice, frame, array, info["start"] = best
        info["dice_to_reference"] = dice
    else:
        rotation = None if method == "none" else symmetry_rotation(mask)
        frame = frame_for(mask, grid, voxel_mm, rotation)
        array = to_grid(mask, frame)
    angle = np.degrees(np.arccos(np.clip((np.trace(frame.rotation) - 1) / 2, -1, 1)))
    info["rotation_deg"] = float(angle)
    return frame, array, info
