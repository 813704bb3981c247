"""Input-fit Dice of a model on every real skull and on held-out synthetic skulls (Markdown table).

The input fit is what ``skullvae complete --mode auto`` measures before it trusts the
model (:func:`skullvae.completion.modes.input_fit_dice`): the skull is read and
preprocessed as ``complete`` does (its default ``--pose auto``, no ``--align``), placed in the model grid, encoded,
decoded from the mean latent, and the decoded mask is compared with the input by Dice
on the model grid, over the grid voxels inside the scanned box. A model that knows real skulls fits them about as well as it fits
held-out synthetic ones.

Real skulls (``../shared/data/real``, see its README.md), each used as it is, defects
and crops included:

* ``skullbreak_pt_001``: the SkullBreak sample (mask, parietotemporal defect);
* ``headsq``: the VTK head CT (HU ≥ 300; mid-cranium to the neck, stored neck toward +S);
* ``ge_head_ct``: the GE DICOM series (HU ≥ 300; 28 tilted slices, uneven gaps);
* ``ct_pitch``: the phantom skull as ``make_real_benchmark.load_ct_pitch`` makes it (value ≥ 200 plus
  its thin bone kept by a hysteresis threshold, largest piece);
* ``msr_double_shell``: the STL voxelised at ``--msr-spacing`` as in ``make_real_benchmark.py``.

Held-out synthetic skulls: ``--synthetic N`` complete skulls of data-set seed
``--synthetic-seed`` (no recipe in README trains on it), for each ``--realism``; the first
realism listed is the json's ``synthetic_heldout`` (pass ``--realism real,smooth`` for a
model trained on ``--realism real``).

Usage::

    python benchmarks/domain_fit.py [--model synthetic-64|RUN_DIR] [--synthetic 6] [--realism smooth,real]
                                    [--write-json] [--shared ../shared] [--diagnose STEPS]

``--diagnose STEPS`` adds, per real skull, what limits the fit (:func:`diagnose`): the best
isotropic rescaling and the fit after STEPS steps of latent search.

``--write-json`` writes ``domain_fit.json`` into the model folder, in the format
``skullvae models`` reads (:func:`skullvae.model.inventory.read_domain_fit`: one entry per
skull, ``kind`` ``real``, ``synthetic`` for the first ``--realism`` and ``synthetic-<realism>``
for the others) plus the summary keys::

    {"format": "skullvae-domain-fit", "version": 1, "model_id": ..., "metric": "input-fit Dice",
     "command": "...", "skulls": [{"name", "kind", "dice"}, ...],
     "real": {name: dice}, "synthetic_heldout": dice,
     "synthetic_heldout_by_realism": {realism: {"mean", "min", "n"}}}
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_real_benchmark import load_ct_pitch, load_msr  # noqa: E402

from skullvae.completion.dev import decode_probability, encode_grid  # noqa: E402
from skullvae.completion.engine import load_completion_model  # noqa: E402
from skullvae.completion.modes import input_fit_dice  # noqa: E402
from skullvae.errors import SkullVAEError  # noqa: E402
from skullvae.io import read_volume  # noqa: E402
from skullvae.io.atomic import atomic_write_text  # noqa: E402
from skullvae.preprocessing.pipeline import load_mask  # noqa: E402

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_NAMES = ("skullbreak_pt_001", "headsq", "ge_head_ct", "ct_pitch", "msr_double_shell")


def real_inputs(real: Path, msr_spacing: float = 0.8) -> dict:
    """``{name: (Volume, description)}`` of every real skull found in ``real`` (missing files are skipped)."""
    loaders = {
        "skullbreak_pt_001": (lambda: read_volume(real / "skullbreak_parietotemporal_001.nii.gz"),
                              "SkullBreak sample, mask with its parietotemporal defect",
                              real / "skullbreak_parietotemporal_001.nii.gz"),
        "headsq": (lambda: read_volume(real / "vtk_headsq_ct.nii.gz"), "VTK head CT, HU ≥ 300, mid-cranium to neck",
                   real / "vtk_headsq_ct.nii.gz"),
        "ge_head_ct": (lambda: read_volume(real / "ge_head_ct_dicom"), "GE head CT DICOM, HU ≥ 300, 28 tilted slices",
                       real / "ge_head_ct_dicom"),
        "ct_pitch": (lambda: load_ct_pitch(real)[0], "phantom skull, load_ct_pitch (≥ 200 + thin bone by hysteresis)", real / "CT_pitch.nii.gz"),
        "msr_double_shell": (lambda: load_msr(real, msr_spacing)[0], f"STL voxelised at {msr_spacing:g} mm",
                             real / "msr_skull_double_shell.stl"),
    }
    return {name: (load, what) for name, (load, what, path) in loaders.items() if path.exists()}


def _prepared(volume, hu_threshold: float, pose: str):
    """``complete``'s preprocess and pose stages (no model grid yet)."""
    case = load_mask(volume, hu_threshold)
    if pose == "auto":
        case.upright()
    return case


