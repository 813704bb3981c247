"""Implant mask → watertight, smoothed triangle mesh in physical LPS millimetres.

Marching cubes (scikit-image) runs on the mask padded by one voxel (so every
surface closes), optionally pre-smoothed (Gaussian, off by default); vertices
are mapped index → LPS mm through the volume's exact geometry (3D Slicer reads
STL in LPS). Taubin smoothing does not shrink the surface. ``decimate`` lowers the
resolution by running marching cubes with a larger step (the mesh stays
watertight, unlike edge-collapse decimation of a non-manifold input).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_write_bytes
from skullvae.io.volume import Volume


def _march(mask: np.ndarray, step: int, presmooth: float):
    from skimage.measure import marching_cubes

    # Pad with ``step`` empty layers (and round up to whole steps) so every surface closes.
    pad = [(step, step + (-(n + 2 * step - 1)) % step) for n in mask.shape]
    padded = np.pad(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8), pad)
    if step == 1:
        if presmooth > 0:
            padded = ndimage.gaussian_filter(padded.astype(np.float32), presmooth)
            verts, faces, _, _ = marching_cubes(padded, level=0.5, allow_degenerate=False)
        else:
            # Visit only the cells with a voxel of the mask: the same surface, a fraction of the work.
            verts, faces, _, _ = marching_cubes(padded.astype(np.float32), level=0.5, allow_degenerate=False,
                                                mask=_occupied_cells(padded))
        return verts - 1.0, faces  # undo the padding
    # Marching cubes with a step only reads every step-th sample: smooth (separably)
    # and subsample one axis at a time, then march the small lattice.
    lattice = padded
    for axis in range(3):
        if presmooth > 0:
            lattice = ndimage.gaussian_filter1d(lattice, presmooth, axis=axis, output=np.float32)
        index = [slice(None)] * 3
        index[axis] = slice(None, None, step)
        lattice = lattice[tuple(index)]
    verts, faces, _, _ = marching_cubes(np.ascontiguousarray(lattice, dtype=np.float32), level=0.5,
                                        allow_degenerate=False)
    return verts * float(step) - float(step), faces  # lattice → voxel indices, undo the padding


def _occupied_cells(padded: np.ndarray) -> np.ndarray:
    """The ``mask`` for scikit-image's marching cubes: cells with at least one foreground corner.

    scikit-image reads ``mask[x, y, z]`` for the cell whose corners are ``x-1..x``,
    ``y-1..y``, ``z-1..z``; a cell without foreground corners yields no triangles.
    """
    cells = padded.astype(bool)
    cells[1:] |= cells[:-1]
    cells[:, 1:] |= cells[:, :-1]
    cells[:, :, 1:] |= cells[:, :, :-1]
    return cells


def mask_to_mesh(mask: Volume, smooth_iterations: int = 10, decimate: float | None = None, presmooth: float = 0.0):
    """Mesh the non-zero voxels of ``mask`` in physical LPS millimetres.

    Args:
        mask: binary volume (a cropped box is fine: its origin places it).
        smooth_iterations: Taubin smoothing iterations (0 = none).
        decimate: keep about this fraction of the faces (0 < f ≤ 1), or None.
        presmooth: Gaussian σ in voxels applied before marching cubes.

    Returns:
        A watertight ``trimesh.Trimesh`` with outward normals.

    Raises:
        SkullVAEError: empty mask, bad ``decimate``, or the mesh cannot be closed.
    """
    array = np.asarray(mask.array)
    if array.dtype != bool:
        array = array != 0
    if not array.any():
        raise SkullVAEError("the mask is empty: nothing to mesh")
    if decimate is not None and not 0 < decimate <= 1:
        raise SkullVAEError(f"--decimate must be in (0, 1], got {decimate}")
    last_error = None
    # Marching cubes on raw voxels can, rarely, leave a non-manifold edge where voxels
    # touch only along an edge; a light Gaussian pre-smoothing removes those.
    for sigma in dict.fromkeys((presmooth, 0.5, 1.0)):
        mesh = _mesh_once(mask, array, sigma, smooth_iterations, decimate)
        try:
            _make_watertight(mesh)
            return mesh
        except SkullVAEError as exc:
            last_error = exc
    raise last_error  # type: ignore[misc]


def _mesh_once(mask: Volume, array: np.ndarray, presmooth: float, smooth_iterations: int, decimate: float | None):
    """One Taubin-smoothed marching-cubes mesh (``trimesh.Trimesh``) with outward winding."""
    import trimesh

    verts, faces = _march(array, 1, presmooth)
    if decimate is not None and decimate < 1:
        target = decimate * len(faces)
        step = 1
        while len(faces) > target * 1.15 and step < 8:
            step += 1
            verts, faces = _march(array, step, presmooth)
    verts = mask.index_to_physical(verts)
    if signed_volume(verts, faces) < 0:  # e.g. a mirrored index space: wind outwards before smoothing
        faces = np.ascontiguousarray(faces[:, ::-1])
    # Marching cubes already shares vertices and winds faces consistently: no processing.
    mesh = trimesh.Trimesh(vertices=verts, faces=faces, process=False)
    if smooth_iterations > 0:
        trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=0.52, iterations=int(smooth_iterations))
    return mesh


def preview_mesh(mask: Volume, n_faces: int, max_faces: int = 15_000):
    """A coarse, unsmoothed mesh of ``mask`` for drawing (about ``max_faces`` faces).

    Args:
        mask: binary volume with geometry.
        n_faces: face count of the full-resolution mesh (sets the step size).
        max_faces: wanted face count.

    Returns:
        ``(vertices in LPS mm, faces)``.
    """
    step = max(1, int(np.ceil(np.sqrt(n_faces / max_faces))))
    verts, faces = _march(np.asarray(mask.array) != 0, step, 0.5 if step == 1 else 1.0)
    return mask.index_to_physical(verts), faces


def _make_watertight(mesh) -> None:
    """Check (and only if needed, repair) watertightness; orient normals outwards.

    Args:
        mesh: the mesh, changed in place.
    """
    import trimesh

    if not (mesh.is_watertight and mesh.is_winding_consistent):
        mesh.merge_vertices()
        mesh.update_faces(mesh.nondegenerate_faces())
        mesh.remove_unreferenced_vertices()
        trimesh.repair.fill_holes(mesh)
        trimesh.repair.fix_normals(mesh, multibody=True)
        if not mesh.is_watertight:
            raise SkullVAEError("could not make the implant mesh watertight")
    if signed_volume(mesh.vertices, mesh.faces) < 0:  # consistent but inward
        mesh.invert()


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by a closed triangle mesh, positive when its faces wind outwards.

    The sum of the signed tetrahedra (origin, triangle): the same quantity as
    ``trimesh.Trimesh.volume``, which also computes the centre of mass and inertia
    (0.25 s instead of 0.01 s on a 340k-face implant, paid twice per completion).

    Args:
        vertices: ``(V, 3)`` points.
        faces: ``(F, 3)`` vertex indices.

    Returns:
        The signed volume in cubic units of ``vertices``.
    """
    x, y, z = np.asarray(vertices, dtype=np.float64).T.copy()  # one coordinate at a time: 1-D gathers
    first, second, third = np.ascontiguousarray(np.asarray(faces).T)
    ax, bx, cx = x[first], x[second], x[third]
    ay, by, cy = y[first], y[second], y[third]
    az, bz, cz = z[first], z[second], z[third]
    return float(np.dot(ax, by * cz - bz * cy) + np.dot(ay, bz * cx - bx * cz) + np.dot(az, bx * cy - by * cx)) / 6.0


#: The 80-byte binary STL header. 3D Slicer reads ``SPACE=LPS`` in it (the marker Slicer
#: writes itself) and loads the vertices as LPS; Slicer >= 4.11 also assumes LPS without it.
STL_HEADER = b"skullvae implant, patient coordinates in mm. SPACE=LPS".ljust(80, b" ")


def write_stl(mesh, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a binary STL atomically (coordinates as given: LPS mm, marked ``SPACE=LPS`` in the header)."""
    data = mesh.export(file_type="stl")
    return atomic_write_bytes(path, STL_HEADER + data[len(STL_HEADER):], overwrite)


def mesh_summary(mesh) -> dict:
    """Faces, vertices, watertightness, volume (cm³) and bounds (mm) of a mesh."""
    watertight = bool(mesh.is_watertight)  # cached by trimesh after the check in mask_to_mesh
    return {
        "faces": int(len(mesh.faces)),
        "vertices": int(len(mesh.vertices)),
        "watertight": watertight,
        "volume_cm3": float(abs(signed_volume(mesh.vertices, mesh.faces)) / 1000.0) if watertight else None,
        "bounds_mm": np.asarray(mesh.bounds, float).round(3).tolist(),
    }
