"""Alignment to the canonical pose (symmetry plane, registration) and the frame it yields (exact round trip)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
from skull_shapes import shell_skull  # noqa: E402

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


def _roll_y(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def test_axes_alignment_uses_the_symmetry_plane_and_maps_back():
    # a left-right symmetric shell skull, turned (yaw 12°) and tilted sideways (roll 8°) in the scanner
    tilt = _rot(12, 0) @ _roll_y(8)
    upright, _, _ = shell_skull(shape=(90, 100, 90))
    defective = Volume(upright.array, upright.spacing, upright.origin, tilt @ np.asarray(upright.direction))
    frame, grid, info = align_frame(defective, (48, 48, 48), 4.0, "axes")
    assert np.isclose(np.linalg.det(frame.rotation), 1.0)
    left = tilt[:, 0]  # the shell's own left-right axis in LPS
    assert np.degrees(np.arccos(abs(frame.rotation[:, 0] @ left))) < 2.0
    assert 12.0 < info["rotation_deg"] < 16.0
    back = from_grid(grid, frame, defective) > 0.5
    dice = 2 * (back & (defective.array > 0)).sum() / (back.sum() + defective.array.sum())
    assert dice > 0.85  # 4 mm grid, 7 mm shell
    assert np.allclose(to_grid(defective, frame), grid)


def test_axes_alignment_leaves_an_upright_skull_alone():
    defective, _, _ = shell_skull()
    _, _, info = align_frame(defective, (48, 48, 48), 4.0, "axes")
    assert info["rotation_deg"] < 1.5


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
    _, scan_grid, _ = align_frame(moved, (40, 40, 40), 4.0, "none")
    dice_scan = 2 * ((scan_grid > 0.5) & (reference > 0.5)).sum() / ((scan_grid > 0.5).sum() + (reference > 0.5).sum())
    assert info["dice_to_reference"] > dice_scan + 0.1  # registration undoes the pose
    angle = np.degrees(np.arccos(np.clip((np.trace(frame.rotation.T @ true) - 1) / 2, -1, 1)))
    assert angle < 6.0  # 4 mm grid voxels


def test_registration_keeps_a_skull_already_in_the_reference_pose():
    from skullvae.preprocessing.model_grid import frame_for

    _, complete, _ = shell_skull(defect=False)
    defective, _, _ = shell_skull()
    reference = to_grid(complete, frame_for(complete, (40, 48, 40), 4.0))
    frame, _, info = align_frame(defective, (40, 48, 40), 4.0, "register", reference)
    assert info["rotation_deg"] < 3.0 and info["dice_to_reference"] > 0.8
