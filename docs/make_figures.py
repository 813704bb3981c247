"""Make the skull figures in docs/img (run: ``.venv/bin/python docs/make_figures.py``).

* ``synthetic_vs_real.png``: synthetic skulls (``--realism smooth`` and ``real``) against
  the real skulls in ``../shared/data/real``, in numbers (``docs/make_realism_figure.py``).
* ``defect_<type>.png``: one synthetic skull per defect type with the implant overlaid.
"""

from __future__ import annotations

import sys
from pathlib import Path


from skullvae.defects import DEFECT_TYPES, inject_defect
from skullvae.phantoms import synth_skull
from skullvae.viz.preview import render_rows

IMG = Path(__file__).resolve().parent / "img"
SEED = 0


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
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from make_realism_figure import main as realism_figure

        realism_figure([])
    if "defects" in which:
        for p in defect_previews():
            print(p)
