"""Shaded 3D render of a triangle mesh with matplotlib (Agg, no display needed)."""

from __future__ import annotations

import numpy as np


def _reduce_faces(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> np.ndarray:
    """Every n-th face when there are too many (only for drawing; the STL is untouched)."""
    if len(faces) <= max_faces:
        return faces
    return faces[:: int(np.ceil(len(faces) / max_faces))]


def draw_mesh(ax, vertices, faces, color=(0.85, 0.25, 0.2), context=None, max_faces: int = 12_000,
              elev: float = 20.0, azim: float = -60.0) -> None:
    """Draw a mesh with Lambert shading into a matplotlib 3D axes.

    Args:
        ax: an axes created with ``projection="3d"``.
        vertices: ``(V, 3)`` points (LPS mm).
        faces: ``(F, 3)`` vertex indices.
        color: RGB of the mesh.
        context: optional ``(N, 3)`` points (e.g. the surrounding bone) drawn as a
            light grey point cloud for orientation.
        max_faces: faces drawn at most.
        elev: camera elevation in degrees.
        azim: camera azimuth in degrees.
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    vertices = np.asarray(vertices, float)
    faces = _reduce_faces(vertices, np.asarray(faces), max_faces)
    tris = vertices[faces]
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    light = np.array([0.4, -0.5, 0.75])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.abs(normals @ light)
    colors = np.clip(np.asarray(color)[None, :] * shade[:, None], 0, 1)
    ax.add_collection3d(Poly3DCollection(tris, facecolors=colors, edgecolor="none"))
    pts = vertices
    if context is not None and len(context):
        context = np.asarray(context, float)
        ax.scatter(context[:, 0], context[:, 1], context[:, 2], s=1.0, c="0.55", alpha=0.5, depthshade=False, linewidths=0)
        pts = np.vstack([pts, context])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    mid, half = (lo + hi) / 2, (hi - lo).max() / 2 + 1e-6
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(mid[2] - half, mid[2] + half)
    ax.set_xlabel("L (mm)")
    ax.set_ylabel("P (mm)")
    ax.set_zlabel("S (mm)")
    ax.view_init(elev=elev, azim=azim)


def render_mesh_png(mesh, path, title: str = "", context=None, overwrite: bool = False) -> None:
    """Render ``mesh`` (a trimesh) alone into a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skullvae.io.atomic import atomic_path

    fig = plt.figure(figsize=(6, 6), dpi=100)
    ax = fig.add_subplot(projection="3d")
    draw_mesh(ax, mesh.vertices, mesh.faces, context=context)
    ax.set_title(title)
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
