"""Make the skull figures in docs/img (run: ``.venv/bin/python docs/make_figures.py``).

* ``synthetic_vs_real.png``: a synthetic skull beside the real SkullBreak sample
  (``../shared/data/real``) at the same scale (0.8 mm per pixel, same field of view):
  axial, coronal and sagittal slices, then depth-shaded views from the left, the front
  and above.
* ``defect_<type>.png``: one synthetic skull per defect type with the implant overlaid.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from skullvae.defects import DEFECT_TYPES, inject_defect
from skullvae.io.readers import read_volume
from skullvae.io.volume import Volume
from skullvae.phantoms import synth_skull
from skullvae.viz.preview import render_rows, save_figure

IMG = Path(__file__).resolve().parent / "img"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "skullbreak_parietotemporal_001.nii.gz"
SEED = 0


def _depth_view(mask: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """Shaded surface seen along ``axis``: nearer bone is brighter."""
    m = np.flip(mask, axis=axis) if reverse else mask
    hit = m.any(axis=axis)
    first = np.argmax(m, axis=axis).astype(np.float32)
    shade = 1.0 - first / mask.shape[axis]
    gy, gx = np.gradient(first)
    light = np.clip(1.0 - 0.08 * np.hypot(gx, gy), 0.3, 1.0)
    return np.where(hit, 0.25 + 0.75 * shade * light, 0.0)


def _panels(mask: np.ndarray, spacing: float):
    """Slices and shaded views, each as (title, 2D image with rows = vertical axis)."""
    nz = [np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3)]
    cx, cy = [(n.min() + n.max()) // 2 for n in nz[:2]]
    z_ax = nz[2].max() - int(50 / spacing)
    return [
        ("axial (50 mm below vertex)", mask[:, :, z_ax].T[::-1, :]),  # anterior at the top
        ("coronal (mid-length)", mask[:, cy, :].T),
        ("sagittal (midline)", mask[cx, :, :].T[:, :]),
        ("view from the left", _depth_view(mask, 0, reverse=True).T),
        ("view from the front", _depth_view(mask, 1, reverse=False).T),
        ("view from above", _depth_view(mask, 2, reverse=True).T[::-1, :]),
    ]


def _centre_crop(mask: np.ndarray, n: int) -> np.ndarray:
    """Pad/crop to n³ around the bone's bounding-box centre (same field of view for both)."""
    out = np.zeros((n, n, n), dtype=mask.dtype)
    nz = [np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3)]
    src, dst = [], []
    for idx, size in zip(nz, mask.shape):
        c = (idx.min() + idx.max()) // 2
        lo = c - n // 2
        s0, s1 = max(lo, 0), min(lo + n, size)
        src.append(slice(s0, s1))
        dst.append(slice(s0 - lo, s1 - lo))
    out[tuple(dst)] = mask[tuple(src)]
    return out


def synthetic_vs_real() -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    synth = synth_skull(SEED, 256, 0.8).array.astype(bool)
    rows = [(f"synthetic (seed {SEED})", _centre_crop(synth, 256))]
    if REAL.exists():
        real = read_volume(REAL).array[::2, ::2, ::2].astype(bool)  # 0.4 mm -> 0.8 mm
        rows.append(("real SkullBreak sample (cropped below the orbits)", _centre_crop(real, 256)))
    fov = 256 * 0.8
    fig = Figure(figsize=(18, 3.3 * len(rows) + 0.6))
    axes = fig.subplots(len(rows), 6, squeeze=False)
    for row_axes, (name, mask) in zip(axes, rows):
        for ax, (title, img) in zip(row_axes, _panels(mask, 0.8)):
            ax.imshow(img, cmap="bone", origin="lower", extent=(0, fov, 0, fov), vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([0, 100, 200])
            ax.set_yticks([0, 100, 200])
        row_axes[0].set_ylabel(name, fontsize=10)
    fig.suptitle("Synthetic vs real skull mask, same scale (0.8 mm/pixel, axes in mm; face toward -y = anterior)", fontsize=12)
    fig.tight_layout()
    return save_figure(fig, IMG / "synthetic_vs_real.png", dpi=80)


def defect_previews() -> list[Path]:
    skull = synth_skull(SEED, 256, 0.8)
    out = []
    for t in DEFECT_TYPES:
        defective, implant = inject_defect(skull, t, SEED)
        out.append(render_rows([(t, defective, [("implant", implant)])], IMG / f"defect_{t}.png",
                               title=f"{t} defect on synthetic skull (seed {SEED})"))
    return out


if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    which = sys.argv[1:] or ["compare", "defects"]
    if "compare" in which:
        print(synthetic_vs_real())
    if "defects" in which:
        for p in defect_previews():
            print(p)
