"""3D Slicer alignment: ``implant.stl`` and ``implant.nii.gz`` coincide in LPS millimetres.

Users most often report an implant "rotated 180°" on inputs whose direction matrix is not
the identity. Here the inputs are a RAS-stored NIfTI (ITK direction diag(-1, -1, 1), the
usual NIfTI written by nibabel / FSL) and an oblique, flipped grid. The NIfTI implant is read
back with nibabel (the NIfTI affine, RAS, independent of the SimpleITK writer) and converted
to LPS as Slicer does; the STL vertices are read as stored (Slicer loads STL as LPS).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import trimesh
from cli_runner import run_cli
from scipy import ndimage
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
from skull_shapes import shell_skull  # noqa: E402

from skullvae.implant.mesh import STL_HEADER
from skullvae.io import write_volume

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


def _rotation(axis: int, deg: float) -> np.ndarray:
    a = np.radians(deg)
    i, j = [k for k in range(3) if k != axis]
    rot = np.eye(3)
    rot[i, i] = rot[j, j] = np.cos(a)
    rot[i, j], rot[j, i] = -np.sin(a), np.sin(a)
    return rot


DIRECTIONS = {
    "ras_stored": np.diag([-1.0, -1.0, 1.0]),
    "oblique_flipped": _rotation(2, 25.0) @ _rotation(0, 15.0) @ np.diag([1.0, 1.0, -1.0]),
}


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_stl_and_nifti_implant_coincide_in_lps(name, tmp_path, capsys):
    defective, _, truth = shell_skull(direction=DIRECTIONS[name])
    write_volume(defective, tmp_path / "case.nii.gz")
    out = tmp_path / "out"
    code, _, err = run_cli(["complete", tmp_path / "case.nii.gz", "--mode", "mirror", "-o", out], capsys)
    assert code == 0, err

    image = nib.load(out / "implant.nii.gz")
    mask = np.asarray(image.dataobj) > 0
    assert mask.sum() > 100
    to_lps = lambda ijk: (RAS_TO_LPS @ nib.affines.apply_affine(image.affine, ijk).T).T  # noqa: E731
    voxels = to_lps(np.argwhere(mask))
    surface = to_lps(np.argwhere(mask & ~ndimage.binary_erosion(mask)))
    voxel = float(max(image.header.get_zooms()[:3]))

    raw = (out / "implant.stl").read_bytes()
    assert raw[:80] == STL_HEADER and b"SPACE=LPS" in raw[:80]
    mesh = trimesh.load(out / "implant.stl")  # merges duplicate vertices, moves none
    assert mesh.is_watertight

    # every vertex lies on the mask's boundary: within a voxel of a surface voxel centre
    dist, _ = cKDTree(surface).query(mesh.vertices)
    assert dist.max() <= voxel, dist.max()
    # and the mesh covers the mask: every surface voxel is within a voxel of the mesh
    back, _ = cKDTree(mesh.vertices).query(surface)
    assert np.percentile(back, 99) <= voxel
    # same place and extent: volume centroid and bounding box agree to a voxel
    assert np.linalg.norm(mesh.center_mass - voxels.mean(0)) < 0.5 * voxel
    assert np.allclose(mesh.bounds, [voxels.min(0), voxels.max(0)], atol=voxel)
    # the implant is where the defect is (the known implant, in the same LPS frame) ...
    truth_lps = truth.index_to_physical(np.argwhere(truth.array))
    assert np.linalg.norm(mesh.center_mass - truth_lps.mean(0)) < 2 * voxel
    # ... and a RAS/LPS mix-up (the "rotated 180°" report) would be far off: the defect is 60 mm left
    ras_as_lps = nib.affines.apply_affine(image.affine, np.argwhere(mask)).mean(0)
    assert np.linalg.norm(mesh.center_mass - ras_as_lps) > 50.0
