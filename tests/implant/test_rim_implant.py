"""The rim step on analytic shells: rim gap, one component per defect, natural openings, intact skulls."""

import numpy as np
import pytest

from skullvae import Volume
from skullvae.errors import SkullVAEError
from skullvae.implant.rim_implant import rim_implant
from skullvae.preprocessing.crop import nonzero_bbox

SPACING = 1.0
OUTER, INNER = 70.0, 63.0  # mm: a 7 mm vault


def _shell(holes=(), floor_mm=-30.0, foramen_mm=0.0, spacing=SPACING):
    """A spherical shell open below ``floor_mm`` with cap-shaped defects ``(direction, radius_mm)``.

    Returns ``(defective, truth)`` volumes; ``foramen_mm`` cuts a small round opening at the vertex-opposite
    pole region of the remaining floor (a natural opening, not a defect) when > 0.
    """
    n = int(2 * (OUTER + 6) / spacing)
    origin = np.full(3, -(n - 1) * spacing / 2.0)
    grid = np.indices((n, n, n), dtype=np.float32).reshape(3, -1).T * spacing + origin
    r = np.linalg.norm(grid, axis=1)
    bone = (r >= INNER) & (r <= OUTER) & (grid[:, 2] > floor_mm)
    truth = np.zeros_like(bone)
    for direction, radius in holes:
        w = np.asarray(direction, float) / np.linalg.norm(direction)
        # a cut along the defect direction, as a surgeon's saw: a cylinder through the shell
        along = grid @ w
        perp = np.linalg.norm(grid - along[:, None] * w, axis=1)
        cut = bone & (perp < radius) & (along > 0)
        truth |= cut
    if foramen_mm:
        w = np.array([0.0, 0.5, -0.25]) / np.linalg.norm([0.0, 0.5, -0.25])
        along = grid @ w
        perp = np.linalg.norm(grid - along[:, None] * w, axis=1)
        bone &= ~((perp < foramen_mm) & (along > 0))
    shape = (n, n, n)
    defective = Volume((bone & ~truth).reshape(shape).astype(np.uint8), (spacing,) * 3, origin)
    return defective, defective.with_array(truth.reshape(shape).astype(np.uint8))


def _run(defective, **kw):
    box = nonzero_bbox(defective.array)
    return rim_implant(defective, box, {"normal": [1.0, 0.0, 0.0], "offset_mm": 0.0}, **kw)


