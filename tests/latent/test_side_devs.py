"""Side-specific DEV vectors for lateral defect types, and picking the missing side."""

import numpy as np
import torch

from skullvae.completion.dev import dev_vector, missing_side
from skullvae.latent.stats import implant_sides, side_dev_vectors


def _shell(n=32):
    x, y, z = np.meshgrid(*[np.arange(n) - (n - 1) / 2.0] * 3, indexing="ij")
    r = np.sqrt(x**2 + y**2 + z**2)
    return ((r > 10) & (r < 13)).astype(np.uint8), x


def test_implant_sides_follow_grid_axis_0():
    shell, x = _shell()
    left = shell * (x > 8)  # grid axis 0 points to the patient's left
    right = shell * (x < -8)
    top = shell * (np.abs(x) < 4)
    complete = np.stack([shell] * 3)
    defective = np.stack([shell - left, shell - right, shell - top])
    assert implant_sides(complete, defective, voxel_mm=3.0) == ["left", "right", None]


def test_side_devs_only_for_lateral_types_with_both_sides():
    mu_c = torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0], [5.0, 5.0], [5.0, 5.0]])
    mu_d = torch.zeros_like(mu_c)
    types = ["pt"] * 4 + ["bi"] * 2
    sides = ["left", "left", "right", "right", None, None]
    devs = side_dev_vectors(mu_c, mu_d, types, sides)
    assert sorted(devs) == ["pt@left", "pt@right"]
    assert torch.allclose(devs["pt@left"], torch.tensor([1.0, 0])) and torch.allclose(devs["pt@right"], torch.tensor([0, 1.0]))
    # one side with a single pair: no side DEVs
    assert side_dev_vectors(mu_c[:3], mu_d[:3], types[:3], sides[:3]) == {}


class _Model:
    dev_vectors = {"pooled": torch.zeros(2), "pt": torch.ones(2), "pt@left": torch.tensor([2.0, 0.0])}


def test_missing_side_and_dev_choice():
    shell, x = _shell()
    assert missing_side(shell) is None
    without_left = shell * ~(x > 8)
    assert missing_side(without_left) == "left"
    assert missing_side(shell * ~(x < -8)) == "right"
    vec, used = dev_vector(_Model(), "pt", missing_side(without_left))
    assert used == "pt@left" and np.array_equal(vec, [2.0, 0.0]) and vec.dtype == np.float32
    assert dev_vector(_Model(), "pt", "right")[1] == "pt"  # no right DEV: the type's own
    assert dev_vector(_Model(), None, "left")[1] == "pooled"
