"""``complete_case``: defective skull → completed skull, implant, STL, preview, report.

Stages (each timed for the report): read → preprocess → complete → implant →
mesh → write. All outputs are built in a hidden temporary folder beside the
output folder and moved into place only when every stage succeeded, so an error
leaves nothing behind.

Two cores are used where the stages allow it: a child process is forked at the
start that imports matplotlib and later draws the preview (see
:mod:`skullvae.completion.preview`); while the main thread reads and
preprocesses, background threads load the model (VAE modes), import the later
stages' libraries and run the input's gzip integrity check (whose error, if any,
replaces whatever failed after the read); the volumes are written in a thread
while the implant is meshed (see :mod:`skullvae.completion.outputs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from skullvae.completion.concurrency import BackgroundThread, ForkedJob
from skullvae.completion.engine import load_completion_model, resolve_device
from skullvae.completion.preview import start_preview_worker
from skullvae.completion.result import Completion
from skullvae.errors import SkullVAEError
from skullvae.io.formats import volume_extension, volume_stem
from skullvae.io.readers import check_volume_file, read_volume
from skullvae.preprocessing.intensity import DEFAULT_HU_THRESHOLD
from skullvae.preprocessing.pipeline import PreparedCase, load_mask

logger = logging.getLogger(__name__)

MODES = ("auto", "dev", "optimize", "mirror")
#: Below this Dice between the model's reconstruction of the input and the input, the
#: input is out of the model's distribution: a warning in dev/optimize, mirror in auto.
#: (Held-out synthetic cases: 0.83-0.90; the real SkullBreak sample with the bundled model: 0.50.)
MIN_INPUT_FIT_DICE = 0.7
#: The default mode. ``auto`` is ``dev`` -- the winner of the synthetic benchmark
#: (benchmarks/evaluate_completion.py with the bundled model on the 36 held-out test cases
#: of 40 synthetic skulls: mean implant DSC dev 0.806 > optimize 0.644 > mirror 0.555; see
#: README) -- unless the model reconstructs the input with Dice < MIN_INPUT_FIT_DICE, i.e.
#: the skull is unlike anything the model was trained on; then the mirror baseline is used.
#: On all 72 held-out synthetic cases auto is dev.
DEFAULT_MODE = "auto"


@dataclass
class CompletionOptions:
    """User options of ``skullvae complete`` (see the CLI help for each)."""

    mode: str = DEFAULT_MODE
    model: object = None
    device: str = "auto"
    engine: str = "auto"
    defect_type: str | None = None
    gamma: float = 1.0
    samples: int = 1
    align: str = "none"
    hu_threshold: float = DEFAULT_HU_THRESHOLD
    smooth: int = 10
    decimate: float | None = None
    optimize_steps: int = 60
    seed: int = 0
    use_reconstruction: bool = False  # excluding the reconstruction's bone lost most implants (VAE reconstructions already heal defects)
    extra: dict = field(default_factory=dict)


def default_output_dir(input_path: str | os.PathLike) -> Path:
    """``./<input stem>_skullvae/`` in the current folder."""
    return Path.cwd() / f"{volume_stem(input_path)}_skullvae"


def output_extension(input_path: str | os.PathLike) -> str:
    """The input's volume extension, or ``.nii.gz`` for a DICOM folder."""
    path = Path(input_path)
    return ".nii.gz" if path.is_dir() else volume_extension(path)


def _model_grid(model) -> tuple[list[int], float]:
    config = getattr(model, "config", {}) or {}
    grid = config.get("grid", getattr(model, "grid", None))
    voxel = config.get("voxel_mm", getattr(model, "voxel_mm", None))
    if grid is None or voxel is None:
        raise SkullVAEError("the model config lacks grid / voxel_mm")
    return [int(g) for g in grid], float(voxel)