def _place(model, case, scale: float = 1.0):
    """Place ``case`` in the model grid, its voxels ``scale`` × the model's (the skull shrinks by ``scale``)."""
    return case.place([int(g) for g in model.config["grid"]], float(model.config["voxel_mm"]) * scale, "none")


def _fit(model, case) -> float:
    """Input-fit Dice of a placed case."""
    mu, _ = encode_grid(model, case.grid_array)
    return input_fit_dice(decode_probability(model, mu)[0], case.grid_array, case.grid_seen)


def fit_of(model, volume, hu_threshold: float = 300.0, pose: str = "auto", scale: float = 1.0) -> float:
    """Input-fit Dice of ``model`` on one volume, preprocessed exactly as ``complete`` does (its
    default ``--pose auto``: a scan stored upside down or face-back is turned upright; no ``--align``).
    ``scale`` ≠ 1 (diagnosis only) shrinks the skull in the grid by that factor (the grid's voxels grow)."""
    return _fit(model, _place(model, _prepared(volume, hu_threshold, pose), scale))


#: Isotropic scales ``--diagnose`` tries.
DIAGNOSE_SCALES = (0.88, 0.92, 0.96, 1.0, 1.04, 1.08, 1.12)


def diagnose(model, volume, steps: int, hu_threshold: float = 300.0, pose: str = "auto") -> dict:
    """What limits the fit (``--diagnose``): the best isotropic scale, and a latent search.

    * ``scale``: the fit at each of :data:`DIAGNOSE_SCALES` (1.0 included): a model that
      knows the shape but not the size fits much better at another scale;
    * ``searched``: the fit after ``steps`` Adam steps on z from μ(x) maximising the full
      binary cross-entropy with the input (:func:`skullvae.completion.optimize.complete_optimize`,
      every voxel weighted): the encoder's share of the misfit (the amortisation gap).
      Needs the torch engine (gradients through the decoder).

    Returns:
        ``{"scales": {scale: dice}, "best_scale", "best_scaled", "searched", "steps", "z_norm"}``.
    """
    from skullvae.completion.optimize import complete_optimize

    case = _prepared(volume, hu_threshold, pose)  # once: only the placement depends on the scale
    scales = {sc: round(_fit(model, _place(model, case, sc)), 4) for sc in DIAGNOSE_SCALES}
    best = max(scales, key=scales.get)
    _place(model, case)  # back to the model's own grid for the search
    prob, z, _ = complete_optimize(model, case.grid_array, float(model.config["voxel_mm"]), steps=steps,
                                   far_mm=0.0, near_weight=1.0)
    return {"scales": scales, "best_scale": best, "best_scaled": scales[best], "steps": int(steps),
            "searched": round(input_fit_dice(prob, case.grid_array, case.grid_seen), 4),
            "z_norm": round(float(np.linalg.norm(z)), 2)}


