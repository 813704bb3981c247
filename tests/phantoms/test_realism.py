"""realism="real" synthetic skulls: shape ranges, regional thickness, artefacts, crop levels, pose."""

from __future__ import annotations

import numpy as np
import pytest

from skullvae.errors import SkullVAEError
from skullvae.phantoms import skull as skull_module
from skullvae.phantoms import synth_skull
from skullvae.phantoms.realism import (CEPHALIC_INDEX_RANGE, REAL_ROTATION_DEG, artefact_parts, real_thickness,
                                       sample_real_parameters)
from skullvae.phantoms.skull import check_field_of_view, default_rotation


def test_real_parameters_span_cephalic_index_70_to_90_and_vary_the_shape():
    ps = [sample_real_parameters(np.random.default_rng(s)) for s in range(300)]
    ci = np.array([p.breadth / p.length for p in ps])
    assert ci.min() >= CEPHALIC_INDEX_RANGE[0] - 1e-9 and ci.max() <= CEPHALIC_INDEX_RANGE[1] + 1e-9
    assert ci.min() < 0.73 and ci.max() > 0.87  # the whole range is used, not the smooth 70-85
    assert all(p.realism == "real" for p in ps)
    slopes = np.array([p.forehead_slope for p in ps])
    assert slopes.min() < 0 < slopes.max()
    assert 0.3 < np.mean([p.occipital_bun > 0 for p in ps]) < 0.7
    assert np.ptp([p.posterior_fossa_mm for p in ps]) > 8


def test_regional_thickness_matches_real_ranges():
    """Without noise: temporal squama 2-4 mm, frontal and occipital 6-10 mm."""
    for s in range(40):
        p = sample_real_parameters(np.random.default_rng(s))
        a = p.breadth / 2
        pts = {"temporal": (a, 0.0, 16.0), "frontal": (0.0, -p.front, 60.0),
               "occipital": (0.0, 0.8 * p.back, p.equator_z + 5.0)}
        t = {k: float(real_thickness(*(np.float32(v) for v in xyz), p, 0.0)) for k, xyz in pts.items()}
        assert 2.0 <= t["temporal"] <= 4.0, t
        assert 6.0 <= t["frontal"] <= 10.0, t
        assert 6.0 <= t["occipital"] <= 10.0, t


def _fixed(monkeypatch, kind, z_cut=None, artefacts=None):
    monkeypatch.setattr(skull_module, "crop_plan", lambda rng, p: (kind, z_cut))
    if artefacts is not None:
        monkeypatch.setattr(skull_module, "artefact_parts", artefacts)


def test_crop_below_the_orbits_removes_the_face_and_keeps_the_vault(monkeypatch):
    _fixed(monkeypatch, "full")
    full = synth_skull(11, 80, 3.2, realism="real").array.astype(bool)
    _fixed(monkeypatch, "orbits", -5.0)
    cut = synth_skull(11, 80, 3.2, realism="real").array.astype(bool)
    height = [np.ptp(np.flatnonzero(m.any(axis=(0, 1)))) * 3.2 for m in (full, cut)]
    assert height[0] - height[1] > 25  # the maxilla (down to -46 mm) is gone
    assert cut.sum() < full.sum()


def test_field_of_view_edge_cuts_one_side(monkeypatch):
    _fixed(monkeypatch, "full")
    full = synth_skull(12, 80, 3.2, realism="real").array.astype(bool)
    _fixed(monkeypatch, "fov_edge")
    cut = synth_skull(12, 80, 3.2, realism="real").array.astype(bool)
    ext = [[np.ptp(np.flatnonzero(m.any(axis=tuple(a for a in range(3) if a != ax)))) for ax in (0, 1)] for m in (full, cut)]
    shrink = np.subtract(ext[0], ext[1]) * 3.2
    assert shrink.max() >= 3.2 and sorted(shrink)[0] == 0 and cut.sum() < full.sum()


def test_pinholes_and_cracks_cut_the_vault(monkeypatch):
    counts = {}

    def spy(rng, p, spacing):
        parts = artefact_parts(rng, p, spacing)
        counts["n"] = len(parts)
        return parts

    _fixed(monkeypatch, "full", artefacts=spy)
    for seed in range(40):
        with_cuts = synth_skull(seed, 80, 3.2, realism="real").array
        if counts["n"] >= 3:
            break
    # the same draws, the cuts not applied (nothing after them uses the generator with the crop fixed)
    _fixed(monkeypatch, "full", artefacts=lambda rng, p, spacing: artefact_parts(rng, p, spacing)[:0])
    without = synth_skull(seed, 80, 3.2, realism="real").array
    assert counts["n"] >= 3
    assert int(without.sum()) - int(with_cuts.sum()) > 5 and not np.any(with_cuts > without)


def test_real_skulls_are_deterministic_rotated_and_differ_from_smooth():
    a = synth_skull(5, 80, 3.2, realism="real")
    b = synth_skull(5, 80, 3.2, realism="real")
    assert np.array_equal(a.array, b.array)
    assert not np.array_equal(a.array, synth_skull(5, 80, 3.2).array)
    assert default_rotation("real", None) == REAL_ROTATION_DEG and default_rotation("smooth", None) == 0.0
    assert default_rotation("real", 0.0) == 0.0


def test_real_skulls_need_a_larger_field_of_view_and_unknown_realism_is_refused():
    check_field_of_view(144, 1.6)
    with pytest.raises(SkullVAEError, match="field of view"):
        check_field_of_view(144, 1.6, realism="real")
    check_field_of_view(160, 1.6, realism="real")
    with pytest.raises(SkullVAEError, match="realism"):
        synth_skull(0, 80, 3.2, realism="photo")
