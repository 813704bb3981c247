"""Run a trained model's ONNX export with ONNX Runtime (CPU), without importing torch.

:class:`OnnxModel` offers the NumPy interface that completion uses
(``encode_array``, ``decode_array``, ``dev_vectors``, ``posterior_mean``/``_var``,
``config``, ``model_id``) on the graphs written by
:func:`skullvae.model.onnx_export.export_onnx`. :func:`onnx_problem` says why a
run's export cannot be used (missing, or made from other weights than the run's
current ones), so callers can fall back to torch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.model.files import load_latent_stats, read_tagged_json, sha256_file
from skullvae.model.locate import read_run_config
from skullvae.model.run_layout import RunLayout

ONNX_FORMAT = "skullvae-onnx"


def _threads() -> int:
    """Intra-op threads: ``OMP_NUM_THREADS`` when set (as torch would use), else ONNX Runtime's default."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


def make_session(path: Path):
    """An ONNX Runtime CPU session for one graph file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for bad graphs
        raise SkullVAEError(f"cannot load the ONNX graph {path}: {exc}") from exc


def read_manifest(layout: RunLayout) -> dict:
    """The export's ``manifest.json`` (error when missing or not a skullvae export)."""
    return read_tagged_json(layout.onnx_manifest, ONNX_FORMAT,
                            f"{layout.root} has no ONNX export (run: skullvae export-onnx {layout.root})",
                            "skullvae ONNX manifest")


def onnx_problem(run_dir: str | os.PathLike) -> str | None:
    """Why the ONNX export of a run cannot be used, or None when it can.

    Checks that the export exists, that its graphs are the files it was written
    with, and that it was made from the run's current weights (the stage-2 decoder
    when the run has one).

    Args:
        run_dir: run or bundled model folder.

    Returns:
        A one-line reason, or None.
    """
    layout = RunLayout(Path(run_dir))
    try:
        manifest = read_manifest(layout)
    except SkullVAEError as exc:
        return str(exc)
    sources = dict(manifest.get("sources", {}))
    wanted = [str(p.relative_to(layout.root)) for p in layout.inference_weights()]
    if sorted(sources) != sorted(wanted):
        return f"the ONNX export of {layout.root} was made from {sorted(sources)}, the run now has {wanted}"
    for rel, digest in sources.items():
        path = layout.root / rel
        if not path.is_file() or sha256_file(path) != digest:
            return f"the ONNX export of {layout.root} is out of date: {rel} changed since it was exported"
    for name, digest in dict(manifest.get("files", {})).items():
        path = layout.onnx_dir / name
        if not path.is_file() or sha256_file(path) != digest:
            return f"the ONNX graph {path} is missing or was modified after the export"
    if not layout.onnx_encoder.is_file() or not layout.onnx_decoder.is_file():
        return f"the ONNX export of {layout.root} lacks encoder.onnx or decoder.onnx"
    return None


class OnnxModel:
    """A trained model run by ONNX Runtime on the CPU (NumPy in, NumPy out).

    Args:
        run_dir: run or bundled model folder with a current ONNX export.

    Attributes:
        config: the run's ``config.json``.
        model_id: stable id of the weights.
        has_stage2: whether the decoder is the stage-2 decoder.
        dev_vectors: defect type (and ``"pooled"``) → DEV vector ``[L]`` (NumPy).
        posterior_mean, posterior_var: aggregated-posterior statistics ``[L]``.
        device: always ``"cpu"``; engine: ``"onnxruntime"``.
    """

    engine = "onnxruntime"
    device = "cpu"

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.config = read_run_config(self.run_dir)
        layout = RunLayout(self.run_dir)
        problem = onnx_problem(self.run_dir)
        if problem is not None:
            raise SkullVAEError(problem)
        manifest = read_manifest(layout)
        self.model_id = str(self.config.get("model_id", self.run_dir.name))
        self.has_stage2 = int(manifest.get("decoder_stage", 1)) == 2
        model = self.config["model"]
        self.grid = tuple(int(g) for g in model["grid"])
        self.voxel_mm = float(model["voxel_mm"])
        self.latent_size = int(model["latent_size"])
        self._encoder = make_session(layout.onnx_encoder)
        self._decoder = make_session(layout.onnx_decoder)
        self._check_shapes()
        self.posterior_mean, self.posterior_var, self.dev_vectors = load_latent_stats(layout.latent_stats, self.latent_size)

    def _check_shapes(self) -> None:
        x = self._encoder.get_inputs()[0].shape
        z = self._decoder.get_inputs()[0].shape
        if list(x[1:]) != [1, *self.grid] or list(z[1:]) != [self.latent_size]:
            raise SkullVAEError(
                f"the ONNX graphs of {self.run_dir} (input {x[1:]}, latent {z[1:]}) do not match the model config "
                f"(grid {list(self.grid)}, latent {self.latent_size})")

    def encode_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``[B,1,D,H,W]`` volumes in [0, 1] to ``(mu, logvar)`` each ``[B, L]``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 5 or x.shape[1] != 1 or tuple(x.shape[2:]) != self.grid:
            raise SkullVAEError(f"model input must be [B,1,{','.join(map(str, self.grid))}], got {list(x.shape)}")
        mu, logvar = self._encoder.run(None, {"x": x})
        return mu, logvar

    def decode_array(self, z: np.ndarray) -> np.ndarray:
        """Decode ``[B, L]`` latents to logits ``[B,1,D,H,W]``."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise SkullVAEError(f"latent must be [B,{self.latent_size}], got {list(z.shape)}")
        return self._decoder.run(None, {"z": z})[0]

    def __repr__(self) -> str:
        return f"OnnxModel({self.model_id!r}, grid={list(self.grid)}, voxel_mm={self.voxel_mm}, stage2={self.has_stage2})"
