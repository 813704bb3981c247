"""Orthogonal-slice previews (PNG) of a volume with coloured mask overlays.

Each row shows an axial, a coronal and a sagittal slice in physical proportions
(axes in mm, radiological convention: patient right on the image left, anterior
at the top of the axial view, superior at the top of the others). The volume is
first turned to the closest LPS axis order by permuting/flipping array axes only
(no interpolation); a residual obliquity is ignored for display. CT (HU) uses a
bone window, masks and other images a grey ramp. Overlays are drawn as
semi-transparent colours with a legend giving each mask's volume in ml.

Typical use::

    render_preview(ct, [("implant", implant), ("defective", skull)], "out.png", title="case 1")
    render_rows([("synthetic", synth), ("SkullBreak", real)], "compare.png", fov_mm=240)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path, check_writable
from skullvae.io.volume import Volume

Overlay = Union[Volume, tuple[str, Volume]]

#: Overlay colours, in order (red, green, yellow, blue, orange, purple).
OVERLAY_COLOURS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4")
OVERLAY_ALPHA = 0.6
#: Bone window (level 400 HU, width 2000 HU) for CT volumes.
CT_WINDOW = (-600.0, 1400.0)
_PANEL_INCHES = 4.0


def render_preview(
    volume: Volume,
    overlays: Sequence[Overlay] = (),
    path: str | os.PathLike | None = None,
    title: str | None = None,
    slices: Sequence[int] | None = None,
    fov_mm: float | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a PNG with axial, coronal and sagittal slices of ``volume`` and its overlays.

    Args:
        volume: the base volume (CT in HU, a mask, or any scalar image).
        overlays: masks to colour; each a :class:`Volume` (named ``overlay N``) or a
            ``(name, Volume)`` pair. A mask on another grid is resampled (nearest
            neighbour) onto the base grid.
        path: output ``.png`` file (written atomically).
        title: figure title.
        slices: voxel indices ``(i, j, k)`` in ``volume``'s own index space the three
            slices pass through; default: the centroid of the overlays, else of a
            binary base mask, else the volume centre.
        fov_mm: show a square field of view of this width (mm) around the slice
            point, so that several previews share one scale; default: whole volume.
        overwrite: replace an existing file.

    Returns:
        The written path.

    Raises:
        SkullVAEError: empty overlay, overlay outside the volume, bad output path.
    """
    if path is None:
        raise SkullVAEError("render_preview needs an output path")
    path = _check_png(path, overwrite)
    return render_rows([(None, volume, overlays, slices)], path, title=title, fov_mm=fov_mm, overwrite=overwrite)


def render_rows(
    rows: Sequence[tuple],
    path: str | os.PathLike,
    title: str | None = None,
    fov_mm: float | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a PNG with one row of orthogonal slices per volume (e.g. to compare two skulls).

    Args:
        rows: ``(name, volume)``, ``(name, volume, overlays)`` or
            ``(name, volume, overlays, slices)`` tuples, as for :func:`render_preview`.
        path: output ``.png`` file (written atomically).
        title: figure title.
        fov_mm: common field of view (mm) of every panel; give it to compare sizes.
        overwrite: replace an existing file.

    Returns:
        The written path.
    """
    path = _check_png(path, overwrite)
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    if not rows:
        raise SkullVAEError("nothing to preview")
    fig = Figure(figsize=(3 * _PANEL_INCHES, len(rows) * _PANEL_INCHES + 0.9 + (0.3 if title else 0)))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    handles: dict[str, object] = {}
    for row_axes, row in zip(axes, rows):
        row = tuple(row)
        if not 2 <= len(row) <= 4:
            raise SkullVAEError("each preview row is (name, volume[, overlays[, slices]])")
        name, volume, overlays, slices = row + ((), None)[len(row) - 2:]
        handles.update(_draw_row(row_axes, volume, _named(overlays), slices, fov_mm, name))
    if title:
        fig.suptitle(title, fontsize=13)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center",
                   ncol=min(len(handles), 4), frameon=False, fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    return save_figure(fig, path, overwrite=overwrite)


def save_figure(fig, path: str | os.PathLike, overwrite: bool = True, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically (temporary file, then rename).

    Args:
        fig: a ``matplotlib.figure.Figure``.
        path: output ``.png`` path.
        overwrite: replace an existing file.
        dpi: resolution.

    Returns:
        The written path.
    """
    path = _check_png(path, overwrite)
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, facecolor="white")
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # noqa: BLE001 - a Figure not managed by pyplot needs no closing
        pass
    return path


