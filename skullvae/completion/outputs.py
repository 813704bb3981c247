"""Output files of one completion: preview PNG and report JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from skullvae.io.atomic import atomic_path, atomic_write_text


def _slice(volume_arr: np.ndarray, axis: int, index: int) -> np.ndarray:
    sl = [slice(None)] * 3
    sl[axis] = index
    return np.asarray(volume_arr[tuple(sl)])


def write_preview(path: str | os.PathLike, defective: np.ndarray, implant_full_box, implant_center: np.ndarray,
                  spacing, mesh=None, context_points=None, title: str = "") -> Path:
    """Three orthogonal slices through the implant centre (bone grey, implant red) and a 3D render.

    Args:
        path: output PNG path.
        defective: defective bone mask on the input grid.
        implant_full_box: ``(array, lo, hi)`` of the implant box in the input grid.
        implant_center: index of the implant centre in the input grid.
        spacing: voxel size (for the aspect ratio).
        mesh: ``(vertices, faces)`` of the implant for the 3D panel (optional).
        context_points: bone points (LPS mm) drawn around the mesh.
        title: figure title.

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from skullvae.viz.render3d import draw_mesh

    arr, lo, hi = implant_full_box
    center = np.asarray(implant_center, int)
    fig = Figure(figsize=(16, 4.4), dpi=90)  # no pyplot: safe in a worker thread
    FigureCanvasAgg(fig)
    names = ("sagittal (i)", "coronal (j)", "axial (k)")
    for axis in range(3):
        ax = fig.add_subplot(1, 4, axis + 1)
        bone = _slice(defective, axis, center[axis]).astype(np.float32)
        imp = np.zeros(bone.shape, bool)
        if lo[axis] <= center[axis] < hi[axis]:
            other = [a for a in range(3) if a != axis]
            box = _slice(arr, axis, center[axis] - lo[axis])
            imp[lo[other[0]] : hi[other[0]], lo[other[1]] : hi[other[1]]] = box
        sp = [spacing[a] for a in range(3) if a != axis]
        rgb = np.stack([bone * 0.8] * 3, axis=-1)
        rgb[imp] = (0.9, 0.15, 0.1)
        ax.imshow(np.transpose(rgb, (1, 0, 2)), origin="lower", aspect=sp[1] / sp[0], interpolation="nearest")
        ax.set_title(f"{names[axis]} = {center[axis]}")
        ax.set_axis_off()
    ax3 = fig.add_subplot(1, 4, 4, projection="3d")
    if mesh is not None:
        draw_mesh(ax3, mesh[0], mesh[1], context=context_points)
        ax3.set_title("implant (LPS mm)")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def write_report(path: str | os.PathLike, report: dict) -> Path:
    """Write ``report`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(report, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
