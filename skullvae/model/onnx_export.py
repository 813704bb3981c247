"""Export a trained model to ONNX for fast CPU inference (``RUN_DIR/onnx/``).

``skullvae complete`` on the CPU runs the exported graphs with ONNX Runtime, which
starts in about 0.1 s, instead of importing torch and MONAI (several seconds on a
laptop-class CPU). The export holds the same weights as the safetensors files:

* ``encoder.onnx``: ``x [B,1,D,H,W]`` → ``mu, logvar [B, L]`` (stage-1 encoder);
* ``decoder.onnx``: ``z [B, L]`` → ``logits [B,1,D,H,W]`` (stage-2 decoder, or the
  stage-1 decoder of a run without stage 2);
* ``manifest.json``: SHA-256 of the weights files the graphs were made from and
  of the graphs themselves, and the largest difference to torch measured on
  a decoded skull and on random inputs when exporting (the export is refused
  above :data:`TOLERANCE`).

A run whose weights change after the export (e.g. stage 2 re-trained) no longer
matches the manifest, and completion falls back to torch until it is exported again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import staged_folder
from skullvae.model.files import sha256_file
from skullvae.model.inventory import CHECKSUMS, write_checksums
from skullvae.model.onnx_model import ONNX_FORMAT, make_session
from skullvae.model.run_layout import RunLayout

ONNX_FORMAT_VERSION = 1
OPSET = 18
#: Largest accepted difference between ONNX Runtime and torch: ``mu``/``logvar`` and
#: the decoded bone probability (sigmoid of the logits).
TOLERANCE = 1e-3


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's progress lines and warnings (they are not the user's concern)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _export_graph(module, example, path: Path, input_name: str, output_names: list[str]) -> None:
    import torch

    batch = torch.export.Dim("batch", min=1, max=4096)
    with _quiet_exporter():
        torch.onnx.export(module, (example,), str(path), input_names=[input_name], output_names=output_names,
                          dynamic_shapes={input_name: {0: batch}}, opset_version=OPSET, dynamo=True,
                          external_data=False, verbose=False)


def _check_against_torch(model, folder: Path) -> dict[str, float]:
    """Run both engines on a decoded skull, random volumes and random latents; return max differences."""
    import torch

    rng = np.random.default_rng(0)
    latent = model.vae_config.latent_size
    z = np.concatenate([model.posterior_mean.cpu().numpy()[None], rng.standard_normal((2, latent))]).astype(np.float32)
    skull = (model.decode_array(z[:1]) > 0).astype(np.float32)
    x = np.concatenate([skull, (rng.random((1, 1, *model.grid)) > 0.7).astype(np.float32)])
    encoder, decoder = make_session(folder / "encoder.onnx"), make_session(folder / "decoder.onnx")
    mu, logvar = encoder.run(None, {"x": x})
    ref_mu, ref_logvar = model.encode_array(x)
    logits = decoder.run(None, {"z": z})[0]
    ref_logits = model.decode_array(z)
    sig = torch.sigmoid
    prob_diff = float((sig(torch.from_numpy(logits)) - sig(torch.from_numpy(ref_logits))).abs().max())
    return {"mu": float(np.abs(mu - ref_mu).max()), "logvar": float(np.abs(logvar - ref_logvar).max()),
            "probability": prob_diff, "logits": float(np.abs(logits - ref_logits).max())}


def export_onnx(run_dir: str | os.PathLike, overwrite: bool = True) -> Path:
    """Export the model of a run folder to ``RUN_DIR/onnx/`` and check it against torch.

    Args:
        run_dir: a run folder (or bundled model folder) with at least stage-1 weights.
        overwrite: replace an existing export (default); False refuses.

    Returns:
        The ``onnx/`` folder.

    Raises:
        SkullVAEError: not a run folder, an export exists and ``overwrite`` is False,
            or ONNX Runtime disagrees with torch by more than :data:`TOLERANCE`.
    """
    import torch

    from skullvae.model.load import TrainedModel

    layout = RunLayout(Path(run_dir))
    model = TrainedModel(layout.root, device="cpu")
    if layout.onnx_dir.exists() and not overwrite:
        raise SkullVAEError(f"{layout.onnx_dir} exists (pass --overwrite to export again)")
    with staged_folder(layout.onnx_dir) as staging:  # a killed export's leftovers are removed by the next one
        with torch.no_grad():
            x = torch.zeros((2, 1, *model.grid))
            z = torch.zeros((2, model.vae_config.latent_size))
            _export_graph(model.encoder, x, staging / "encoder.onnx", "x", ["mu", "logvar"])
            _export_graph(model.decoder, z, staging / "decoder.onnx", "z", ["logits"])
        diffs = _check_against_torch(model, staging)
        if max(diffs["mu"], diffs["logvar"], diffs["probability"]) > TOLERANCE:
            raise SkullVAEError(f"the ONNX export of {layout.root} disagrees with torch ({diffs}); not written")
        import onnxruntime

        manifest = {
            "format": ONNX_FORMAT, "version": ONNX_FORMAT_VERSION, "opset": OPSET, "model_id": model.model_id,
            "decoder_stage": 2 if model.has_stage2 else 1,
            "sources": {str(p.relative_to(layout.root)): sha256_file(p) for p in layout.inference_weights()},
            "files": {name: sha256_file(staging / name) for name in ("encoder.onnx", "decoder.onnx")},
            "check_max_abs_diff": diffs, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if (layout.root / CHECKSUMS).is_file():  # an exported model: its checksums cover the new graphs
        write_checksums(layout.root)
    return layout.onnx_dir
