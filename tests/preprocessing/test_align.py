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


def _egg(rotation, shift=(0.0, 0.0, 0.0), shape=(70, 70, 70), spacing=2.0):
    """An asymmetric solid (no axis-sign ambiguity), rotated and shifted."""
    vol = Volume(np.zeros(shape, np.uint8), (spacing,) * 3, (-70.0, -70.0, -70.0))
    pts = vol.index_to_physical(np.indices(shape).reshape(3, -1).T) - np.asarray(shift)
    local = pts @ rotation
    r = np.linalg.norm(local / np.array([40.0, 55.0, 28.0]), axis=1)
    bump = np.linalg.norm(local - np.array([25.0, -30.0, 15.0]), axis=1) < 14.0
    vol.array[...] = ((r <= 1.0) & (local[:, 2] > -20.0) | bump).reshape(shape)
    return vol


def test_registration_to_a_reference_recovers_the_pose():
    from skullvae.preprocessing.model_grid import frame_for

    upright = _egg(np.eye(3))
    ref_frame = frame_for(upright, (40, 40, 40), 4.0)
    reference = to_grid(upright, ref_frame)
    true = _rot(14, 8)
    moved = _egg(true, shift=(6.0, -4.0, 3.0))
    frame, grid, info = align_frame(moved, (40, 40, 40), 4.0, "register", reference)
    assert info["dice_to_reference"] > 0.9
    _, axes_grid, _ = align_frame(moved, (40, 40, 40), 4.0, "axes")
    dice_axes = 2 * ((axes_grid > 0.5) & (reference > 0.5)).sum() / ((axes_grid > 0.5).sum() + (reference > 0.5).sum())
    assert info["dice_to_reference"] > dice_axes  # registration improves on principal axes
    angle = np.degrees(np.arccos(np.clip((np.trace(frame.rotation.T @ true) - 1) / 2, -1, 1)))
    assert angle < 6.0  # 4 mm grid voxels
