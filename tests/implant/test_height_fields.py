"""Radial profiles' geometry: where each ray leaves the scan."""

import numpy as np

from skullvae import Volume
from skullvae.implant.height_fields import RadialFrame, view_radius
from skullvae.implant.sphere import CubeSphere


def _brute_force_exit(volume, frame, cell, step_mm=0.05):
    d = frame.axes @ frame.sphere.directions[cell]
    t = np.arange(0.0, 400.0, step_mm)
    idx = volume.physical_to_index(frame.centre + t[:, None] * d)
    inside = np.all((idx >= 0) & (idx <= np.asarray(volume.shape) - 1), axis=1)
    return t[np.argmin(inside)] if not inside.all() else np.inf


def test_view_radius_matches_marching_along_the_ray_on_an_oblique_anisotropic_grid():
    angle = np.radians(16.5)  # pitched like CT_pitch, with a flipped axis
    direction = np.array([[-1.0, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    volume = Volume(np.zeros((40, 60, 20), np.uint8), (0.8, 0.8, 2.4), (10.0, -30.0, -5.0), direction)
    centre = volume.index_to_physical(np.array([[22.0, 25.0, 9.0]]))[0]
    axes = np.linalg.qr(np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.1], [0.1, 0.0, 1.0]]))[0]
    frame = RadialFrame(centre, axes, CubeSphere(6))
    view = view_radius(volume, frame)
    assert view.shape == (frame.sphere.size,)
    for cell in range(0, frame.sphere.size, 7):
        assert abs(view[cell] - _brute_force_exit(volume, frame, cell)) < 0.06
