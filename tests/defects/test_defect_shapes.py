"""Defect footprints: analytic areas and sizes."""

from __future__ import annotations

import numpy as np

from skullvae.defects.placement import direction_from_angles, tangent_frame
from skullvae.defects.shapes import ellipse, rounded_square, sphere_cluster


def test_rounded_square_area_is_analytic():
    rng = np.random.default_rng(0)
    side, corner = 50.0, 8.0
    fp = rounded_square(rng, side, corner)
    expected = side**2 - (4 - np.pi) * corner**2
    assert abs(fp.area_mm2 - expected) / expected < 0.02


def test_ellipse_area_close_to_pi_ab():
    fp = ellipse(np.random.default_rng(1), 40.0, 25.0, wobble_mm=0.0)
    assert abs(fp.area_mm2 - np.pi * 40 * 25) / (np.pi * 40 * 25) < 0.02


def test_sphere_cluster_nonempty_and_bounded():
    for seed in range(5):
        fp = sphere_cluster(np.random.default_rng(seed), 6, (7.0, 15.0), 13.0)
        assert fp.area_mm2 > 300.0
        assert 15.0 < fp.diameter_mm < 140.0
        assert fp.contains(np.array([1e3]), np.array([0.0]))[0] == False  # noqa: E712


def test_tangent_frame_is_orthonormal_and_right_handed():
    for az, el in [(0, 0), (90, 30), (-90, -10), (45, 89)]:
        e1, e2, w = tangent_frame(direction_from_angles(az, el))
        m = np.stack([e1, e2, w], axis=1)
        np.testing.assert_allclose(m.T @ m, np.eye(3), atol=1e-12)
        assert np.linalg.det(m) > 0.999
