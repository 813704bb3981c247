"""``complete_case``: defective skull → completed skull, implant, STL, preview, report.

Stages (each timed for the report): read → preprocess → complete → implant →
mesh → write. All outputs are built in a hidden temporary folder beside the
output folder and moved into place only when every stage succeeded, so an error
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skullvae.completion.result import Completion
from skullvae.errors import SkullVAEError
from skullvae.io.formats import volume_extension, volume_stem
from skullvae.io.readers import read_volume
from skullvae.io.volume import Volume
from skullvae.io.writers import write_volume
from skullvae.preprocessing.intensity import DEFAULT_HU_THRESHOLD
from skullvae.preprocessing.pipeline import PreparedCase, load_mask

MODES = ("dev", "optimize", "mirror")
#: The default mode: the winner of the synthetic benchmark (benchmarks/evaluate_completion.py:
#: mean implant DSC optimize 0.677 > dev 0.662 > mirror 0.618 on held-out synthetic cases).
DEFAULT_MODE = "optimize"


@dataclass
class CompletionOptions:
    """User options of ``skullvae complete`` (see the CLI help for each)."""

    mode: str = DEFAULT_MODE
    model: object = None
    device: str = "auto"
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


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; checks explicit choices."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SkullVAEError("--device cuda requested but no CUDA GPU is available")
    if device not in ("cpu", "cuda"):
        raise SkullVAEError(f"--device must be auto, cpu or cuda, got {device!r}")
    return device


def load_completion_model(model, device: str):
    """Load a model by bundled name or run folder (an already loaded model is returned as is)."""
    if model is not None and hasattr(model, "encode") and hasattr(model, "decode"):
        return model
    from skullvae.model.load import bundled_names, load_model

    if model is None:
        names = bundled_names()
        if not names:
            raise SkullVAEError("no bundled model is installed: pass --model RUN_DIR (or use --mode mirror)")
        model = names[0]
    return load_model(model, device=device)


def _model_grid(model) -> tuple[list[int], float]:
    config = getattr(model, "config", {}) or {}
    grid = config.get("grid", getattr(model, "grid", None))
    voxel = config.get("voxel_mm", getattr(model, "voxel_mm", None))
    if grid is None or voxel is None:
        raise SkullVAEError("the model config lacks grid / voxel_mm")
    return [int(g) for g in grid], float(voxel)


def run_completion(case: PreparedCase, opts: CompletionOptions, model=None) -> Completion:
    """Run the chosen completion mode on a prepared case (frame placed as needed)."""
    if opts.mode == "mirror":
        from skullvae.completion.mirror import complete_mirror
        from skullvae.preprocessing.align import principal_axes_rotation

        rotation = None if opts.align == "none" else principal_axes_rotation(case.cropped_mask())
        return complete_mirror(case.cropped_mask(), rotation=rotation)
    import torch

    from skullvae.completion.dev import complete_dev, decode_probability, dev_vector

    grid, voxel = _model_grid(model)
    reference = None
    if opts.align == "register":
        mean = getattr(model, "posterior_mean", None)
        z_ref = (mean if mean is not None else torch.zeros(getattr(model, "config", {}).get("latent_size", 1)))[None, :]
        reference = decode_probability(model, z_ref)[0]
    case.place(grid, voxel, opts.align, reference)
    info: dict = {"align": case.info.get("align")}
    if opts.mode == "dev":
        prob, z, logvar, dinfo = complete_dev(model, case.grid_array, opts.defect_type, opts.gamma)
    elif opts.mode == "optimize":
        from skullvae.completion.optimize import complete_optimize

        init = None
        if getattr(model, "dev_vectors", None):
            init, _ = dev_vector(model, opts.defect_type)
        prob, z, dinfo = complete_optimize(model, case.grid_array, voxel, steps=opts.optimize_steps,
                                           init_dev=init, gamma=opts.gamma)
        logvar = None
    else:
        raise SkullVAEError(f"unknown --mode {opts.mode!r} (choose from {', '.join(MODES)})")
    info.update(dinfo)
    from skullvae.completion.dev import encode_grid

    mu, _ = encode_grid(model, case.grid_array)
    recon = decode_probability(model, mu)[0] if opts.use_reconstruction else None
    result = Completion(opts.mode, case.frame, prob, case.grid_array, info=info, reconstruction=recon)
    if opts.samples > 1:
        from skullvae.completion.sampling import implant_probability, sample_probabilities

        mean, std = sample_probabilities(model, z, logvar, opts.samples, seed=opts.seed)
        result.implant_probability = implant_probability(mean, case.grid_array)
        info["samples"] = int(opts.samples)
        info["mean_std_in_defect"] = float(std[result.implant_probability > 0.5].mean()) if (result.implant_probability > 0.5).any() else 0.0
    return result


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
    from skullvae.completion.report import build_report
    from skullvae.implant.extract import extract_implant
    from skullvae.implant.mesh import mask_to_mesh

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

    step("read")
    volume = read_volume(input_path)
    lap("read")
    model = None
    device = "cpu"
    if opts.mode != "mirror":
        device = resolve_device(opts.device)
        model = load_completion_model(opts.model, device)
        lap("load_model")
    step("preprocess")
    case = load_mask(volume, opts.hu_threshold)
    lap("preprocess")
    step("complete")
    completion = run_completion(case, opts, model)
    lap("complete")
    step("implant")
    implant = extract_implant(completion.probability, completion.frame, completion.defective, case.mask,
                              core_mm=completion.core_mm, reconstruction=completion.reconstruction)
    lap("implant")
    step("mesh")
    mesh = mask_to_mesh(implant.cropped, smooth_iterations=opts.smooth, decimate=opts.decimate)
    lap("mesh")
    step("write")
    with _staging(out_dir) as tmp:
        _write_outputs(tmp, ext, volume, case, completion, implant, mesh, opts)
        lap("write")
        report = build_report(input_path, out_dir, ext, volume, case, completion, implant, mesh, opts, model, device, timings)
        from skullvae.completion.outputs import write_report

        write_report(tmp / "report.json", report)
    return report


def _write_outputs(tmp: Path, ext: str, volume: Volume, case: PreparedCase, completion: Completion,
                   implant, mesh, opts: CompletionOptions) -> None:
    from skullvae.completion.outputs import write_preview
    from skullvae.implant.mesh import preview_mesh, write_stl

    implant_full = implant.full(np.uint8)
    src = volume.array
    if src.dtype == np.uint8 and case.mask.array.base is src:  # binary {0,1} input, nothing removed
        completed = src.copy(order="K")  # keeps the reader's Fortran order: no transposing copy on write
    else:
        completed = case.mask.array.astype(np.uint8, order="K")  # the cleaned defective bone
    completed[implant.box] |= implant.array.view(np.uint8)
    geometry = (volume.spacing, volume.origin, volume.direction)
    center = np.round(np.argwhere(implant.array).mean(axis=0) + implant.lo).astype(int)
    context = completion.frame.as_volume(completion.defective).index_to_physical(
        np.argwhere(completion.defective > 0.5)[::7])
    title = f"skullvae complete --mode {completion.mode}: implant {implant.volume_cm3:.1f} cm³"

    def preview():
        coarse = preview_mesh(implant.cropped, len(mesh.faces))
        write_preview(tmp / "preview.png", case.mask.array, (implant.array, implant.lo, implant.hi), center,
                      volume.spacing, coarse, _near(context, mesh.bounds, 40.0), title=title)

    child = _start_in_child(preview)  # matplotlib is GIL-bound: render on the other core
    write_volume(Volume(implant_full, *geometry), tmp / f"implant{ext}")
    write_volume(Volume(completed, *geometry), tmp / f"completed{ext}")
    if completion.implant_probability is not None:
        from skullvae.preprocessing.crop import geometry_only
        from skullvae.preprocessing.model_grid import from_grid

        prob = from_grid(completion.implant_probability, completion.frame, geometry_only(volume))
        prob[case.mask.array] = 0.0
        write_volume(Volume(prob, *geometry), tmp / f"implant_probability{ext}")
    write_stl(mesh, tmp / "implant.stl")
    if child is None or (child.join() or child.exitcode != 0):
        preview()  # no fork available, or the child failed: run here (and raise its error)


def _start_in_child(fn):
    """Run ``fn`` in a forked process (None where fork is unavailable)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    proc = multiprocessing.get_context("fork").Process(target=fn, daemon=True)
    proc.start()
    return proc


def _near(points: np.ndarray, bounds, margin: float) -> np.ndarray:
    """Points within ``margin`` mm of a bounding box."""
    lo, hi = np.asarray(bounds[0]) - margin, np.asarray(bounds[1]) + margin
    keep = np.all((points >= lo) & (points <= hi), axis=1)
    return points[keep]
