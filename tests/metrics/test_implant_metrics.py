"""DSC, bDSC and HD95 against analytic shapes and independent brute-force computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from skullvae.errors import SkullVAEError
from skullvae.io import Volume
from skullvae.metrics import boundary_dice, boundary_region, dice, evaluate_implant, hd95, surface

R = 15.0


def _ball(shape, spacing, centre, radius) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")
    return sum((g - c) ** 2 for g, c in zip(grids, centre)) <= radius**2


def _two_balls(spacing, offset):
    offset = np.asarray(offset, dtype=float)
    shape = tuple(int(np.ceil((2 * R + 12) / s)) + 2 for s in spacing)
    centre = np.array([s * n / 2 for s, n in zip(spacing, shape)]) - offset / 2 + 0.123
    return _ball(shape, spacing, centre, R), _ball(shape, spacing, centre + offset, R)


def _lens_dice(radius, d) -> float:
    """DSC of two equal balls at distance d (lens volume / ball volume)."""
    lens = np.pi * (4 * radius + d) * (2 * radius - d) ** 2 / 12
    return lens / (4 / 3 * np.pi * radius**3)


def _analytic_hd95(radius, d) -> float:
    """HD95 of two equal spheres: distances |sqrt(R²+d²-2Rd·c) - R|, c uniform on [-1, 1]."""
    c = np.linspace(-1, 1, 400001)
    return float(np.percentile(np.abs(np.sqrt(radius**2 + d**2 - 2 * radius * d * c) - radius), 95))


def _brute_force_hd95(a, b, spacing) -> float:
    pa, pb = np.argwhere(surface(a)) * spacing, np.argwhere(surface(b)) * spacing
    return float(np.percentile(np.concatenate([cKDTree(pb).query(pa)[0], cKDTree(pa).query(pb)[0]]), 95))


CASES = [((0.5, 0.5, 0.5), (6.0, 0.0, 0.0)), ((0.5, 0.5, 2.0), (0.0, 0.0, 6.0)),
         ((0.5, 0.5, 2.0), (3.0, 2.0, 4.0)), ((0.8, 1.1, 0.6), (4.0, 4.0, 4.0))]


@pytest.mark.parametrize("spacing,offset", CASES)
def test_two_balls_match_analytic_values(spacing, offset):
    a, b = _two_balls(spacing, offset)
    d = float(np.linalg.norm(offset))
    assert dice(a, b) == pytest.approx(_lens_dice(R, d), abs=0.01)
    value = hd95(a, b, spacing=spacing)
    assert abs(value - _analytic_hd95(R, d)) <= max(spacing)  # within one voxel
    assert value == pytest.approx(_brute_force_hd95(a, b, np.asarray(spacing)), abs=1e-9)


def test_volumes_carry_their_spacing():
    spacing = (0.5, 0.5, 2.0)
    a, b = _two_balls(spacing, (0.0, 0.0, 6.0))
    va = Volume(a.astype(np.uint8), spacing, (1.0, 2.0, 3.0))
    vb = va.with_array(b.astype(np.uint8))
    assert hd95(va, vb) == pytest.approx(hd95(a, b, spacing=spacing))
    assert hd95(va, vb) != pytest.approx(hd95(a, b, spacing=1.0))
    with pytest.raises(SkullVAEError, match="differ in geometry"):
        dice(va, Volume(b.astype(np.uint8), (0.5, 0.5, 1.0)))


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_hd95_pools_both_directions_unlike_monai():
    """A far-away blob in one mask: the pooled 95th percentile is not MONAI's max of directed ones."""
    import torch
    from monai.metrics import compute_hausdorff_distance

    spacing = (1.0, 1.0, 1.0)
    gt = _ball((60, 40, 40), spacing, (20, 20, 20), 12)
    pred = gt.copy()
    pred[50:56, 18:23, 18:23] = True  # blob 18+ mm away from the ball
    ours = hd95(pred, gt, spacing=spacing)
    assert ours == pytest.approx(_brute_force_hd95(pred, gt, np.asarray(spacing)), abs=1e-9)
    t = lambda m: torch.from_numpy(m[None, None].astype(np.float32))  # noqa: E731
    monai = float(compute_hausdorff_distance(t(pred), t(gt), include_background=True, percentile=95, spacing=1.0))
    assert monai > ours + 1.0


