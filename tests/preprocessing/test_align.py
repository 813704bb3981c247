"""Principal-axes alignment and the frame it yields (exact round trip)."""

import numpy as np

from skullvae import Volume
from skullvae.preprocessing.align import align_frame, principal_axes_rotation
from skullvae.preprocessing.model_grid import from_grid, to_grid


def _ellipsoid(rotation, shape=(70, 70, 70), spacing=2.0):
    vol = Volume(np.zeros(shape, np.uint8), (spacing,) * 3, (-70.0, -70.0, -70.0))
    pts = vol.index_to_physical(np.indices(shape).reshape(3, -1).T)
    local = pts @ rotation
    r = np.linalg.norm(local / np.array([40.0, 60.0, 25.0]), axis=1)
    vol.array[...] = (r <= 1.0).reshape(shape)
    return vol


def _rot(deg_z, deg_x):
    a, b = np.radians(deg_z), np.radians(deg_x)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def test_principal_axes_recover_a_tilt():
    true = _rot(20, -12)
    rot = principal_axes_rotation(_ellipsoid(true))
    assert np.isclose(np.linalg.det(rot), 1.0)
    for k in range(3):
        assert abs(rot[:, k] @ true[:, k]) > 0.995  # each grid axis matches the tilted axis
        assert rot[k, k] > 0  # and keeps the patient direction


def test_aligned_frame_puts_the_skull_upright_and_maps_back():
    true = _rot(20, -12)
    vol = _ellipsoid(true)
    frame, grid, info = align_frame(vol, (48, 48, 48), 3.0, "axes")
    assert 20.5 < info["rotation_deg"] < 26  # the combined rotation angle of the tilt
    # upright in the grid: the long axis (60 mm) runs along grid axis 1
    extent = [np.ptp(np.flatnonzero(np.any(grid > 0.5, axis=tuple(a for a in range(3) if a != ax)))) for ax in range(3)]
    assert extent[1] > extent[0] > extent[2]
    back = from_grid(grid, frame, vol) > 0.5
    dice = 2 * (back & (vol.array > 0)).sum() / (back.sum() + vol.array.sum())
    assert dice > 0.93
    assert np.allclose(to_grid(vol, frame), grid)
