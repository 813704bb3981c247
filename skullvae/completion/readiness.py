"""Can this machine run ``skullvae complete``? Versions, device, threads, model, engine.

:func:`readiness_report` gathers what ``skullvae doctor`` prints;
:func:`readiness_problems` says what would stop a completion (an error) and what
only makes it slower or different (a warning):

=====================================================  =========
finding                                                kind
=====================================================  =========
a package the completion imports is missing             error
no bundled model / the model folder is not a run        error
weights missing, not safetensors, unreadable             error
``SHA256SUMS`` lists a file whose hash changed           error
no engine: neither a current ONNX export with ONNX       error
Runtime nor an importable torch
ONNX export missing or stale, torch available           warning (torch runs the model; slower start)
ONNX Runtime or torch not installed, the other works    warning
matplotlib's cache folder not writable                   warning (matplotlib uses a temporary one)
=====================================================  =========
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import tempfile
from pathlib import Path

from skullvae import __version__
from skullvae.errors import SkullVAEError

#: Distribution name -> what ``doctor`` calls it.
PACKAGES = {"torch": "torch", "monai": "MONAI", "onnxruntime": "ONNX Runtime", "SimpleITK": "SimpleITK",
            "numpy": "NumPy", "scipy": "SciPy", "scikit-image": "scikit-image", "trimesh": "trimesh"}
#: Modules every completion imports (the torch-free CPU path).
REQUIRED_MODULES = ("numpy", "scipy", "SimpleITK", "skimage", "trimesh", "safetensors", "matplotlib",
                    "skullvae.completion.pipeline", "skullvae.implant.mesh")


def package_versions() -> dict[str, str | None]:
    """Installed version of skullvae and of each of :data:`PACKAGES` (None when not installed)."""
    out: dict[str, str | None] = {"skullvae": __version__}
    for dist, label in PACKAGES.items():
        try:
            out[label] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[label] = None
    return out


def _import_problem(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means the completion cannot run
        return f"cannot import {module}: {type(exc).__name__}: {exc}"
    return None


def torch_info() -> dict:
    """torch's build, threads and CUDA devices (``{"importable": False, ...}`` when torch does not import)."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return {"importable": False, "error": f"{type(exc).__name__}: {exc}"}
    info = {"importable": True, "version": torch.__version__, "cuda_build": torch.version.cuda,
            "threads": torch.get_num_threads(), "cuda_available": bool(torch.cuda.is_available()), "gpus": []}
    if info["cuda_available"]:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            free, total = torch.cuda.mem_get_info(index)
            info["gpus"].append({"index": index, "name": props.name, "total_gb": total / 1e9, "free_gb": free / 1e9,
                                 "capability": f"{props.major}.{props.minor}"})
    return info


def thread_info() -> dict:
    """CPU cores this process may use and the thread settings that govern torch / ONNX Runtime."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {"cpu_count": os.cpu_count(), "usable_cores": usable,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS")}


def _writable_dir(path: Path) -> bool:
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return os.access(path, os.W_OK | os.X_OK)


def cache_info() -> dict:
    """Where matplotlib keeps its font cache, and whether that and the temporary folder are writable."""
    mpl = os.environ.get("MPLCONFIGDIR") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                                                / "matplotlib")  # matplotlib's own rule for its cache
    tmp = tempfile.gettempdir()
    return {"matplotlib": mpl, "matplotlib_writable": _writable_dir(Path(mpl)), "tmp": tmp,
            "tmp_writable": _writable_dir(Path(tmp))}


def model_info(model: str | None) -> dict:
    """The model ``complete --model MODEL`` would load: path, id, checksums, problems, ONNX status."""
    from skullvae.model.inventory import describe_model, read_checksums
    from skullvae.model.locate import bundled_names, resolve_run_dir

    name = model
    if name is None:
        names = bundled_names()
        if not names:
            return {"name": None, "problems": ["no bundled model is installed (skullvae/bundled/ is empty)"]}
        name = names[0]
    try:
        run_dir = resolve_run_dir(name)
        info = describe_model(run_dir, name=str(name))
        recorded = read_checksums(run_dir)
    except SkullVAEError as exc:
        return {"name": str(name), "problems": [str(exc)]}
    info["checksums_recorded"] = recorded is not None
    return info


def readiness_report(model: str | None = None) -> dict:
    """Everything ``skullvae doctor`` prints.

    Args:
        model: a bundled name or run folder (None: the bundled model ``complete`` uses by default).

    Returns:
        A JSON-able dict: versions, python, platform, torch, threads, caches, device
        (what ``--device auto`` picks), model, imports (problems).
    """
    from skullvae.completion.engine import gpu_driver_present

    torch = torch_info()
    device = "cuda" if torch.get("cuda_available") else "cpu"
    return {
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "torch": torch,
        "gpu_driver": gpu_driver_present(),
        "device": device,
        "threads": thread_info(),
        "caches": cache_info(),
        "model": model_info(model),
        "imports": [p for p in (_import_problem(m) for m in REQUIRED_MODULES) if p],
    }


def readiness_problems(report: dict) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` of a :func:`readiness_report` (see the module docstring).

    Args:
        report: the report.

    Returns:
        Errors (a completion cannot run) and warnings (it runs, slower or with a fallback).
    """
    errors = list(report["imports"]) + list(report["model"].get("problems", []))
    warnings = []
    onnx_ok = report["versions"].get("ONNX Runtime") is not None
    torch_ok = bool(report["torch"].get("importable"))
    model = report["model"]
    onnx_problem = model.get("onnx") if "onnx" in model else "no model"
    if not errors:
        if not torch_ok and not (onnx_ok and onnx_problem is None):
            why = onnx_problem if onnx_ok else "onnxruntime is not installed"
            errors.append(f"no engine can run the model: torch does not import ({report['torch'].get('error')}) "
                          f"and the ONNX export cannot be used ({why})")
        elif not onnx_ok:
            warnings.append("onnxruntime is not installed: the model runs on torch (slower to start)")
        elif onnx_problem is not None:
            warnings.append(f"{onnx_problem}: the model runs on torch (slower to start)")
        if not torch_ok and not errors:
            warnings.append("torch does not import: only the CPU with ONNX Runtime works (no --device cuda, "
                            "no --mode optimize)")
    if not report["caches"]["matplotlib_writable"]:
        warnings.append(f"matplotlib cannot write its cache {report['caches']['matplotlib']} "
                        "(set MPLCONFIGDIR to a writable folder, e.g. /tmp/matplotlib)")
    if not report["caches"]["tmp_writable"]:
        warnings.append(f"the temporary folder {report['caches']['tmp']} is not writable")
    if report["gpu_driver"] and torch_ok and not report["torch"]["cuda_available"]:
        warnings.append("a GPU driver is present but torch sees no CUDA device (a CPU-only torch build?)")
    return errors, warnings