# -- internals ---------------------------------------------------------------


def _check_png(path, overwrite: bool) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise SkullVAEError(f"preview output must be a .png file, got {path.name}")
    return check_writable(path, overwrite)


def _named(overlays) -> list[tuple[str, Volume]]:
    named = []
    for n, item in enumerate(overlays or ()):
        if isinstance(item, Volume):
            named.append((f"overlay {n + 1}", item))
        else:
            name, vol = item
            named.append((str(name), vol))
    return named


def _lps_view(volume: Volume):
    """Permute/flip array axes so that axis a runs along +LPS axis a.

    Returns:
        ``(fn, spacing, start, to_view_index, oblique_deg)``: ``fn`` maps any
        same-shape array to the view, ``spacing`` per view axis, ``start`` the LPS
        coordinate of view index 0, ``to_view_index`` maps volume indices to view
        indices, ``oblique_deg`` the largest angle between an index axis and its
        LPS axis.
    """
    import itertools

    d = volume.direction
    perm = max(itertools.permutations(range(3)), key=lambda p: sum(abs(d[a, p[a]]) for a in range(3)))
    # perm[a] = index axis that runs along LPS axis a
    signs = [np.sign(d[a, perm[a]]) or 1.0 for a in range(3)]
    spacing = np.array([volume.spacing[perm[a]] for a in range(3)])
    corner = [0 if signs[a] > 0 else volume.shape[perm[a]] - 1 for a in range(3)]
    index = np.zeros(3)
    for a in range(3):
        index[perm[a]] = corner[a]
    start = volume.index_to_physical(index)

    def fn(array: np.ndarray) -> np.ndarray:
        view = np.transpose(array, perm)
        flips = tuple(slice(None, None, -1) if signs[a] < 0 else slice(None) for a in range(3))
        return view[flips]

    def to_view_index(ijk) -> np.ndarray:
        ijk = np.asarray(ijk, dtype=float)
        return np.array([ijk[perm[a]] if signs[a] > 0 else volume.shape[perm[a]] - 1 - ijk[perm[a]] for a in range(3)])

    oblique = float(np.degrees(np.arccos(np.clip(min(abs(d[a, perm[a]]) for a in range(3)), -1.0, 1.0))))
    return fn, spacing, start, to_view_index, oblique