def input_fit_dice(reconstruction: np.ndarray, grid_array: np.ndarray) -> float:
    """Dice between the model's reconstruction of the defective input and the input itself.

    A model reproduces skulls like its training skulls closely (held-out synthetic
    skulls ≈ 0.87); a low value means the input lies outside what the model knows.

    Args:
        reconstruction: decoded bone probability of enc(x), in the model grid.
        grid_array: the defective input's bone fraction in the same grid.

    Returns:
        Dice of the two masks thresholded at 0.5 (1.0 when both are empty).
    """
    a = reconstruction > 0.5
    b = grid_array >= 0.5
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def run_completion(case: PreparedCase, opts: CompletionOptions, model=None) -> Completion:
    """Run the chosen completion mode on a prepared case (frame placed as needed).

    ``auto`` runs ``dev`` and falls back to ``mirror`` (with a warning) when the model
    reconstructs the input poorly (:data:`MIN_INPUT_FIT_DICE`); ``info["requested_mode"]``
    and ``info["fallback"]`` then say so.
    """
    if opts.mode == "mirror":
        from skullvae.completion.mirror import complete_mirror
        from skullvae.preprocessing.symmetry import symmetry_rotation

        rotation = None if opts.align == "none" else symmetry_rotation(case.cropped_mask())
        return complete_mirror(case.cropped_mask(), rotation=rotation)
    if opts.mode not in MODES:
        raise SkullVAEError(f"unknown --mode {opts.mode!r} (choose from {', '.join(MODES)})")
    auto = opts.mode == "auto"
    result = _run_vae(case, replace(opts, mode="dev") if auto else opts, model,
                      min_fit=MIN_INPUT_FIT_DICE if auto else None)
    if isinstance(result, float):  # auto, and the model does not know this skull
        logger.warning(
            "the model reconstructs this skull poorly (Dice %.2f < %.2f): it is unlike the skulls the model "
            "was trained on, so the mirror baseline is used instead (--mode dev forces the model's completion)",
            result, MIN_INPUT_FIT_DICE)
        mirror = run_completion(case, replace(opts, mode="mirror"))
        mirror.info.update(requested_mode="auto", fallback={
            "from": "dev", "input_fit_dice": result, "min_input_fit_dice": MIN_INPUT_FIT_DICE})
        return mirror
    if auto:
        result.info["requested_mode"] = "auto"
    elif result.info["input_fit_dice"] < MIN_INPUT_FIT_DICE:
        logger.warning(
            "the model reconstructs this skull poorly (Dice %.2f < %.2f): it is unlike the skulls the model was "
            "trained on, so the completion is unreliable; check the preview, try --align register or --mode mirror, "
            "or use a model trained on similar scans", result.info["input_fit_dice"], MIN_INPUT_FIT_DICE)
    return result


def _run_vae(case: PreparedCase, opts: CompletionOptions, model, min_fit: float | None = None) -> Completion | float:
    """``dev`` or ``optimize``; ``info["input_fit_dice"]`` says how well the model knows the input.

    With ``min_fit``, a fit below it is returned (a float) before any completion work.
    """
    from skullvae.completion.dev import as_array, complete_dev, decode_probability, dev_vector, encode_grid, missing_side

    grid, voxel = _model_grid(model)
    reference = None
    if opts.align == "register":
        mean = getattr(model, "posterior_mean", None)
        latent = int(getattr(model, "config", {}).get("latent_size", 1))
        z_ref = (as_array(mean) if mean is not None else np.zeros(latent, dtype=np.float32))[None, :]
        reference = decode_probability(model, z_ref)[0]
    case.place(grid, voxel, opts.align, reference)
    from skullvae.implant.extract import bone_distance_mm

    grid_array = case.grid_array
    encoded = encode_grid(model, grid_array)
    recon = decode_probability(model, encoded[0])[0]
    fit = round(input_fit_dice(recon, grid_array), 4)
    if min_fit is not None and fit < min_fit:
        return fit
    distance = BackgroundThread(lambda: bone_distance_mm(grid_array, voxel), name="skullvae-distance")  # beside the model
    info: dict = {"align": case.info.get("align")}
    if opts.mode == "dev":
        prob, z, logvar, dinfo = complete_dev(model, grid_array, opts.defect_type, opts.gamma, encoded=encoded)
    elif opts.mode == "optimize":
        from skullvae.completion.optimize import complete_optimize

        init = None
        if getattr(model, "dev_vectors", None):
            init, _ = dev_vector(model, opts.defect_type, missing_side(grid_array))
        prob, z, dinfo = complete_optimize(model, grid_array, voxel, steps=opts.optimize_steps,
                                           init_dev=init, gamma=opts.gamma)
        logvar = None
    else:
        raise SkullVAEError(f"unknown --mode {opts.mode!r} (choose from {', '.join(MODES)})")
    info.update(dinfo)
    info["input_fit_dice"] = fit
    result = Completion(opts.mode, case.frame, prob, case.grid_array, info=info,
                        reconstruction=recon if opts.use_reconstruction else None, bone_distance=distance.join())
    if opts.samples > 1:
        from skullvae.completion.sampling import implant_probability, sample_probabilities

        mean, std = sample_probabilities(model, z, logvar, opts.samples, seed=opts.seed)
        result.implant_probability = implant_probability(mean, case.grid_array)
        info["samples"] = int(opts.samples)
        info["mean_std_in_defect"] = float(std[result.implant_probability > 0.5].mean()) if (result.implant_probability > 0.5).any() else 0.0
    return result


