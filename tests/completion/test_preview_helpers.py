"""The preview's mesh-free facts: face-count estimate and implant bounds."""

import numpy as np

from skullvae import Volume
from skullvae.completion.preview import _voxel_bounds, exposed_faces
from skullvae.implant.mesh import mask_to_mesh


def test_exposed_faces_and_marching_cubes_face_count():
    one = np.zeros((3, 3, 3), bool)
    one[1, 1, 1] = True
    assert exposed_faces(one) == 6
    two = np.ones((2, 1, 1), bool)
    assert exposed_faces(two) == 10
    ball = np.linalg.norm(np.indices((30, 30, 30)) - 14.5, axis=0) < 10
    mesh = mask_to_mesh(Volume(ball.astype(np.uint8), (0.5, 0.5, 0.5)), smooth_iterations=0)
    assert abs(len(mesh.faces) - 2 * exposed_faces(ball)) <= 0.05 * len(mesh.faces)


def test_voxel_bounds_match_the_mesh_bounds():
    ball = np.linalg.norm(np.indices((30, 30, 30)) - 14.5, axis=0) < 10
    vol = Volume(ball.astype(np.uint8), (0.5, 0.6, 0.7), (3.0, -2.0, 1.0), np.diag([-1.0, 1.0, -1.0]))
    bounds = _voxel_bounds(vol)
    mesh = mask_to_mesh(vol)
    assert np.allclose(mesh.bounds, bounds, atol=0.7)  # within a voxel (Taubin moves the surface a little)