def _on_grid(name: str, overlay: Volume, base: Volume) -> np.ndarray:
    if overlay.same_geometry(base, tol=1e-4):
        mask = overlay.array != 0
    else:
        import SimpleITK as sitk

        src = overlay.with_array((overlay.array != 0).astype(np.uint8)).to_sitk()
        ref = base.with_array(np.zeros(base.shape, np.uint8)).to_sitk()
        resampled = sitk.Resample(src, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        mask = np.transpose(sitk.GetArrayFromImage(resampled), (2, 1, 0)) != 0
        if not mask.any() and (overlay.array != 0).any():
            raise SkullVAEError(f"overlay '{name}' lies outside the volume")
    if not mask.any():
        raise SkullVAEError(f"overlay '{name}' is empty: nothing to show")
    return mask


def _centroid(mask: np.ndarray) -> np.ndarray:
    total = float(np.count_nonzero(mask))
    out = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        counts = np.count_nonzero(mask, axis=others)
        out.append(float((counts * np.arange(mask.shape[axis])).sum() / total))
    return np.array(out)


def _display_range(volume: Volume) -> tuple[float, float, str]:
    arr = volume.array
    if volume.is_binary:
        return 0.0, 1.0, "mask"
    lo = float(arr.min())
    if lo <= -500:
        return CT_WINDOW[0], CT_WINDOW[1], "CT"
    sample = arr[:: max(1, arr.shape[0] // 64)].astype(np.float64)
    vmin, vmax = np.percentile(sample, [1, 99])
    return float(vmin), float(max(vmax, vmin + 1e-6)), "image"


def _draw_row(axes, volume: Volume, overlays, slices, fov_mm, row_name):
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    if not isinstance(volume, Volume):
        raise SkullVAEError("preview needs a Volume")
    masks = [(name, _on_grid(name, vol, volume)) for name, vol in overlays]
    view, spacing, start, to_view, oblique = _lps_view(volume)
    base = view(volume.array)
    if slices is not None:
        idx = np.asarray(slices, dtype=float)
        if idx.shape != (3,) or np.any(idx < 0) or np.any(idx > np.array(volume.shape) - 1):
            raise SkullVAEError(f"slice indices {tuple(slices)} are outside the volume of shape {volume.shape}")
        centre = to_view(idx)
    elif masks:
        centre = to_view(_centroid(np.logical_or.reduce([m for _, m in masks])))
    elif volume.is_binary and volume.array.any():
        centre = to_view(_centroid(volume.array != 0))
    else:
        centre = (np.array(base.shape) - 1) / 2.0
    c = np.clip(np.rint(centre).astype(int), 0, np.array(base.shape) - 1)
    vmin, vmax, kind = _display_range(volume)
    views = [(name, view(m)) for name, m in masks]
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    handles = {}
    for n, (name, m) in enumerate(masks):
        colour = OVERLAY_COLOURS[n % len(OVERLAY_COLOURS)]
        handles[f"{name} ({np.count_nonzero(m) * voxel_ml:.1f} ml)"] = Patch(facecolor=colour, alpha=0.8, label=name)
    lo = start
    hi = start + spacing * (np.array(base.shape) - 1)
    centre_mm = start + spacing * c
    # (panel title, fixed axis, horizontal axis, vertical axis, vertical axis grows downward, corner letters)
    panels = [("axial", 2, 0, 1, True, ("R", "L", "A", "P")),
              ("coronal", 1, 0, 2, False, ("R", "L", "S", "I")),
              ("sagittal", 0, 1, 2, False, ("A", "P", "S", "I"))]
    for ax, (label, fixed, h, v, down, letters) in zip(axes, panels):
        take = [slice(None)] * 3
        take[fixed] = c[fixed]
        image = base[tuple(take)]  # 2D, axes (h, v) in increasing order
        extent_h = (lo[h] - spacing[h] / 2, hi[h] + spacing[h] / 2)
        extent_v = (lo[v] - spacing[v] / 2, hi[v] + spacing[v] / 2)
        extent = (*extent_h, extent_v[1], extent_v[0]) if down else (*extent_h, *extent_v)
        origin = "upper" if down else "lower"
        ax.imshow(image.T, cmap="gray", vmin=vmin, vmax=vmax, extent=extent, origin=origin,
                  interpolation="nearest", aspect="equal")
        for n, (name, mv) in enumerate(views):
            layer = mv[tuple(take)].T
            rgba = np.zeros(layer.shape + (4,), dtype=np.float32)
            rgba[layer] = to_rgba(OVERLAY_COLOURS[n % len(OVERLAY_COLOURS)], OVERLAY_ALPHA)
            ax.imshow(rgba, extent=extent, origin=origin, interpolation="nearest", aspect="equal")
            if layer.any() and not layer.all():
                xs = lo[h] + spacing[h] * np.arange(layer.shape[1])
                ys = lo[v] + spacing[v] * np.arange(layer.shape[0])
                ax.contour(xs, ys, layer.astype(np.float32), levels=[0.5], linewidths=0.9,
                           colors=[OVERLAY_COLOURS[n % len(OVERLAY_COLOURS)]])
        if fov_mm:
            half = fov_mm / 2.0
            ax.set_xlim(centre_mm[h] - half, centre_mm[h] + half)
            ax.set_ylim((centre_mm[v] + half, centre_mm[v] - half) if down else (centre_mm[v] - half, centre_mm[v] + half))
        ax.set_facecolor("black")
        where = f"{'LPS'[fixed]} = {centre_mm[fixed]:.1f} mm"
        if oblique > 1.0:
            where += f", oblique {oblique:.1f}°"
        ax.set_title(f"{row_name + ' — ' if row_name else ''}{label} ({where})", fontsize=10)
        ax.tick_params(labelsize=7)
        for text, xy, align in zip(letters, [(0.02, 0.5), (0.98, 0.5), (0.5, 0.97), (0.5, 0.03)],
                                   [("left", "center"), ("right", "center"), ("center", "top"), ("center", "bottom")]):
            ax.text(*xy, text, transform=ax.transAxes, color="yellow", fontsize=10, fontweight="bold",
                    ha=align[0], va=align[1])
    axes[0].set_ylabel(f"mm ({kind})", fontsize=8)
    return handles
