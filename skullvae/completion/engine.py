"""Which engine runs the model in ``skullvae complete``: ONNX Runtime or torch.

* ``onnx``: the run's ONNX export (:mod:`skullvae.model.onnx_model`) on the CPU.
  It starts in about 0.1 s, where importing torch and MONAI takes seconds, and
  gives the same bone probabilities to about 1e-5.
* ``torch``: the safetensors weights in the MONAI network, on the CPU or a GPU.
  ``--mode optimize`` needs it (gradients through the decoder), as does ``cuda``.
* ``auto`` (default): ``onnx`` when the device is the CPU, the mode is not
  ``optimize`` and the run has a current export; otherwise ``torch``. A run whose
  export no longer matches its weights falls back to torch with a warning.

Deciding ``--device auto`` does not import torch on machines without a GPU
driver (torch cannot see a GPU there either).
"""

from __future__ import annotations

import logging
import os
import sys

from skullvae.errors import SkullVAEError

logger = logging.getLogger(__name__)

ENGINES = ("auto", "onnx", "torch")
DEVICES = ("auto", "cpu", "cuda")


def gpu_driver_present() -> bool:
    """Whether a GPU driver that torch could use may be installed (Linux: NVIDIA or ROCm device nodes)."""
    if not sys.platform.startswith("linux"):
        return True  # no cheap check elsewhere: let torch decide
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; checks explicit choices."""
    if device not in DEVICES:
        raise SkullVAEError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device == "cpu" or (device == "auto" and not gpu_driver_present()):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise SkullVAEError("--device cuda requested but no CUDA GPU is available")
    return device


def is_loaded_model(model) -> bool:
    """Whether ``model`` is an already loaded model (rather than a name or a run folder)."""
    return model is not None and hasattr(model, "encode_array") and hasattr(model, "decode_array")


def _onnxruntime_installed() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def choose_engine(engine: str, device: str, mode: str, run_dir) -> str:
    """``"onnx"`` or ``"torch"`` for a model folder (see the module docstring).

    Args:
        engine: ``auto``, ``onnx`` or ``torch``.
        device: the resolved device, ``cpu`` or ``cuda``.
        mode: completion mode (``optimize`` needs torch).
        run_dir: the model's run folder.

    Returns:
        The engine to load.
    """
    from skullvae.model.onnx_model import onnx_problem

    if engine not in ENGINES:
        raise SkullVAEError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "torch":
        return "torch"
    if engine == "onnx":
        if device != "cpu":
            raise SkullVAEError("--engine onnx runs on the CPU: use --device cpu, or --engine torch for the GPU")
        if mode == "optimize":
            raise SkullVAEError("--mode optimize needs gradients through the decoder: use --engine torch (or auto)")
        if not _onnxruntime_installed():
            raise SkullVAEError("--engine onnx needs the onnxruntime package (pip install onnxruntime)")
        problem = onnx_problem(run_dir)
        if problem is not None:
            raise SkullVAEError(problem)
        return "onnx"
    if device != "cpu" or mode == "optimize" or not _onnxruntime_installed():
        return "torch"
    problem = onnx_problem(run_dir)
    if problem is None:
        return "onnx"
    if "has no ONNX export" not in problem:  # an export exists but cannot be used: say so
        logger.warning("%s; using torch (slower to start; run: skullvae export-onnx %s)", problem, run_dir)
    return "torch"


def load_completion_model(model, device: str = "cpu", engine: str = "auto", mode: str = "dev"):
    """Load a model by bundled name or run folder with the chosen engine.

    Args:
        model: a bundled name, a run folder, None (the first bundled model), or an
            already loaded model (returned as is).
        device: the resolved device (``cpu`` or ``cuda``).
        engine: ``auto``, ``onnx`` or ``torch``.
        mode: completion mode.

    Returns:
        An :class:`~skullvae.model.onnx_model.OnnxModel` or a
        :class:`~skullvae.model.load.TrainedModel`.
    """
    if is_loaded_model(model):
        return model
    from skullvae.model.locate import bundled_names, resolve_run_dir

    if model is None:
        names = bundled_names()
        if not names:
            raise SkullVAEError("no bundled model is installed: pass --model RUN_DIR (or use --mode mirror)")
        model = names[0]
    run_dir = resolve_run_dir(model)
    if choose_engine(engine, device, mode, run_dir) == "onnx":
        from skullvae.model.onnx_model import OnnxModel

        return OnnxModel(run_dir)
    from skullvae.model.load import load_model

    return load_model(run_dir, device=device)
