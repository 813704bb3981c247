"""3D Slicer alignment: ``implant.stl`` and ``implant.nii.gz`` coincide in LPS millimetres.

Users most often report an implant "rotated 180°" on inputs whose direction matrix is not
the identity. The outputs checked are those of the Docker entrypoint run (``entrypoint_run``,
default options) on a RAS-stored NIfTI (ITK direction diag(-1, -1, 1), the usual NIfTI written
by nibabel / FSL) and on an oblique, flipped grid. The NIfTI implant is read back with nibabel
(the NIfTI affine, RAS, independent of the SimpleITK writer) and converted to LPS as Slicer
does; the STL vertices are taken as stored (Slicer loads STL as LPS).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import trimesh
from entrypoint_sandbox import CASES
from scipy import ndimage
from scipy.spatial import cKDTree

from skullvae.implant.mesh import STL_HEADER

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_stl_and_nifti_implant_coincide_in_lps(case, entrypoint_run):
    assert entrypoint_run.proc.returncode == 0, entrypoint_run.proc.stderr
    out = entrypoint_run.output / case
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
    # and the mesh covers the mask: (almost) every surface voxel is within a voxel of the mesh
    back, _ = cKDTree(mesh.vertices).query(surface)
    assert np.percentile(back, 99) <= voxel
    # same place and extent: volume centroid and bounding box agree to a voxel
    assert np.linalg.norm(mesh.center_mass - voxels.mean(0)) < 0.5 * voxel
    assert np.allclose(mesh.bounds, [voxels.min(0), voxels.max(0)], atol=voxel)
    # the implant is where the defect is (the known implant, in the same LPS frame) ...
    truth = entrypoint_run.truths[case]
    truth_lps = truth.index_to_physical(np.argwhere(truth.array))
    assert np.linalg.norm(mesh.center_mass - truth_lps.mean(0)) < 2 * voxel
    # ... and a RAS/LPS mix-up (the "rotated 180°" report) would be far off: the defect is 60 mm left
    ras_as_lps = nib.affines.apply_affine(image.affine, np.argwhere(mask)).mean(0)
    assert np.linalg.norm(mesh.center_mass - ras_as_lps) > 50.0
