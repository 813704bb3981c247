"""Defect injection: invariants, locations, sizes, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from skullvae.defects import DEFECT_TYPES, inject_defect, skull_geometry
from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume
from skullvae.phantoms import synth_skull


@pytest.fixture(scope="module")
def skull():
    return synth_skull(11, 128, 1.6)


@pytest.fixture(scope="module")
def geometry(skull):
    return skull_geometry(skull)


def _implant_points(skull, implant):
    ijk = np.argwhere(implant.array != 0)
    return skull.index_to_physical(ijk)


@pytest.mark.parametrize("defect_type", DEFECT_TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_invariants_and_size(skull, defect_type, seed):
    defective, implant = inject_defect(skull, defect_type, seed)
    s, d, i = (v.array.astype(bool) for v in (skull, defective, implant))
    assert defective.same_geometry(skull) and implant.same_geometry(skull)
    assert defective.array.dtype == np.uint8 and implant.array.dtype == np.uint8
    assert i.any()
    assert not np.any(i & ~s)  # implant ⊂ skull
    assert not np.any(d & i)
    assert np.array_equal(d | i, s)
    pts = _implant_points(skull, implant)
    across = (pts.max(axis=0) - pts.min(axis=0)).max()
    assert 25.0 <= across <= 130.0  # a few cm to ~10 cm, as in SkullBreak


def test_parietotemporal_is_lateral_on_one_side(skull, geometry):
    for seed in range(4):
        _, implant = inject_defect(skull, "parietotemporal", seed)
        x = _implant_points(skull, implant)[:, 0] - geometry.midline_x
        side = np.sign(np.median(x))
        assert np.mean(np.sign(x) == side) == 1.0
        assert abs(np.mean(x)) > 0.3 * geometry.breadth


def test_frontoorbital_is_anterior_and_low(skull, geometry):
    length = geometry.high[1] - geometry.low[1]
    for seed in range(4):
        _, implant = inject_defect(skull, "frontoorbital", seed)
        pts = _implant_points(skull, implant)
        assert pts[:, 1].mean() < geometry.low[1] + 0.2 * length  # front (anterior = -y in LPS)
        assert pts[:, 2].mean() < geometry.centre[2] + 10.0  # at brow/orbit level, not the vertex


def test_bilateral_crosses_midline_at_the_top(skull, geometry):
    for seed in range(4):
        _, implant = inject_defect(skull, "bilateral", seed)
        pts = _implant_points(skull, implant)
        x = pts[:, 0] - geometry.midline_x
        assert x.min() < -15.0 and x.max() > 15.0
        assert pts[:, 2].mean() > geometry.high[2] - 30.0


@pytest.mark.parametrize("defect_type", ["random_1", "random_2", "skullfix"])
def test_vault_defects_are_on_the_vault(skull, geometry, defect_type):
    for seed in range(3):
        _, implant = inject_defect(skull, defect_type, seed)
        assert _implant_points(skull, implant)[:, 2].mean() > geometry.centre[2]


def test_deterministic_and_seed_dependent(skull):
    a = inject_defect(skull, "random_2", 5)[1].array
    b = inject_defect(skull, "random_2", 5)[1].array
    c = inject_defect(skull, "random_2", 6)[1].array
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_implant_is_one_piece(skull):
    from scipy import ndimage

    for defect_type in DEFECT_TYPES:
        implant = inject_defect(skull, defect_type, 3)[1].array
        assert ndimage.label(implant, structure=np.ones((3, 3, 3)))[1] == 1


def test_works_with_anisotropic_spacing_and_flipped_axes(skull):
    # Same anatomy stored with the x axis reversed and anisotropic voxels: placement is physical.
    arr = np.asfortranarray(skull.array[::-1, :, ::2])  # readers return transposed (F-order) arrays
    direction = np.diag([-1.0, 1.0, 1.0])
    vol = Volume(arr, (1.6, 1.6, 3.2), (100.0, -50.0, 20.0), direction)
    defective, implant = inject_defect(vol, "bilateral", 0)
    geometry = skull_geometry(vol)
    pts = vol.index_to_physical(np.argwhere(implant.array != 0))
    assert pts[:, 2].mean() > geometry.high[2] - 30.0
    assert not np.any(defective.array & implant.array)
    assert np.array_equal((defective.array | implant.array).astype(bool), arr.astype(bool))


def test_errors():
    empty = Volume(np.zeros((20, 20, 20), np.uint8))
    with pytest.raises(SkullVAEError, match="empty"):
        inject_defect(empty, "bilateral", 0)
    ct = Volume(np.full((20, 20, 20), 300, np.int16))
    with pytest.raises(SkullVAEError, match="binary"):
        inject_defect(ct, "bilateral", 0)
    with pytest.raises(SkullVAEError, match="unknown defect type"):
        inject_defect(Volume(np.ones((4, 4, 4), np.uint8)), "hole", 0)
    with pytest.raises(SkullVAEError, match="seed"):
        inject_defect(Volume(np.ones((4, 4, 4), np.uint8)), "bilateral", -1)
