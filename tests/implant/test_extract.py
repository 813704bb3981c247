"""Implant extraction at the input's resolution: in the defect, touching the rim, no overlap."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
from skull_shapes import dice, shell_skull  # noqa: E402

from skullvae.errors import SkullVAEError
from skullvae.implant.extract import _FACE, extract_implant
from skullvae.preprocessing.model_grid import frame_for, to_grid
from scipy import ndimage


def _case(direction=None):
    defective, complete, implant = shell_skull(spacing=(1.6, 1.4, 1.8), shape=(96, 116, 80),
                                               origin=(-76.0, -81.0, -72.0), direction=direction)
    frame = frame_for(defective, (56, 56, 56), 3.0)
    return defective, complete, implant, frame


@pytest.mark.parametrize("oblique", [False, True])
def test_implant_fills_the_defect_without_overlap_and_meets_the_rim(oblique):
    direction = None
    if oblique:
        a = np.radians(15)
        direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    defective, complete, truth, frame = _case(direction)
    prob = to_grid(complete, frame)  # a perfect completion, blurred by the coarse grid
    imp = extract_implant(prob, frame, to_grid(defective, frame), defective)
    full = imp.full()
    assert not (full & defective.array).any()
    assert (ndimage.binary_dilation(full, _FACE) & defective.array.astype(bool)).any()
    assert dice(full, truth.array) > 0.75
    assert imp.volume_cm3 == pytest.approx(full.sum() * np.prod(defective.spacing) / 1000)


def test_slivers_along_intact_bone_are_not_an_implant():
    defective, complete, truth, frame = _case()
    # completion that is the defective skull shifted by one grid voxel: slivers everywhere,
    # plus the real defect
    prob = np.maximum(np.roll(to_grid(complete, frame), 1, axis=1), to_grid(complete, frame))
    imp = extract_implant(prob, frame, to_grid(defective, frame), defective)
    full = imp.full().astype(bool)
    far = ndimage.distance_transform_edt(~truth.array.astype(bool), sampling=defective.spacing) > 8
    assert (full & far).sum() < 0.05 * full.sum()
    assert dice(full, truth.array) > 0.6


def test_complete_skull_has_no_implant():
    _, complete, _, frame = _case()
    with pytest.raises(SkullVAEError, match="no defect"):
        extract_implant(to_grid(complete, frame), frame, to_grid(complete, frame), complete)
