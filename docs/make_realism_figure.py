"""Synthetic skulls (``--realism smooth`` and ``real``) against the real skulls, in numbers.

Writes ``docs/img/synthetic_vs_real.png`` and prints a Markdown table (README). Run::

    .venv/bin/python docs/make_realism_figure.py [--n 6] [--spacing 1.0]

Real skulls from ``../shared/data/real``: the SkullBreak sample (its own defect's rays
count as open), the voxelised msr STL and the CT_pitch phantom (bone ≥ 200, as it is:
its thin frontal bone is partly missing). Measured on each skull mask:

* thickness along rays from the cranial centre (``make_real_benchmark.ray_thickness``:
  5° steps in azimuth and elevation), the vault's (elevation 15–85°) pooled into a
  histogram, and per region: temporal squama (elevation −20–0°, within 25° of left/right), frontal (25–55°, within
  25° of the front), parietal (45–70°, within 30° of left/right), occipital (15–35°,
  within 25° of the back);
* inner-table roughness: mean |Δ thickness| between rays 5° apart;
* open rays: share of vault rays that meet no bone (defects, artefacts, crops);
* size of the vault above the cranial centre: length, breadth, cephalic index 100·B/L.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from make_real_benchmark import load_ct_pitch, load_msr, load_skullbreak, ray_thickness  # noqa: E402

from skullvae.defects import skull_geometry  # noqa: E402
from skullvae.phantoms import synth_skull  # noqa: E402
from skullvae.phantoms.dataset import skull_seed  # noqa: E402

IMG = ROOT / "docs" / "img"
REAL = ROOT.parent / "shared" / "data" / "real"
ELEVATIONS = np.arange(-20, 90, 5)
VAULT = ELEVATIONS >= 15
AZIMUTHS = np.arange(0, 360, 5)
#: (elevation range, azimuth centres, half width) per region; azimuth 0 = left, 90 = back, 270 = front.
REGIONS = {"temporal": ((-20, 0), (0, 180), 25), "frontal": ((25, 55), (270,), 25),
           "parietal": ((45, 70), (0, 180), 30), "occipital": ((15, 35), (90,), 25)}


def measure(mask) -> dict:
    """Thickness, roughness, open rays and vault size of one skull mask."""
    geometry = skull_geometry(mask)
    t = ray_thickness(mask, geometry, ELEVATIONS, AZIMUTHS)
    vault = t[VAULT]
    out = {"thickness": vault[vault > 0], "open_rays": float((vault == 0).mean())}
    for name, ((e0, e1), centres, half) in REGIONS.items():
        el = (ELEVATIONS >= e0) & (ELEVATIONS <= e1)
        az = np.zeros(len(AZIMUTHS), bool)
        for c in centres:
            az |= np.abs((AZIMUTHS - c + 180) % 360 - 180) <= half
        sel = t[np.ix_(el, az)]
        out[name] = float(np.median(sel[sel > 0])) if (sel > 0).any() else float("nan")
    both = (vault > 0) & (np.roll(vault, 1, axis=1) > 0)
    out["roughness"] = float(np.mean(np.abs(vault - np.roll(vault, 1, axis=1))[both]))
    above = geometry.points[geometry.points[:, 2] > geometry.centre[2]]
    length = float(np.ptp(above[:, 1]))
    breadth = float(np.ptp(above[:, 0]))
    out.update(length=length, breadth=breadth, ci=100.0 * breadth / length)
    return out


def sources(n: int, spacing: float) -> dict:
    """``{group: [(name, mask Volume), ...]}`` for real, smooth and real-synthetic skulls."""
    real = []
    if REAL.is_dir():
        real = [("skullbreak_pt_001", load_skullbreak(REAL, spacing)[0]), ("msr_double_shell", load_msr(REAL, spacing)[0]),
                ("ct_pitch", load_ct_pitch(REAL)[0])]
    shape = int(np.ceil(256.0 / spacing))
    out = {"real skulls": real}
    for realism in ("smooth", "real"):
        out[f"synthetic {realism}"] = [(f"{realism} {i}", synth_skull(skull_seed(303, i), shape, spacing, realism=realism))
                                       for i in range(n)]
    return out


def table(results: dict) -> str:
    """Markdown table: one row per group (real skulls also one row each)."""
    head = ("| skulls | n | thickness p5 / median / p95 mm | temporal | frontal | parietal | occipital | "
            "roughness mm | open rays | length mm | breadth mm | cephalic index |\n|" + "---|" * 12)
    rows = [head]

    def row(name, ms):
        t = np.concatenate([m["thickness"] for m in ms])
        med = {k: np.nanmedian([m[k] for m in ms]) for k in ("temporal", "frontal", "parietal", "occipital", "roughness")}
        ci = [m["ci"] for m in ms]
        rows.append(f"| {name} | {len(ms)} | {np.percentile(t, 5):.1f} / {np.median(t):.1f} / {np.percentile(t, 95):.1f} | "
                    f"{med['temporal']:.1f} | {med['frontal']:.1f} | {med['parietal']:.1f} | {med['occipital']:.1f} | "
                    f"{med['roughness']:.2f} | {np.mean([m['open_rays'] for m in ms]):.1%} | "
                    f"{np.mean([m['length'] for m in ms]):.0f} | {np.mean([m['breadth'] for m in ms]):.0f} | "
                    f"{min(ci):.0f}–{max(ci):.0f} |")

    for group, items in results.items():
        if group == "real skulls":
            for name, m in items:
                row(f"real: {name}", [m])
        elif items:
            row(group, [m for _, m in items])
    return "\n".join(rows)


def figure(results: dict, masks: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from skullvae.viz.preview import save_figure

    colours = {"real skulls": "k", "synthetic smooth": "tab:blue", "synthetic real": "tab:red"}
    fig = Figure(figsize=(16, 8.5))
    axes = fig.subplots(2, 3)
    ax = axes[0, 0]
    bins = np.arange(0, 14.5, 0.5)
    for group, items in results.items():
        if items:
            t = np.concatenate([m["thickness"] for _, m in items])
            ax.hist(t, bins=bins, density=True, histtype="step", lw=2, color=colours[group], label=group)
    ax.set_xlabel("bone along a ray from the cranial centre (mm)")
    ax.set_ylabel("density")
    ax.set_title("vault thickness, elevation 15–85°")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    names = list(REGIONS) + ["roughness"]
    width = 0.8 / max(1, len(results))
    for k, (group, items) in enumerate(results.items()):
        if items:
            values = [np.nanmedian([m[r] for _, m in items]) for r in names]
            ax.bar(np.arange(len(names)) + k * width, values, width, color=colours[group], label=group)
    ax.set_xticks(np.arange(len(names)) + width, names)
    ax.set_ylabel("median thickness (mm); roughness = mean |Δt| 5° apart")
    ax.set_title("thickness by region")
    ax = axes[0, 2]
    for group, items in results.items():
        for name, m in items:
            ax.scatter(m["length"], m["breadth"], color=colours[group], s=30)
            if group == "real skulls":
                ax.annotate(name, (m["length"], m["breadth"]), fontsize=7)
    for ci in (70, 80, 90):
        xs = np.array([160.0, 210.0])
        ax.plot(xs, xs * ci / 100.0, ":", color="grey")
        ax.text(xs[1], xs[1] * ci / 100.0, f"CI {ci}", fontsize=7, color="grey")
    ax.set_xlabel("vault length (mm)")
    ax.set_ylabel("vault breadth (mm)")
    ax.set_title("size above the cranial centre")
    for ax, (title, vol) in zip(axes[1], masks.items()):
        a = vol.array > 0
        nz = [np.nonzero(a.any(axis=tuple(x for x in range(3) if x != ax_)))[0] for ax_ in range(3)]
        cy = (nz[1].min() + nz[1].max()) // 2
        sl = a[nz[0].min():nz[0].max() + 1, cy, nz[2].min():nz[2].max() + 1].T
        s = vol.spacing
        ax.imshow(sl, cmap="bone", origin="lower", extent=(0, sl.shape[1] * s[0], 0, sl.shape[0] * s[2]))
        ax.set_xlim(-10, 180)
        ax.set_ylim(-10, 180)
        ax.set_title(f"coronal, mid-length: {title}", fontsize=9)
        ax.set_xlabel("mm")
    fig.suptitle("Synthetic skulls (--realism smooth / real) vs real skulls (../shared/data/real)", fontsize=12)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="synthetic skulls per realism")
    parser.add_argument("--spacing", type=float, default=1.0, help="voxel size of every mask (mm)")
    parser.add_argument("--out", type=Path, default=IMG / "synthetic_vs_real.png")
    args = parser.parse_args(argv)
    groups = sources(args.n, args.spacing)
    results = {g: [(name, measure(m)) for name, m in items] for g, items in groups.items()}
    masks = {}
    if groups["real skulls"]:
        masks["real SkullBreak sample"] = groups["real skulls"][0][1]
    masks["synthetic smooth"] = groups["synthetic smooth"][0][1]
    masks["synthetic real"] = groups["synthetic real"][0][1]
    print(table(results))
    print(figure(results, masks, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