def _dice(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def one_hole():
    return _shell(holes=[((0.3, -0.2, 1.0), 25.0)])


def test_rim_gap_on_an_analytic_shell_is_under_one_voxel(one_hole):
    defective, truth = one_hole
    result = _run(defective, priors=("none",))
    implant = result.implant.full()
    assert len(result.components) == 1
    assert not (implant & defective.array).any()
    gap = result.info["rim_gap_mm"]
    assert gap["median"] < SPACING and gap["p95"] < SPACING
    assert _dice(implant, truth.array) > 0.9
    # the implant has the shell's thickness: its radii lie within the shell's
    pts = defective.index_to_physical(np.argwhere(implant))
    r = np.linalg.norm(pts, axis=1)
    assert np.percentile(r, 1) > INNER - 1.5 and np.percentile(r, 99) < OUTER + 1.5


def test_the_mirror_prior_is_chosen_where_the_other_side_is_intact(one_hole):
    defective, truth = one_hole
    result = _run(defective)
    assert result.info["prior"] in ("mirror", "none") and set(result.info["prior_errors_mm"]) == {"mirror", "none"}
    assert _dice(result.implant.full(), truth.array) > 0.9


def test_two_defects_give_two_components():
    defective, truth = _shell(holes=[((0.7, 0.0, 0.7), 18.0), ((-0.5, -0.6, 0.6), 15.0)])
    result = _run(defective, priors=("none",))
    assert len(result.components) == 2
    assert {c["label"] for c in result.components} == {0, 1}
    assert all(c["volume_cm3"] > 2.0 and c["rim_gap_mm"]["median"] < SPACING for c in result.components)
    assert _dice(result.implant.full(), truth.array) > 0.85


def test_an_intact_skull_has_no_defect():
    defective, _ = _shell()
    with pytest.raises(SkullVAEError, match="no defect found"):
        _run(defective)


def test_natural_openings_are_not_filled():
    # the open skull base (below -30 mm) and a basal foramen stay open; only the vault defect is filled
    defective, truth = _shell(holes=[((0.0, 0.4, 1.0), 20.0)], foramen_mm=9.0)
    result = _run(defective, priors=("none",))
    implant = result.implant.full()
    assert len(result.components) == 1
    pts = defective.index_to_physical(np.argwhere(implant))
    assert pts[:, 2].min() > 0.0  # nothing at the floor or the foramen
    assert _dice(implant, truth.array) > 0.85
    intact, _ = _shell(foramen_mm=9.0)
    with pytest.raises(SkullVAEError, match="no defect found"):
        _run(intact)


def _cut(defective, mask_fn):
    """``defective`` with the bone where ``mask_fn(points_lps)`` is true removed."""
    idx = np.argwhere(defective.array > 0)
    pts = defective.index_to_physical(idx)
    out = defective.array.copy()
    out[tuple(idx[mask_fn(pts)].T)] = 0
    return defective.with_array(out)


def _direction(azimuth_deg, elevation_deg):
    """Unit vector at ``azimuth`` from anterior (-P) toward L, ``elevation`` above the horizon."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)])


def _elevation_azimuth(pts):
    r = np.linalg.norm(pts, axis=1)
    return np.degrees(np.arcsin(pts[:, 2] / r)), np.degrees(np.arctan2(pts[:, 0], -pts[:, 1]))


def _round_hole(direction, radius_mm):
    def inside(pts):
        along = pts @ direction
        return (along > 0) & (np.linalg.norm(pts - along[:, None] * direction, axis=1) < radius_mm)
    return inside


def test_the_edge_of_the_field_of_view_is_not_filled():
    # the scan stops 58 mm above the centre: the vertex lies outside it, which is no defect
    intact, _ = _shell()
    top = int(np.searchsorted(intact.index_to_physical(np.c_[np.zeros(intact.shape[2]), np.zeros(intact.shape[2]),
                                                             np.arange(intact.shape[2])])[:, 2], 58.0))
    cropped = Volume(intact.array[:, :, :top], intact.spacing, intact.origin)
    assert cropped.array[:, :, -1].any()  # bone reaches the edge of the scan
    with pytest.raises(SkullVAEError, match="no defect found"):
        _run(cropped)
    # a real defect in the same scan is still found, and the cut-off vertex is not filled with it
    hole = _round_hole(_direction(90.0, 20.0), 18.0)
    defective = _cut(cropped, hole)
    result = _run(defective, priors=("none",))
    assert len(result.components) == 1
    pts = defective.index_to_physical(np.argwhere(result.implant.full()))
    assert pts[:, 2].max() < 50.0 and pts[:, 0].min() > 0.0


def test_openings_bridged_at_the_midline_are_not_filled():
    # two orbit-like openings below the horizon, joined by a thin slit where the interorbital bone
    # was lost to the threshold: one patch, yet a natural pair; a defect on the midline is filled
    intact, _ = _shell()
    left, right = _round_hole(_direction(25.0, -12.0), 10.0), _round_hole(_direction(-25.0, -12.0), 10.0)

    def slit(pts):
        el, az = _elevation_azimuth(pts)
        return (np.abs(el + 12.0) < 1.5) & (np.abs(az) < 27.0) & (pts[:, 1] < 0)

    orbits = _cut(intact, lambda p: left(p) | right(p) | slit(p))
    with pytest.raises(SkullVAEError, match="no defect found"):
        _run(orbits)
    midline = _cut(intact, _round_hole(_direction(0.0, -12.0), 12.0))
    assert len(_run(midline, priors=("none",)).components) == 1
