"""A solid bone mask from a double-shell skull surface mesh (outer and inner table).

Meshes made from CT bone surfaces and then decimated are rarely closed: they have
holes, edges shared by three or more faces and loose fragments, so inside/outside
tests (winding numbers, ray parity) fail. :func:`voxelize_double_shell` relies on
the raster instead: it samples every triangle densely, marks the voxels the
surface passes through, seals small holes with a ball, flood-fills the space
outside the skull (from the box border) and the cranial cavity (from a seed), and
calls bone whatever is neither. A final pass assigns each surface voxel to the side
of the surface its centre lies on, so the bone is not a voxel too thick.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume

_FACES6 = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])


def voxelize_double_shell(mesh, spacing: float = 0.5, margin_mm: float = 4.0, closing_mm: float = 1.5,
                          cavity_seed=None, cap_z: float | None = None, keep_largest: bool = True) -> Volume:
    """Voxelise a skull surface with an outer and an inner table into a solid bone mask.

    The mesh need not be watertight or manifold: holes narrower than about
    ``2 * closing_mm`` are sealed (leaving a dent of at most ``closing_mm`` in the
    bone), fragments are kept as surface. Bone is the space enclosed between the
    surfaces, outside the cavity; a lone closed surface gives at most a one-voxel
    shell. The volume's geometry is the mesh's own coordinates taken as LPS
    millimetres: identity direction, isotropic ``spacing``, origin at the mesh's
    minimum corner minus ``margin_mm``. Deterministic (no random sampling).

    Args:
        mesh: a ``trimesh.Trimesh`` or a path to a mesh file (STL, PLY, OBJ) in mm.
        spacing: voxel size in mm.
        margin_mm: empty border around the mesh (at least ``closing_mm`` + 2 voxels).
        closing_mm: radius of the ball that seals holes (rounded to whole voxels): the
            surface is thickened by it before the flood fills, which then grow back by it.
        cavity_seed: an LPS point (mm) inside the cranial cavity; default the centre
            of the mesh's bounding box. The nearest free voxel is used if the point
            falls on the surface.
        cap_z: LPS z (mm) of a flat horizontal cut of the mesh (where the CT's field of
            view ended) whose cross-sections are left open: a plane of surface voxels
            there closes them, and the result is cleared from that plane down.
        keep_largest: keep only the largest 26-connected piece of bone.

    Returns:
        A uint8 {0, 1} :class:`~skullvae.io.volume.Volume` (1 = bone).

    Raises:
        SkullVAEError: a mesh without triangles, a bad spacing or margin, or an
            empty result.
    """
    faces = _triangles(mesh)
    spacing = float(spacing)
    if not spacing > 0:
        raise SkullVAEError(f"spacing must be positive, got {spacing}")
    if margin_mm < closing_mm + 2 * spacing:
        raise SkullVAEError(f"margin_mm ({margin_mm}) must be at least closing_mm + 2 voxels")
    low = faces.reshape(-1, 3).min(axis=0) - margin_mm
    high = faces.reshape(-1, 3).max(axis=0) + margin_mm
    shape = tuple(int(n) for n in np.ceil((high - low) / spacing).astype(int) + 1)
    points = _surface_samples(faces, 0.45 * spacing)
    idx = np.floor((points - low) / spacing + 0.5).astype(np.int64)
    band = np.zeros(shape, dtype=bool)
    band[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    k_cap = None
    if cap_z is not None:
        k_cap = int(np.clip(np.floor((cap_z - low[2]) / spacing + 0.5), 0, shape[2] - 1))
        band[:, :, k_cap] = True

    r = max(int(np.floor(closing_mm / spacing + 0.5)), 1)
    ball = np.add.outer(np.add.outer(np.arange(-r, r + 1) ** 2, np.arange(-r, r + 1) ** 2), np.arange(-r, r + 1) ** 2) <= r * r
    # Flood-fill the free space of the surface thickened by the ball (which seals holes narrower
    # than the ball), then grow only the exterior and the cavity back by the ball: a plain closing
    # would let the space between the tables grow back too and reopen every hole in the sheet.
    labels, _ = ndimage.label(~ndimage.binary_dilation(band, structure=ball))  # 6-connected: no diagonal leaks
    border = np.unique(np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(), labels[:, :, [0, -1]].ravel()]))
    centre = (faces.reshape(-1, 3).min(axis=0) + faces.reshape(-1, 3).max(axis=0)) / 2
    seed = centre if cavity_seed is None else np.asarray(cavity_seed, dtype=np.float64)
    free = np.isin(labels, border[border > 0])
    cavity = _seed_label(labels, np.round((seed - low) / spacing).astype(int))
    if cavity:
        free |= labels == cavity
    del labels
    bone = ~(ndimage.binary_dilation(free, structure=ball) & ~band)
    if k_cap is not None:
        bone[:, :, : k_cap + 1] = False
    tree = cKDTree(points)
    for _ in range(2):
        _peel(bone, tree, low, spacing)
    if keep_largest:
        pieces, n = ndimage.label(bone, structure=np.ones((3, 3, 3), dtype=bool))
        if n > 1:
            bone = pieces == (int(np.argmax(np.bincount(pieces.ravel())[1:])) + 1)
    if not bone.any():
        raise SkullVAEError("the mesh encloses no bone")
    return Volume(bone.astype(np.uint8), (spacing,) * 3, tuple(low), np.eye(3))


def _triangles(mesh) -> np.ndarray:
    """``(F, 3, 3)`` float64 triangle corners of a mesh or mesh file (degenerate faces dropped)."""
    import trimesh

    if isinstance(mesh, (str, os.PathLike)):
        mesh = trimesh.load(os.fspath(mesh), force="mesh")
    tri = np.asarray(getattr(mesh, "triangles", np.zeros((0, 3, 3))), dtype=np.float64)
    if tri.ndim != 3 or tri.shape[0] == 0:
        raise SkullVAEError("the mesh has no triangles")
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return tri[area > 0]


def _surface_samples(tri: np.ndarray, step: float) -> np.ndarray:
    """Points on every triangle on a barycentric lattice no coarser than ``step`` (deterministic)."""
    edges = np.stack([np.linalg.norm(tri[:, a] - tri[:, b], axis=1) for a, b in ((0, 1), (1, 2), (2, 0))], axis=1)
    n_sub = np.maximum(np.ceil(edges.max(axis=1) / step).astype(int), 1)
    out = []
    for n in np.unique(n_sub):
        a, b = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = a + b <= n
        w = np.stack([a[keep], b[keep], n - a[keep] - b[keep]], axis=1).astype(np.float64) / n
        group = tri[n_sub == n]
        for start in range(0, len(group), max(1, 2_000_000 // len(w))):
            out.append(np.einsum("pk,fkd->fpd", w, group[start:start + max(1, 2_000_000 // len(w))]).reshape(-1, 3))
    return np.concatenate(out)


def _seed_label(labels: np.ndarray, ijk: np.ndarray) -> int:
    """Label of the free voxel nearest to ``ijk`` (0 when the seed is outside the box or in no free space)."""
    ijk = np.clip(ijk, 0, np.array(labels.shape) - 1)
    if labels[tuple(ijk)]:
        return int(labels[tuple(ijk)])
    lo = np.maximum(ijk - 20, 0)
    box = labels[lo[0]:ijk[0] + 21, lo[1]:ijk[1] + 21, lo[2]:ijk[2] + 21]
    free = np.argwhere(box > 0)
    if free.size == 0:
        return 0
    near = free[np.argmin(np.sum((free + lo - ijk) ** 2, axis=1))]
    return int(box[tuple(near)])


def _peel(bone: np.ndarray, tree: cKDTree, low: np.ndarray, spacing: float) -> None:
    """Drop boundary voxels of ``bone`` whose centre lies on the free side of the nearest surface point (in place)."""
    free = ~bone
    outward = np.zeros(bone.shape + (3,), dtype=np.int8)
    for d in _FACES6:
        shifted = np.zeros_like(free)
        src = tuple(slice(max(-k, 0), free.shape[a] - max(k, 0)) for a, k in enumerate(d))
        dst = tuple(slice(max(k, 0), free.shape[a] - max(-k, 0)) for a, k in enumerate(d))
        shifted[src] = free[dst]  # shifted[v] = free[v + d]
        outward[shifted & bone] += d.astype(np.int8)
    edge = np.argwhere(bone & outward.any(axis=3))
    if edge.size == 0:
        return
    centres = low + edge * spacing
    dist, nearest = tree.query(centres, distance_upper_bound=0.9 * spacing)
    hit = np.isfinite(dist)
    side = np.einsum("ij,ij->i", tree.data[nearest[hit]] - centres[hit], outward[tuple(edge[hit].T)].astype(np.float64))
    drop = edge[hit][side < 0]
    bone[tuple(drop.T)] = False
