"""``complete_case``: defective skull → completed skull, implant, STL, preview, report.

Stages (each timed for the report), top to bottom in :func:`_run_stages`:
read → preprocess → pose (a scan stored upside down or face-back is turned upright by
its header only, :mod:`skullvae.preprocessing.pose`) → prior (the mode's completed skull, :mod:`skullvae.completion.modes`)
→ implant (the defect regions and their implants, :func:`make_implant`) → mesh →
write. All outputs are built in a hidden temporary folder beside the output folder
and moved into place only when every stage succeeded, so an error leaves nothing
behind.

One job runs beside them: a child forked at the start imports matplotlib and draws
the preview (:mod:`skullvae.completion.preview`). It saves 26 % of a 512³ case's wall
time; the integrity check, model load, imports and volume writes that used to run in
threads or children saved less, or nothing once together
(``benchmarks/concurrency_savings.py``), and now run in order.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from skullvae.completion.engine import load_completion_model, resolve_device
from skullvae.completion.modes import input_fit_dice, run_completion
from skullvae.completion.options import DEFAULT_MODE, MIN_INPUT_FIT_DICE, MODES, CompletionOptions
from skullvae.completion.preview import start_preview_worker
from skullvae.errors import SkullVAEError
from skullvae.io.atomic import staged_folder
from skullvae.io.formats import volume_extension, volume_stem
from skullvae.io.readers import read_volume
from skullvae.preprocessing.pipeline import load_mask

__all__ = ["DEFAULT_MODE", "MIN_INPUT_FIT_DICE", "MODES", "CompletionOptions", "complete_case", "default_output_dir",
           "input_fit_dice", "load_completion_model", "output_extension", "resolve_device", "run_completion"]

def default_output_dir(input_path: str | os.PathLike) -> Path:
    """``./<input stem>_skullvae/`` in the current folder."""
    return Path.cwd() / f"{volume_stem(input_path)}_skullvae"


def output_extension(input_path: str | os.PathLike) -> str:
    """The input's volume extension, or ``.nii.gz`` for a DICOM folder."""
    path = Path(input_path)
    return ".nii.gz" if path.is_dir() else volume_extension(path)


def _load_model(opts: CompletionOptions):
    """``(device, model)`` for a VAE mode."""
    device = resolve_device(opts.device)
    return device, load_completion_model(opts.model, device, opts.engine, opts.mode)