def synthetic_fits(model, n: int, seed: int, realism: str, shape: int, spacing: float,
                   pose: str = "auto") -> list[float]:
    """Input-fit Dice on ``n`` complete synthetic skulls of data-set seed ``seed``."""
    from skullvae.phantoms import synth_skull
    from skullvae.phantoms.dataset import skull_seed

    return [fit_of(model, synth_skull(skull_seed(seed, i), shape, spacing, realism=realism), pose=pose)
            for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic-64", help="bundled model name or run folder (default synthetic-64)")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder holding data/real (default ../shared)")
    parser.add_argument("--synthetic", type=int, default=6, help="held-out synthetic skulls per realism (default 6)")
    parser.add_argument("--synthetic-seed", type=int, default=909, help="their data-set seed (default 909)")
    parser.add_argument("--realism", default="smooth,real",
                        help="comma-separated: smooth, real (default both); the first is the json's synthetic_heldout")
    parser.add_argument("--shape", type=int, default=160, help="synthetic grid size (default 160: holds real-realism skulls)")
    parser.add_argument("--spacing", type=float, default=1.6, help="synthetic voxel size, mm (default 1.6)")
    parser.add_argument("--msr-spacing", type=float, default=0.8, help="voxel size for the STL (default 0.8)")
    parser.add_argument("--pose", choices=("auto", "keep"), default="auto",
                        help="as complete --pose: auto (default) turns scans stored upside down or face-back upright")
    parser.add_argument("--write-json", action="store_true", help="write domain_fit.json into the model folder")
    parser.add_argument("--diagnose", type=int, default=0, metavar="STEPS",
                        help="also, per real skull: the best isotropic scale and the fit after STEPS steps of latent "
                             "search (what limits the fit; the torch engine)")
    args = parser.parse_args(argv)
    realisms = [r.strip() for r in args.realism.split(",") if r.strip()]
    real = args.shared / "data" / "real"
    if not real.is_dir():
        print(f"domain_fit: error: real data not found: {real} (pass --shared)", file=sys.stderr)
        return 2
    model = load_completion_model(args.model, device="cpu", engine="torch" if args.diagnose else "auto",
                                  mode="optimize" if args.diagnose else "dev")
    t0 = time.perf_counter()
    rows, real_fit = [], {}
    diagnosis = {}
    for name, (load, what) in real_inputs(real, args.msr_spacing).items():
        volume = load()
        dice = round(fit_of(model, volume, pose=args.pose), 4)
        real_fit[name] = dice
        rows.append((name, what, f"{dice:.3f}"))
        print(f"{name}: {dice:.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        if args.diagnose:
            diagnosis[name] = diagnose(model, volume, args.diagnose, pose=args.pose)
    synth, skulls = {}, [{"name": name, "kind": "real", "dice": dice} for name, dice in real_fit.items()]
    for realism in realisms:
        fits = synthetic_fits(model, args.synthetic, args.synthetic_seed, realism, args.shape, args.spacing, args.pose)
        kind = "synthetic" if realism == realisms[0] else f"synthetic-{realism}"
        skulls += [{"name": f"synthetic {realism} seed {args.synthetic_seed} skull_{i:03d}", "kind": kind,
                    "dice": round(float(f), 4)} for i, f in enumerate(fits)]
        synth[realism] = {"mean": round(float(np.mean(fits)), 4), "min": round(float(np.min(fits)), 4), "n": len(fits)}
        rows.append((f"synthetic held-out ({realism})",
                     f"{len(fits)} complete skulls, data-set seed {args.synthetic_seed}, {args.shape}³ at {args.spacing:g} mm",
                     f"{np.mean(fits):.3f} (min {np.min(fits):.3f})"))
        print(f"synthetic {realism}: {np.mean(fits):.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    grid = "×".join(str(g) for g in model.config["grid"])
    print(f"\nInput-fit Dice, model `{args.model}` ({grid} at {model.config['voxel_mm']} mm, {model.engine}):\n")
    print("| skull | input | input-fit Dice |\n| --- | --- | --- |")
    for name, what, dice in rows:
        print(f"| {name} | {what} | {dice} |")
    if diagnosis:
        print(f"\nWhat limits the fit (`--diagnose {args.diagnose}`):\n")
        print("| skull | input fit | best isotropic scale (fit) | after latent search (‖z‖) |\n| --- | --- | --- | --- |")
        for name, d in diagnosis.items():
            print(f"| {name} | {real_fit[name]:.3f} | ×{d['best_scale']:.2f} ({d['best_scaled']:.3f}) | "
                  f"{d['searched']:.3f} ({d['z_norm']:.1f}) |")
    if args.write_json:
        from skullvae.model.locate import resolve_run_dir

        from skullvae.model.inventory import DOMAIN_FIT_FORMAT

        heldout = synth[realisms[0]]["mean"] if realisms else None
        data = {"format": DOMAIN_FIT_FORMAT, "version": 1, "model_id": model.config.get("model_id"),
                "metric": "input-fit Dice",
                "command": "python benchmarks/domain_fit.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
                "skulls": skulls, "real": real_fit, "synthetic_heldout": heldout, "synthetic_heldout_by_realism": synth}
        path = resolve_run_dir(args.model) / "domain_fit.json"
        atomic_write_text(path, json.dumps(data, indent=1) + "\n")
        print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from _script import run

    run(main, __file__)
