"""Write the real complete skulls of ``../shared/data/real`` as templates for ``skullvae synth --templates``.

* ``msr_double_shell``: ``msr_skull_double_shell.stl`` voxelised at ``--spacing`` exactly as
  ``make_real_benchmark.py`` does (:func:`skullvae.io.mesh_voxelize.voxelize_double_shell`:
  its 557 open edges and 305 non-manifold edges do not matter to the raster, holes up to
  ~3 mm are sealed by a 1.5 mm closing, the flat cut of the CT is capped, the largest piece
  kept). Every ray from the cranial centre over the vault meets bone: no opening to fill.
* ``ct_pitch``: ``CT_pitch.nii.gz`` as ``make_real_benchmark.load_ct_pitch`` reads it, in
  its native oblique grid. At ≥ 200 alone its thin upper frontal bone (partial volume,
  values 120–200) leaves a false opening of ~86 cm² from the frontal sinus to behind the
  vertex; ``load_ct_pitch`` keeps that thin vault bone by a hysteresis threshold (≥ 120
  connected to ≥ 200, within 8 mm of the outer surface). A template must be complete, so
  any opening that remains and that the rim step of ``skullvae complete --mode mirror``
  counts as a defect is **filled by the rim step** (the mirror image and the rim's own
  surfaces, corrected to the bone around it), and pinholes under 1.5 cm² (which the rim
  step leaves open as natural) are sealed by a 4 mm closing. The bone added is printed and
  stored in the manifest.

Usage::

    python benchmarks/make_real_templates.py OUT [--shared ../shared] [--spacing 0.8] [--overwrite]
    skullvae synth DATA --n 40 --seed 0 --shape 144 --spacing 1.6 --realism real \\
        --templates OUT/manifest.json --template-fraction 0.5

* ``skullbreak_pt_001`` (when present): the real SkullBreak sample at ``--spacing``, as
  ``make_real_benchmark.load_skullbreak`` reads it, with its own parietotemporal defect filled
  by the rim step the same way (cropped below the orbits, as SkullBreak is).

``OUT/manifest.json`` (schema v1, every skull in ``test``, complete skulls only) lists them;
``--template-ids`` picks some (leave one out to measure a model on it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_real_benchmark import load_ct_pitch, load_msr, load_skullbreak  # noqa: E402

from skullvae.data.manifest import SCHEMA_VERSION, write_manifest  # noqa: E402
from skullvae.errors import SkullVAEError  # noqa: E402
from skullvae.io import write_volume  # noqa: E402

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def fill_openings(mask, mode: str = "mirror"):
    """The mask with the rim step's implant added (every opening it finds filled); and the implant's cm³."""
    from skullvae.completion.modes import run_completion
    from skullvae.completion.options import CompletionOptions
    from skullvae.completion.pipeline import make_implant
    from skullvae.preprocessing.pipeline import load_mask

    from scipy import ndimage

    opts = CompletionOptions(mode=mode)
    case = load_mask(mask)
    try:
        implant, rim = make_implant(case, run_completion(case, opts), opts)
        added = implant.full(np.uint8) > 0
    except SkullVAEError as exc:  # nothing to fill: no opening the rim step counts as a defect
        if "no defect found" not in str(exc):
            raise
        rim, added = None, np.zeros(mask.shape, dtype=bool)
    filled = (mask.array > 0) | added
    # pinholes under 1.5 cm² are natural to the rim step and left open; a 4 mm closing seals them
    r = np.ceil(4.0 / np.asarray(mask.spacing)).astype(int)
    grid = np.meshgrid(*[np.arange(-k, k + 1) * s for k, s in zip(r, mask.spacing)], indexing="ij")
    ball = sum(g * g for g in grid) <= 4.0 ** 2
    pad = [(int(k), int(k)) for k in r]
    filled = ndimage.binary_closing(np.pad(filled, pad), structure=ball)[tuple(slice(k, -k) for k in r)] | filled
    added = filled & ~(mask.array > 0)
    return mask.with_array(filled.astype(np.uint8)), float(added.sum() * np.prod(mask.spacing) / 1000.0), rim


def _filled(mask, info: dict, what: str):
    """:func:`fill_openings` of ``mask``, the bone it added noted in ``info["preparation"]``; ``(filled, cm³)``."""
    filled, cm3, rim = fill_openings(mask)
    info["preparation"] += (f"; {what} filled by the rim step (skullvae complete --mode mirror) and pinholes sealed "
                            f"by a 4 mm closing: {cm3:.1f} cm3 added; "
                            f"{rim.info.get('defects_found') if rim is not None else 0} opening(s) found")
    return filled, cm3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--spacing", type=float, default=0.8, help="voxel size of the voxelised STL (mm)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    real = args.shared / "data" / "real"
    if not (real / "msr_skull_double_shell.stl").is_file() or not (real / "CT_pitch.nii.gz").is_file():
        print(f"make_real_templates: error: real data not found in {real} (pass --shared)", file=sys.stderr)
        return 2
    if args.out.is_dir() and any(args.out.iterdir()) and not args.overwrite:
        print(f"make_real_templates: error: output folder is not empty: {args.out} (pass --overwrite)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    msr, msr_info = load_msr(real, args.spacing)
    pitch, pitch_info = load_ct_pitch(real)
    filled, cm3 = _filled(pitch, pitch_info, "openings left")
    templates = [("msr_double_shell", msr, msr_info), ("ct_pitch", filled, pitch_info)]
    if (real / "skullbreak_parietotemporal_001.nii.gz").is_file():
        # its own parietotemporal defect is an opening the rim step fills, as for ct_pitch
        sb, sb_info = load_skullbreak(real, args.spacing)
        templates.append(("skullbreak_pt_001", _filled(sb, sb_info, "its parietotemporal defect (and any other opening)")[0],
                          sb_info))
    cases = []
    for sid, vol, info in templates:
        write_volume(vol, args.out / "complete" / f"{sid}.nii.gz", overwrite=args.overwrite)
        cases.append({"skull_id": sid, "split": "test", **info,
                      "bone_cm3": round(float(vol.array.sum() * np.prod(vol.spacing) / 1000), 1)})
        print(f"{sid}: {vol.shape} bone {cases[-1]['bone_cm3']} cm3", file=sys.stderr)
    data = {"schema_version": SCHEMA_VERSION, "name": "real_templates",
            "description": "real complete skulls for skullvae synth --templates (benchmarks/make_real_templates.py)",
            "layout": {"complete": "complete/{skull_id}.nii.gz", "defective": None, "implant": None},
            "defect_types": ["none"], "spacing_mm": [None, None, None], "shape": [None, None, None],
            "source": "../shared/data/real: msr_skull_double_shell.stl, CT_pitch.nii.gz, skullbreak_parietotemporal_001.nii.gz",
            "licence": "derived data; msr: MIT (probably CQ500, CC BY-NC-SA 4.0); CT_pitch: BSD-2-Clause; SkullBreak: CC BY 4.0 (from CQ500, CC BY-NC-SA 4.0)",
            "citation": "skullvae benchmarks/make_real_templates.py", "splits": {"fixed": ["test"]}, "cases": cases}
    write_manifest(data, args.out / "manifest.json", overwrite=args.overwrite)
    print(f"wrote {args.out / 'manifest.json'} in {time.perf_counter() - t0:.0f} s; ct_pitch opening filled: {cm3:.1f} cm3; "
          f"{len(cases)} templates")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main, __file__)
