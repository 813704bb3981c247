"""Mirror baseline: symmetry-plane estimate and completion of a one-sided defect."""

import numpy as np
import pytest

from skull_shapes import dice, shell_skull
from skullvae.completion.mirror import complete_mirror, estimate_midsagittal_plane, mirror_frame, reflect_grid
from skullvae.implant.extract import extract_implant
from skullvae.preprocessing.model_grid import to_grid


@pytest.mark.parametrize("yaw,center", [(0.0, (0.0, 0.0, 0.0)), (9.0, (6.0, -4.0, 3.0))])
def test_plane_of_a_symmetric_shell_is_found(yaw, center):
    _, complete, _ = shell_skull(yaw_deg=yaw, center=center, defect=False)
    frame = mirror_frame(complete)
    plane = estimate_midsagittal_plane(to_grid(complete, frame), frame)
    true_n = np.array([np.cos(np.radians(yaw)), np.sin(np.radians(yaw)), 0.0])
    angle = np.degrees(np.arccos(abs(np.dot(plane["normal"], true_n))))
    assert angle < 1.5
    assert abs(plane["offset_mm"] - true_n @ np.asarray(center)) < 1.0
    assert plane["symmetry"] > 0.8


def test_reflection_is_an_involution():
    _, complete, _ = shell_skull(defect=False)
    frame = mirror_frame(complete)
    grid = to_grid(complete, frame)
    twice = reflect_grid(reflect_grid(grid, frame, [1, 0, 0], 0.0), frame, [1, 0, 0], 0.0)
    core = grid[10:-10, 10:-10, 10:-10] > 0.5
    assert (twice[10:-10, 10:-10, 10:-10][core] > 0.3).mean() > 0.99


def test_mirror_completion_recovers_the_defect():
    defective, _, truth = shell_skull(yaw_deg=7.0, center=(4.0, 2.0, -3.0))
    result = complete_mirror(defective)
    assert result.mode == "mirror"
    implant = extract_implant(result.probability, result.frame, result.defective, defective, core_mm=result.core_mm)
    full = implant.full()
    assert not (full & defective.array).any()
    assert dice(full, truth.array) > 0.85
