"""``summary.md`` (per defect type × mode: means, HD95 medians, rim gap, time) and box plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skullvae.evaluation.scoring import finite
from skullvae.io.atomic import atomic_path, atomic_write_text

METRICS = (("dsc", "DSC"), ("bdsc", "bDSC"), ("hd95", "HD95 (mm)"))


def _mean(values, digits: int = 3) -> str:
    ok = finite(values)
    if not ok:
        return "–" if not values else "inf"
    return f"{np.mean(ok):.{digits}f}" + ("*" if len(ok) < len(values) else "")


def _median(values, digits: int = 2) -> str:
    ok = [float(v) for v in values]
    return "–" if not ok else f"{np.median(ok):.{digits}f}"  # inf counts (a miss is the worst distance)


def group(rows: list[dict], modes: list[str], types: list[str]) -> dict:
    """``{mode: {type: [row, ...]}}`` (types in the given order)."""
    out: dict = {m: {t: [] for t in types} for m in modes}
    for r in rows:
        if r["mode"] in out and r["defect_type"] in out[r["mode"]]:
            out[r["mode"]][r["defect_type"]].append(r)
    return out


def _table(groups: dict, modes: list[str], types: list[str], cell) -> list[str]:
    lines = ["| defect type | n | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for t in types + ["**all**"]:
        per_mode = [groups[m][t] if t != "**all**" else [r for v in groups[m].values() for r in v] for m in modes]
        n = max((len(rs) for rs in per_mode), default=0)
        lines.append(f"| {t} | {n} | " + " | ".join(cell(rs) for rs in per_mode) + " |")
    return lines


def summary_markdown(rows: list[dict], modes: list[str], types: list[str], header: str = "") -> str:
    """The Markdown summary of a scores table.

    Args:
        rows: rows of ``scores.csv``.
        modes: the columns (modes or methods) in order.
        types: the defect types in order.
        header: a paragraph put first (what was evaluated, how).

    Returns:
        Markdown: the mean DSC / bDSC / HD95 table, the median HD95 table, rim gaps,
        failures and wall times per mode.
    """
    groups = group(rows, modes, types)
    out = [header.strip(), ""] if header else []
    out += ["### Mean DSC / bDSC / HD95 (mm)", "",
            "Each cell: mean DSC / mean bDSC / mean HD95 over the cases; `*` = some cases found no implant "
            "(HD95 = inf, left out of that mean; their DSC and bDSC count as 0).", ""]
    out += _table(groups, modes, types, lambda rs: " / ".join([_mean([r["dsc"] for r in rs]), _mean([r["bdsc"] for r in rs]),
                                                               _mean([r["hd95"] for r in rs], 2)]) if rs else "–")
    out += ["", "### Median HD95 (mm)", "", "Median over the cases (a case without implant counts as inf).", ""]
    out += _table(groups, modes, types, lambda rs: _median([r["hd95"] for r in rs]))
    out += ["", "### Rim gap, failures, time", "",
            "| mode | cases | no implant | rim gap median (mm, median of cases) | rim gap p95 (mm, median of cases) | "
            "wall time per case (s, median) | total (s) |", "|---|---|---|---|---|---|---|"]
    for m in modes:
        rs = [r for v in groups[m].values() for r in v]
        gm, gp = finite([r["gap_median_mm"] for r in rs]), finite([r["gap_p95_mm"] for r in rs])
        wall = [r["wall_s"] for r in rs]
        gaps = f"{np.median(gm):.2f} | {np.median(gp):.2f}" if gm else "– | –"
        times = f"{np.median(wall):.1f} | {np.sum(wall):.0f}" if wall else "– | –"
        out.append(f"| {m} | {len(rs)} | {sum(r['failed'] for r in rs)} | {gaps} | {times} |")
    return "\n".join(out) + "\n"


def plot_boxes(rows: list[dict], modes: list[str], types: list[str], out_dir: Path) -> list[Path]:
    """``box_dsc.png``, ``box_bdsc.png``, ``box_hd95.png``: one box per defect type and mode.

    HD95 boxes leave out cases without an implant (inf); the title says how many.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group(rows, modes, types)
    paths = []
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width = 0.8 / max(1, len(modes))
    for key, label in METRICS:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(types) * max(1, len(modes)) ** 0.5), 4))
        dropped = 0
        for j, m in enumerate(modes):
            data, pos = [], []
            for i, t in enumerate(types):
                vals = [r[key] for r in groups[m][t]]
                ok = finite(vals)
                dropped += len(vals) - len(ok)
                if ok:
                    data.append(ok)
                    pos.append(i + (j - (len(modes) - 1) / 2) * width)
            if data:
                box = ax.boxplot(data, positions=pos, widths=width * 0.9, patch_artist=True, manage_ticks=False)
                for patch in box["boxes"]:
                    patch.set_facecolor(colours[j % len(colours)])
                    patch.set_alpha(0.6)
            ax.plot([], [], "s", color=colours[j % len(colours)], alpha=0.6, label=m)
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels(types, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(label)
        if key != "hd95":
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(label + (f" ({dropped} cases without implant left out)" if key == "hd95" and dropped else ""),
                     fontsize=9)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = out_dir / f"box_{key}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)
        paths.append(path)
    return paths


def write_summary(rows: list[dict], modes: list[str], types: list[str], out_dir: Path, header: str = "") -> Path:
    """Write ``summary.md`` and the box plots into ``out_dir``; returns the summary's path."""
    plot_boxes(rows, modes, types, out_dir)
    text = summary_markdown(rows, modes, types, header)
    text += "\n" + " ".join(f"![{k}](box_{k}.png)" for k, _ in METRICS) + "\n"
    return atomic_write_text(out_dir / "summary.md", text)