def test_identical_and_empty_masks():
    a = _ball((20, 20, 20), (1, 1, 1), (10, 10, 10), 5)
    empty = np.zeros_like(a)
    assert dice(a, a) == 1.0 and hd95(a, a) == 0.0
    assert dice(empty, empty) == 1.0 and hd95(empty, empty) == 0.0
    assert dice(a, empty) == 0.0 and hd95(a, empty) == float("inf") and hd95(empty, a) == float("inf")


def test_dice_counts_exactly():
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[0:4, 0:5, 0:5] = True  # 100 voxels
    b[2:6, 0:5, 0:5] = True  # 100 voxels, 50 shared
    assert dice(a, b) == pytest.approx(0.5)


def _brute_force_region(defective, spacing, margin):
    shape = defective.shape
    pts = np.argwhere(np.ones(shape, bool)) * spacing
    dist = cKDTree(np.argwhere(defective) * spacing).query(pts)[0]
    return (dist <= margin + 1e-9).reshape(shape)


def test_boundary_region_in_mm_with_anisotropic_spacing():
    spacing = np.array([0.5, 1.0, 2.0])
    defective = np.zeros((50, 30, 16), bool)
    defective[20:24, 10:14, 5:8] = True
    region = boundary_region(defective, spacing=spacing)
    np.testing.assert_array_equal(region, _brute_force_region(defective, spacing, 10.0))
    # 10 mm reach: 20 voxels along axis 0, 5 along axis 2.
    assert region[20 - 20, 12, 6] and not region[20 - 21, 12, 6]
    assert region[22, 12, 7 + 5] and not region[22, 12, 7 + 6]
    # Cropped evaluation is exact inside the box of interest.
    within = np.zeros_like(defective)
    within[30:35, 10:20, 3:9] = True
    cropped = boundary_region(defective, spacing=spacing, within=within)
    np.testing.assert_array_equal(cropped[30:35, 10:20, 3:9], region[30:35, 10:20, 3:9])


def test_boundary_dice_and_evaluate_implant():
    spacing = np.array([0.5, 0.5, 2.0])
    shape = (80, 60, 20)
    defective = np.zeros(shape, bool)
    defective[:, :, 2:4] = True
    defective[30:50, 20:40, 2:4] = False  # the hole
    gt = np.zeros(shape, bool)
    gt[30:50, 20:40, 2:4] = True
    gt[30:50, 20:40, 10:18] = True  # a part of the implant far (≥ 14 mm) from the skull
    pred = np.zeros(shape, bool)
    pred[32:50, 20:40, 2:4] = True
    region = _brute_force_region(defective, spacing, 10.0)
    expected_bdsc = 2 * np.sum(pred & gt & region) / (np.sum(pred & region) + np.sum(gt & region))
    assert boundary_dice(pred, gt, defective, spacing=spacing) == pytest.approx(expected_bdsc)
    scores = evaluate_implant(pred, gt, defective, spacing=spacing)
    assert set(scores) == {"dsc", "bdsc", "hd95"}
    assert scores["bdsc"] == pytest.approx(expected_bdsc)
    assert scores["dsc"] == pytest.approx(2 * pred.sum() / (pred.sum() + gt.sum()))
    assert scores["bdsc"] > scores["dsc"]  # the far part is outside the boundary region
    assert scores["hd95"] == pytest.approx(_brute_force_hd95(pred, gt, spacing))
    empty = evaluate_implant(np.zeros(shape, bool), gt, defective, spacing=spacing)
    assert empty == {"dsc": 0.0, "bdsc": 0.0, "hd95": float("inf")}
