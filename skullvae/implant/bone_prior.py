"""Defects that the vault's two height fields cannot describe: the implant is a prior's own bone.

The rim step (:mod:`skullvae.implant.rim_fill`) models the bone around a defect as one
shell around the cranial centre. Around a fronto-orbital defect it is not: the rays meet
the orbital roofs, the nasal root and the face. There the rim's own surfaces, continued
across a held-out ring around the defect, miss the ring's bone by 4.0–5.7 mm (synthetic
tuning skulls, seed 101), against 0.19–0.34 mm around vault defects and at most 1.2 mm
around the real tuning set's hemicraniectomies (``make_real_benchmark.py --set 1``).

Such a defect (:func:`shell_errors` above :data:`SHELL_MAX_ERROR_MM`) takes its implant
from a model's completed skull minus the input, at the input's resolution
(:func:`skullvae.implant.extract.extract_implant`): of the model's completions (one per
DEV vector when no defect type is given), the one with bone along most of the defect's
missing rays (:func:`choose_skull`), since a DEV for another region reproduces the hole.
Where that skull has no bone either, the patch is an opening (of the face, in front of
the orbits), not a defect, and is left unfilled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from skullvae.implant.extract import Implant
from skullvae.implant.height_fields import RadialFrame, RadialProfile, measure_profile
from skullvae.implant.rim_fill import Prior, corrected_surfaces, ring_cells
from skullvae.implant.sphere import CubeSphere
from skullvae.io.volume import Volume

__all__ = ["SHELL_MAX_ERROR_MM", "BonePrior", "cells_of_voxels", "choose_skull", "nearest_defect", "shell_errors"]

#: A defect whose rim surfaces, continued, miss the held-out ring by more than this (mm, mean) is not a vault shell.
SHELL_MAX_ERROR_MM = 2.0


@dataclass
class BonePrior:
    """A model's completed skulls, for the defects that are not a vault shell.

    Both are called only when such a defect is found (decoding every DEV costs time).

    Args:
        skulls: returns ``{name: binary completed skull}`` (any grid, with geometry).
        implant: returns the :class:`Implant` of one of them: the completed skull minus the
            input at the input's resolution.
    """

    skulls: Callable[[], dict[str, Volume]]
    implant: Callable[[str], Implant]


def nearest_defect(sphere: CubeSphere, labels: np.ndarray) -> np.ndarray:
    """Every cell's nearest defect on the sphere (smallest angle to one of its cells; -1 without defects)."""
    inside = np.flatnonzero(labels >= 0)
    if inside.size == 0:
        return labels.copy()
    _, nearest = cKDTree(sphere.directions[inside]).query(sphere.directions)
    return labels[inside][nearest]


def shell_errors(profile: RadialProfile, unknown: np.ndarray, nearest: np.ndarray, ring_mm: float) -> dict[int, float]:
    """Per defect: how well the rim's own surfaces, continued, predict a held-out ring around it.

    Args:
        profile: measured radii.
        unknown: cells solved for (the defects and their rims).
        nearest: ``(cells,)`` every cell's nearest defect (:func:`nearest_defect`).
        ring_mm: the ring's width (:func:`~skullvae.implant.rim_fill.ring_width_mm`).

    Returns:
        ``{defect number: mean absolute error of the ring's outer and inner radius (mm)}``;
        a defect without a measured ring is left out.
    """
    ring = ring_cells(profile, unknown, ring_mm)
    if not ring.any():
        return {}
    empty = np.full(profile.frame.sphere.size, np.nan)
    outer, inner = corrected_surfaces(profile, unknown | ring, Prior("none", empty, empty.copy()))
    err = 0.5 * (np.abs(outer - profile.outer) + np.abs(inner - profile.inner))
    out = {}
    for lab in np.unique(nearest[nearest >= 0]):
        mine = ring & (nearest == lab)
        if mine.any():
            out[int(lab)] = round(float(np.mean(err[mine])), 3)
    return out


def choose_skull(skulls: dict[str, Volume], frame: RadialFrame, missing: np.ndarray) -> tuple[str, dict[str, float]]:
    """The completed skull with bone along the largest share of the ``missing`` cells.

    Returns:
        ``(name, {name: share})``; ties go to the first name.
    """
    shares = {name: round(float(np.isfinite(measure_profile(bone, frame).outer[missing]).mean()), 3)
              for name, bone in skulls.items()}
    return max(shares, key=lambda k: shares[k]), shares


def cells_of_voxels(reference: Volume, frame: RadialFrame, ijk: np.ndarray) -> np.ndarray:
    """The direction cell of voxels (indices into ``reference``'s grid, ``(N, 3)``)."""
    return frame.sphere.cell_of(frame.local(reference.index_to_physical(np.asarray(ijk, dtype=np.float64))))

