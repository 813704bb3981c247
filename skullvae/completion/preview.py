"""``preview.png`` of one completion: three slices through the implant and a 3D render.

Drawing with matplotlib holds the GIL, and importing it takes about 0.6 s, so
``complete`` does both in a child process forked at the very start
(:func:`start_preview_worker`): the child imports matplotlib while the parent
reads, preprocesses and completes, then waits for :func:`preview_message` (a few
small arrays, sent once the implant exists) and draws while the parent meshes the
implant and writes the volumes. Where ``fork`` is unavailable the parent draws
with :func:`draw_preview` itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skullvae.completion.concurrency import ForkedJob
from skullvae.io.atomic import atomic_path
from skullvae.io.volume import Volume

#: Bone points of the preview's 3D panel lie within this distance (mm) of the implant.
CONTEXT_MARGIN_MM = 40.0


def _worker():
    """In the child: the slow imports first, then wait for the message and draw."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import mpl_toolkits.mplot3d  # noqa: F401
    import skimage.measure  # noqa: F401

    return draw_preview


def start_preview_worker() -> ForkedJob:
    """Fork the preview child (call it before any background thread starts).

    The child runs at a lower CPU priority: on a busy machine the parent's stages,
    which everything waits for, go first, and the child uses the idle time.
    """
    return ForkedJob(_worker, nice=5, name="skullvae-preview")


def preview_message(path: Path, volume: Volume, mask: np.ndarray, completion, implant) -> dict:
    """Everything :func:`draw_preview` needs, as small picklable arrays.

    Args:
        path: the PNG to write.
        volume: the input volume (spacing).
        mask: the defective bone mask on the input grid.
        completion: the completion (mode, grid, defective bone in the grid for context).
        implant: the extracted implant.

    Returns:
        The message dict.
    """
    center = np.round(np.argwhere(implant.array).mean(axis=0) + implant.lo).astype(int)
    cropped = implant.cropped
    context = completion.frame.as_volume(completion.defective).index_to_physical(
        np.argwhere(completion.defective > 0.5)[::7])
    return {
        "path": str(path),
        "bone_slices": [np.asarray(_slice(mask, axis, center[axis]), dtype=np.uint8) for axis in range(3)],
        "implant": np.asarray(implant.array, dtype=bool), "lo": np.asarray(implant.lo), "hi": np.asarray(implant.hi),
        "implant_geometry": (cropped.spacing, cropped.origin, np.asarray(cropped.direction)),
        "center": center, "spacing": tuple(volume.spacing),
        "context": _near(context, _voxel_bounds(cropped), CONTEXT_MARGIN_MM),
        "title": _title(completion, implant),
    }


def _title(completion, implant) -> str:
    mode = completion.info.get("requested_mode", completion.mode)
    rim = completion.info.get("rim")
    prior = f", rim step with the {rim['prior']} prior" if rim else ""
    return f"skullvae complete --mode {mode}{prior}: implant {implant.volume_cm3:.1f} cm³"


def draw_preview(message: dict) -> None:
    """Draw the preview described by :func:`preview_message`.

    The coarse 3D mesh is the implant's own marching cubes with a step set by the
    full mesh's face count, which is twice the implant's exposed voxel faces
    (marching cubes of a binary mask); nothing waits for the STL mesh.
    """
    from skullvae.implant.mesh import preview_mesh

    arr = message["implant"]
    spacing, origin, direction = message["implant_geometry"]
    coarse = preview_mesh(Volume(arr, spacing, origin, direction), 2 * exposed_faces(arr))
    write_preview(message["path"], message["bone_slices"], (arr, message["lo"], message["hi"]), message["center"],
                  message["spacing"], coarse, message["context"], title=message["title"])


def exposed_faces(mask: np.ndarray) -> int:
    """Number of voxel faces between a mask voxel and a background voxel (or the border)."""
    padded = np.pad(np.asarray(mask, dtype=bool), 1)
    return sum(int(np.count_nonzero(padded[tuple(slice(1, None) if a == axis else slice(None) for a in range(3))]
                                    != padded[tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))]))
               for axis in range(3))


def _voxel_bounds(mask: Volume) -> np.ndarray:
    """``[[min], [max]]`` LPS mm of the box around the mask's voxels (half a voxel beyond their centres)."""
    from skullvae.preprocessing.crop import box_corners, nonzero_bbox

    lo, hi = nonzero_bbox(mask.array)  # type: ignore[misc]  # the implant is not empty
    corners = mask.index_to_physical(box_corners(lo - 0.5, hi - 0.5))
    return np.stack([corners.min(axis=0), corners.max(axis=0)])


def _near(points: np.ndarray, bounds, margin: float) -> np.ndarray:
    """Points within ``margin`` mm of a bounding box."""
    lo, hi = np.asarray(bounds[0]) - margin, np.asarray(bounds[1]) + margin
    keep = np.all((points >= lo) & (points <= hi), axis=1)
    return points[keep]


def _slice(volume_arr: np.ndarray, axis: int, index: int) -> np.ndarray:
    sl = [slice(None)] * 3
    sl[axis] = index
    return np.asarray(volume_arr[tuple(sl)])


def write_preview(path: str | os.PathLike, bone_slices, implant_full_box, implant_center: np.ndarray,
                  spacing, mesh=None, context_points=None, title: str = "") -> Path:
    """Three orthogonal slices through the implant centre (bone grey, implant red) and a 3D render.

    Args:
        path: output PNG path.
        bone_slices: the defective bone on the input grid through ``implant_center``:
            a 3D mask, or its three 2D slices (sagittal, coronal, axial).
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
    if isinstance(bone_slices, np.ndarray) and bone_slices.ndim == 3:
        bone_slices = [_slice(bone_slices, axis, center[axis]) for axis in range(3)]
    fig = Figure(figsize=(16, 4.4), dpi=90)  # no pyplot: safe in a worker thread
    FigureCanvasAgg(fig)
    names = ("sagittal (i)", "coronal (j)", "axial (k)")
    for axis in range(3):
        ax = fig.add_subplot(1, 4, axis + 1)
        bone = np.asarray(bone_slices[axis]).astype(np.float32)
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
    # Fixed margins instead of tight_layout (which draws the figure once more to measure it),
    # and fast PNG compression: the preview is drawn beside the meshing on a busy CPU.
    fig.subplots_adjust(left=0.01, right=0.97, bottom=0.03, top=0.86, wspace=0.08)
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": 3})
    return Path(path)