def _check_output_dir(out_dir: Path, overwrite: bool, input_path: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SkullVAEError(f"output exists and is not a folder: {out_dir}")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise SkullVAEError(f"output folder {out_dir} is not empty (pass --overwrite to replace it)")
    inp = input_path.resolve()
    if inp == out_dir.resolve() or out_dir.resolve() in inp.parents:
        raise SkullVAEError(f"the output folder {out_dir} contains the input; choose another -o")


def make_implant(case, completion, opts: CompletionOptions, model=None):
    """The implant stage: ``(Implant, RimResult or None)``.

    With the rim step (default) the implant is built from radial height fields on the
    input's grid and one component is found per defect
    (:func:`skullvae.implant.rim_implant.rim_implant`); the mode's completed skull is
    its prior (``dev`` without ``--defect-type``: the best of every DEV's completion, by
    the rim ring). A defect that is not a vault shell (the orbits and the face around a
    fronto-orbital defect) takes the model's completed skull minus the bone instead, when the
    model knows the skull (:mod:`skullvae.implant.bone_prior`). Without the rim step, the
    implant is the completed skull minus the bone
    (:func:`skullvae.implant.extract.extract_implant`).
    """
    if not opts.rim:
        from skullvae.implant.extract import extract_implant

        return extract_implant(completion.probability, completion.frame, completion.defective, case.mask,
                               core_mm=completion.core_mm, reconstruction=completion.reconstruction), None
    from skullvae.implant.rim_implant import rim_implant

    plane = completion.info.get("plane")
    if plane is None:
        from skullvae.completion.mirror import mirror_frame
        from skullvae.preprocessing.model_grid import to_grid
        from skullvae.preprocessing.symmetry import estimate_midsagittal_plane

        cropped = case.cropped_mask()
        frame = mirror_frame(cropped)
        plane = estimate_midsagittal_plane(to_grid(cropped, frame), frame)
    model_bone, bone_prior = None, None
    if completion.mode == "mirror":
        priors = ("mirror", "none") if opts.mode == "auto" else ("mirror",)
    else:
        model_bone = completion.frame.as_volume((completion.probability > 0.5).astype(np.uint8))
        priors = ("model", "mirror", "none") if opts.mode == "auto" else ("model",)
        bone_prior = _bone_prior(case, completion, opts, model)
        if opts.mode == "dev" and opts.defect_type is None and model is not None:
            # no hint: every DEV's completion is a candidate, the rim ring picks one
            model_bone = bone_prior.skulls()
        if completion.info.get("input_fit_dice", 1.0) < MIN_INPUT_FIT_DICE:
            # a model that does not know the skull proposes no bone of its own (real skulls, --mode dev:
            # fronto-orbital 0.58 -> 0.30 with it)
            bone_prior = None
    rim = rim_implant(case.mask, case.bbox, plane, model_bone=model_bone, priors=priors, bone_prior=bone_prior)
    completion.info["rim"] = rim.info
    return rim.implant, rim


def _bone_prior(case, completion, opts: CompletionOptions, model):
    """The model's completed skulls for defects that are not a vault shell (:mod:`skullvae.implant.bone_prior`).

    Without ``--defect-type``, one per DEV vector (decoded only when such a defect is found);
    with it, or for ``optimize``, the mode's own completion.
    """
    from skullvae.implant.bone_prior import BonePrior
    from skullvae.implant.extract import extract_implant

    cache: dict[str, np.ndarray] = {}

    def probabilities() -> dict[str, np.ndarray]:
        if not cache:
            if completion.mode == "dev" and opts.defect_type is None and model is not None:
                from skullvae.completion.dev import dev_completions

                cache.update(dev_completions(model, completion.defective, opts.gamma))
            else:
                cache[completion.mode] = completion.probability
        return cache

    def skulls():
        return {name: completion.frame.as_volume((prob > 0.5).astype(np.uint8)) for name, prob in probabilities().items()}

    def implant(name: str):
        return extract_implant(probabilities()[name], completion.frame, completion.defective, case.mask,
                               core_mm=completion.core_mm)

    return BonePrior(skulls, implant)


def complete_case(input_path: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  options: CompletionOptions | None = None, overwrite: bool = False, progress=None) -> dict:
    """Complete one defective skull and write all outputs.

    Args:
        input_path: volume file or DICOM folder (binary mask or CT in HU).
        out_dir: output folder (default ``./<stem>_skullvae/``).
        options: :class:`CompletionOptions`.
        overwrite: replace a non-empty output folder.
        progress: optional callable ``progress(stage_name)`` called as stages start.

    Returns:
        The report dict (also written as ``report.json``).
    """
    opts = options or CompletionOptions()
    if opts.mode not in MODES:
        raise SkullVAEError(f"unknown --mode {opts.mode!r} (choose from {', '.join(MODES)})")
    if opts.pose not in ("auto", "keep"):
        raise SkullVAEError(f"unknown --pose {opts.pose!r} (choose from auto, keep)")
    if opts.samples < 1:
        raise SkullVAEError("--samples must be at least 1")
    input_path = Path(input_path)
    out_dir = Path(out_dir) if out_dir is not None else default_output_dir(input_path)
    if not input_path.exists():
        raise SkullVAEError(f"no such file or folder: {input_path}")
    ext = output_extension(input_path)
    _check_output_dir(out_dir, overwrite, input_path)
    step = progress or (lambda name: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name):
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(now - t0, 3)
        t0 = now

    preview = start_preview_worker()  # forked first: no thread may run at a fork
    try:
        return _run_stages(input_path, out_dir, ext, opts, step, lap, timings, preview)
    except BaseException:
        preview.cancel()
        raise


def _run_stages(input_path: Path, out_dir: Path, ext: str, opts: CompletionOptions, step, lap, timings: dict,
                preview) -> dict:
    """The stages of :func:`complete_case` after its checks (see there)."""
    from skullvae.completion.report import build_report
    from skullvae.implant.mesh import mask_to_mesh

    model = None
    device = "cpu"
    if opts.mode != "mirror":  # a model error comes before any work on the input
        step("load_model")
        device, model = _load_model(opts)
        lap("load_model")
    step("read")
    volume = read_volume(input_path)  # with the integrity check: a corrupt file fails here
    lap("read")
    step("preprocess")
    case = load_mask(volume, opts.hu_threshold, label=opts.label)
    lap("preprocess")
    step("pose")
    if opts.pose == "auto":
        case.upright()  # same voxels: every result below is on the input grid
    lap("pose")
    step("prior")
    completion = run_completion(case, opts, model)
    lap("prior")
    step("implant")  # the defect regions and their implants
    implant, rim = make_implant(case, completion, opts, model)
    lap("implant")
    from skullvae.completion.outputs import OutputWriter, write_report

    with staged_folder(out_dir) as tmp:
        with OutputWriter(tmp, ext, volume, case, completion, implant, preview) as outputs:
            step("mesh")
            # the STL in the input's patient space (the implant's box has the upright geometry)
            box = case.pose.restore(implant.cropped) if case.pose is not None else implant.cropped
            mesh = mask_to_mesh(box, smooth_iterations=opts.smooth, decimate=opts.decimate)
            lap("mesh")
            step("write")
            outputs.finish(mesh)
            lap("write")
        report = build_report(input_path, out_dir, ext, volume, case, completion, implant, mesh, opts, model, device,
                              timings, rim)
        write_report(tmp / "report.json", report)
    return report
