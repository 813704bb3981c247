"""File names inside a run folder (and a bundled model, which has the same layout).

::

    RUN_DIR/
      config.json                    model config, grid, objective, training settings
      stage1/model.safetensors       encoder.* + decoder.* (stage-1 VAE)
      stage1/train_state.safetensors resume state (optimiser, scheduler, RNG, counters)
      stage1/metrics.csv, loss_curve.png
      stage2/decoder.safetensors     the decoupled stage-2 decoder
      stage2/train_state.safetensors, metrics.csv, loss_curve.png
      latent/latent_stats.safetensors  posterior statistics + DEV vectors
      latent/report.json, latent/histograms.png
      onnx/encoder.onnx, onnx/decoder.onnx  CPU inference export of the weights above
      onnx/manifest.json             hashes of the weights it was exported from, check results
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RUN_FORMAT = "skullvae-run"
RUN_FORMAT_VERSION = 1


@dataclass(frozen=True)
class RunLayout:
    """Paths of one run folder.

    Args:
        root: the run folder.
    """

    root: Path

    @property
    def config(self) -> Path:
        """``config.json``."""
        return self.root / "config.json"

    def stage_dir(self, stage: int) -> Path:
        """``stage1/`` or ``stage2/``."""
        return self.root / f"stage{stage}"

    @property
    def stage1_weights(self) -> Path:
        """Stage-1 VAE weights."""
        return self.stage_dir(1) / "model.safetensors"

    @property
    def stage2_weights(self) -> Path:
        """Stage-2 decoder weights."""
        return self.stage_dir(2) / "decoder.safetensors"

    def inference_weights(self) -> list[Path]:
        """The weights inference loads: stage-1 weights, and the stage-2 decoder when the run has one."""
        return [self.stage1_weights] + ([self.stage2_weights] if self.stage2_weights.is_file() else [])

    def train_state(self, stage: int) -> Path:
        """Resume state of a stage."""
        return self.stage_dir(stage) / "train_state.safetensors"

    def metrics_csv(self, stage: int) -> Path:
        """Per-epoch metrics of a stage."""
        return self.stage_dir(stage) / "metrics.csv"

    def loss_curve(self, stage: int) -> Path:
        """Loss curve PNG of a stage."""
        return self.stage_dir(stage) / "loss_curve.png"

    @property
    def latent_dir(self) -> Path:
        """``latent/``."""
        return self.root / "latent"

    @property
    def latent_stats(self) -> Path:
        """Posterior statistics and DEV vectors."""
        return self.latent_dir / "latent_stats.safetensors"

    @property
    def onnx_dir(self) -> Path:
        """``onnx/``: the ONNX Runtime export (see :mod:`skullvae.model.onnx_export`)."""
        return self.root / "onnx"

    @property
    def onnx_encoder(self) -> Path:
        """Encoder graph: ``x [B,1,D,H,W]`` → ``mu, logvar [B, L]``."""
        return self.onnx_dir / "encoder.onnx"

    @property
    def onnx_decoder(self) -> Path:
        """Decoder graph: ``z [B, L]`` → ``logits [B,1,D,H,W]``."""
        return self.onnx_dir / "decoder.onnx"

    @property
    def onnx_manifest(self) -> Path:
        """Hashes of the source weights and of the graphs, and the export check."""
        return self.onnx_dir / "manifest.json"