def _load_model(opts: CompletionOptions):
    """``(device, model)`` for a VAE mode."""
    device = resolve_device(opts.device)
    return device, load_completion_model(opts.model, device, opts.engine, opts.mode)


def _warm_imports(mode: str) -> None:
    """Import the modules of the later stages ahead of time (the preview child imports matplotlib)."""
    import importlib

    names = ["skimage.measure", "trimesh"]
    if mode in ("mirror", "auto"):  # auto may fall back to mirror
        names.insert(0, "scipy.optimize")
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # the stage that needs it reports the problem
            pass


def _check_job(input_path: Path):
    """``finish`` for a :class:`ForkedJob` whose child checks the input (its exit status is the verdict).

    At a lower CPU priority: the result is needed only after the implant is extracted.
    """
    try:
        os.nice(5)
    except OSError:  # not permitted: same priority
        pass
    check_volume_file(input_path)
    return lambda message: None


@contextlib.contextmanager
def _checked_in_background(input_path: Path):
    """Run the input's integrity check (:func:`check_volume_file`) beside the body.

    The check decompresses the whole file once more; it runs in a forked child (so
    it takes nothing from the main thread's GIL), or in a thread where there is no
    ``fork``. The body reads the volume without the check; the check is waited for
    before the body's results are used, and its error replaces any error of the
    body (a corrupt file explains whatever went wrong after reading it). A failed
    child is followed by the check in this process, which raises the error.
    """
    job = ForkedJob(lambda: _check_job(input_path))
    if job.started:
        job.send(None)

        def join():
            if not job.wait():
                check_volume_file(input_path)
    else:
        join = BackgroundThread(lambda: check_volume_file(input_path), name="skullvae-check").join
    try:
        yield
    except BaseException:
        join()
        raise
    join()


def _check_output_dir(out_dir: Path, overwrite: bool, input_path: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SkullVAEError(f"output exists and is not a folder: {out_dir}")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise SkullVAEError(f"output folder {out_dir} is not empty (pass --overwrite to replace it)")
    inp = input_path.resolve()
    if inp == out_dir.resolve() or out_dir.resolve() in inp.parents:
        raise SkullVAEError(f"the output folder {out_dir} contains the input; choose another -o")


@contextlib.contextmanager
def _staging(out_dir: Path):
    """A temporary folder beside ``out_dir`` that replaces it on success."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; give it normal folder permissions
    try:
        yield tmp
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
    from skullvae.implant.extract import extract_implant
    from skullvae.implant.mesh import mask_to_mesh

    # Work for the second core while the first reads and preprocesses: the input's integrity
    # check (a forked child: it must start before any thread), the model (VAE modes), then the
    # slow imports of later stages (they mostly hold the GIL, and the model is needed first).
    # The preview child imports matplotlib.
    with _checked_in_background(input_path):
        loading = None if opts.mode == "mirror" else BackgroundThread(lambda: _load_model(opts), name="skullvae-model")

        def warm_up():
            if loading is not None:
                loading.done.wait()
            _warm_imports(opts.mode)

        warm = BackgroundThread(warm_up, name="skullvae-imports")
        step("read")
        volume = read_volume(input_path, check=False)
        lap("read")
        step("preprocess")
        try:
            case = load_mask(volume, opts.hu_threshold)
        except SkullVAEError:
            if loading is not None:
                loading.join()  # a model error comes first, as if the model had been loaded before
            raise
        lap("preprocess")
        model = None
        device = "cpu"
        if loading is not None:
            device, model = loading.join()
            lap("load_model")  # only the wait left after reading and preprocessing
        step("complete")
        completion = run_completion(case, opts, model)
        lap("complete")
        step("implant")
        implant = extract_implant(completion.probability, completion.frame, completion.defective, case.mask,
                                  core_mm=completion.core_mm, reconstruction=completion.reconstruction,
                                  bone_distance=completion.bone_distance)
    lap("implant")
    warm.join()
    from skullvae.completion.outputs import OutputWriter, write_report

    with _staging(out_dir) as tmp:
        with OutputWriter(tmp, ext, volume, case, completion, implant, preview) as outputs:  # writes while meshing
            step("mesh")
            mesh = mask_to_mesh(implant.cropped, smooth_iterations=opts.smooth, decimate=opts.decimate)
            lap("mesh")
            step("write")
            outputs.finish(mesh)
            lap("write")
        report = build_report(input_path, out_dir, ext, volume, case, completion, implant, mesh, opts, model, device, timings)
        write_report(tmp / "report.json", report)
    return report
