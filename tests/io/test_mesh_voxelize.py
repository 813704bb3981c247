"""voxelize_double_shell: analytic double shells with holes, and the real decimated skull STL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.io.mesh_voxelize import voxelize_double_shell

REAL_STL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "msr_skull_double_shell.stl"
R_OUT, R_IN = 20.0, 15.0


def _shells(holes_outer=(), holes_inner=()) -> trimesh.Trimesh:
    """Two concentric icospheres (5 mm apart), with the given faces removed to make holes."""
    parts = []
    for radius, holes in ((R_OUT, holes_outer), (R_IN, holes_inner)):
        sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
        keep = np.ones(len(sphere.faces), dtype=bool)
        keep[list(holes)] = False
        parts.append(trimesh.Trimesh(sphere.vertices, sphere.faces[keep], process=False))
    return trimesh.util.concatenate(parts)


def _true_volume() -> float:
    return trimesh.creation.icosphere(subdivisions=4, radius=R_OUT).volume - trimesh.creation.icosphere(subdivisions=4, radius=R_IN).volume


def _ray_thickness(vol, centre, elevations, azimuths, step=0.05) -> np.ndarray:
    """Bone length (mm) along rays from ``centre``."""
    mask = vol.array > 0
    radii = np.arange(0.0, 150.0, step)
    out = []
    for el in np.radians(elevations):
        for az in np.radians(azimuths):
            d = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
            idx = np.round(vol.physical_to_index(centre + radii[:, None] * d)).astype(int)
            ok = np.all((idx >= 0) & (idx < np.array(mask.shape)), axis=1)
            out.append(mask[tuple(idx[ok].T)].sum() * step)
    return np.array(out)


def test_double_shell_with_holes_is_solid_between_the_tables():
    mesh = _shells(holes_outer=(0, 100, 500, 1200, 3000), holes_inner=(3, 700, 2500))
    assert not mesh.is_watertight
    spacing = 0.5
    vol = voxelize_double_shell(mesh, spacing=spacing, cavity_seed=(0.3, 0.1, 0.2))
    assert vol.array.dtype == np.uint8 and set(np.unique(vol.array)) == {0, 1}
    assert np.array_equal(vol.direction, np.eye(3)) and vol.spacing == (spacing,) * 3
    np.testing.assert_allclose(vol.origin, mesh.bounds[0] - 4.0)
    # volume right to well within half a voxel over both surfaces
    area = 4 * np.pi * (R_OUT**2 + R_IN**2)
    volume = vol.array.sum() * spacing**3
    assert abs(volume - _true_volume()) < 0.25 * spacing * area
    # 5 mm of bone along every ray, to within a voxel (plus the rays' own 0.05 mm steps and rounding)
    t = _ray_thickness(vol, np.zeros(3), np.arange(-80, 90, 20), np.arange(0, 360, 30))
    assert np.all(np.abs(t - (R_OUT - R_IN)) <= spacing + 0.1), (t.min(), t.max())
    assert abs(t.mean() - (R_OUT - R_IN)) < 0.25 * spacing
    radius = np.linalg.norm(vol.index_to_physical(np.argwhere(vol.array)), axis=1)
    assert radius.min() > R_IN - spacing and radius.max() < R_OUT + spacing
    assert ndimage.label(vol.array, structure=np.ones((3, 3, 3)))[1] == 1
    # the holes are sealed: the same bone as the closed shells, within a few voxels
    closed = voxelize_double_shell(_shells(), spacing=spacing, cavity_seed=(0.3, 0.1, 0.2))
    assert abs(int(closed.array.sum()) - int(vol.array.sum())) < 50


def _cap_volume(radius: float, h: float) -> float:
    """Volume of the part of a ball above the plane z = h."""
    return np.pi * (2 * radius**3 / 3 - radius**2 * h + h**3 / 3)


def test_flat_cut_is_capped():
    mesh = _shells()
    cut = trimesh.Trimesh(mesh.vertices, mesh.faces[mesh.triangles_center[:, 2] >= 0], process=False)  # open rims
    assert cut.vertices[cut.faces].reshape(-1, 3)[:, 2].min() > -2.0
    spacing = 0.5
    vol = voxelize_double_shell(cut, spacing=spacing, cap_z=2.5, cavity_seed=(0.0, 0.0, 10.0))
    z = vol.index_to_physical(np.argwhere(vol.array))[:, 2]
    assert 2.5 < z.min() < 3.5
    h = z.min() - spacing / 2  # bone starts at the voxel faces just above the cap plane
    expected = _cap_volume(R_OUT, h) - _cap_volume(R_IN, h)
    assert abs(vol.array.sum() * spacing**3 / expected - 1.0) < 0.03
    # without the cap the space between the tables leaks out through the open cut
    leaky = voxelize_double_shell(cut, spacing=spacing, cavity_seed=(0.0, 0.0, 10.0))
    assert leaky.array.sum() < 0.2 * vol.array.sum()


def test_bad_input():
    with pytest.raises(SkullVAEError, match="no triangles"):
        voxelize_double_shell(trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int)))
    with pytest.raises(SkullVAEError, match="spacing"):
        voxelize_double_shell(_shells(), spacing=0.0)
    with pytest.raises(SkullVAEError, match="margin"):
        voxelize_double_shell(_shells(), margin_mm=1.0, closing_mm=1.5)


def test_single_surface_gives_at_most_a_voxel_thin_shell():
    single = trimesh.creation.icosphere(subdivisions=4, radius=15.0)  # one surface: no space between two tables
    vol = voxelize_double_shell(single, spacing=0.5)
    assert 0 < vol.array.sum() * 0.5**3 < 1.2 * single.area * 0.5


@pytest.mark.real_data
def test_real_decimated_skull_stl():
    if not REAL_STL.is_file():
        pytest.skip(f"real data not available ({REAL_STL} missing)")
    mesh = trimesh.load(REAL_STL, force="mesh")
    spacing = 1.0
    vol = voxelize_double_shell(mesh, spacing=spacing, cap_z=mesh.bounds[0][2] + 1.0, keep_largest=False)
    bone = vol.array > 0
    labels, _ = ndimage.label(bone, structure=np.ones((3, 3, 3)))
    assert np.bincount(labels.ravel())[1:].max() > 0.999 * bone.sum()  # one piece (and a few specks near the face)
    assert 420 < bone.sum() * spacing**3 / 1000 < 580  # cm³ of bone
    pts = vol.index_to_physical(np.argwhere(bone))
    low, high = pts.min(axis=0), pts.max(axis=0)
    np.testing.assert_allclose(high - low, [138, 184, 145], atol=3.0)
    centre = np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, high[2] - 0.5 * (high[0] - low[0])])
    t = _ray_thickness(vol, centre, np.arange(20, 90, 10), np.arange(0, 360, 20), step=0.1)
    assert t.min() > 2.5  # every ray over the vault meets bone: the vault is closed
    assert 5.5 < np.median(t) < 9.0 and np.percentile(t, 95) < 11.5 and t.max() < 12.5
