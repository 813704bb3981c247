"""Stage 2 (Li et al. 2022): a fresh decoder on the frozen stage-1 posterior.

The stage-1 encoder is frozen (eval mode, no gradients); each step encodes the
batch (with the same shift augmentation as stage 1, without which the fresh
decoder over-fits the training posteriors) and draws a *sample*
``z ~ N(μ, σ²)`` from q(z|x) (not the deterministic μ+σ the skullVAE scripts fed
their decoder). A new decoder of the same architecture is trained on the
reconstruction loss only, ``D·(BCE + Dice)`` (no KL). Afterwards the
aggregated-posterior statistics, DEV vectors and latent report are rewritten.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from skullvae.data.dataset import GridDataset
from skullvae.errors import SkullVAEError
from skullvae.model.checkpoint import load_into, load_weights, save_weights
from skullvae.model.load import read_run_config
from skullvae.model.run_layout import RunLayout
from skullvae.model.vae import Decoder, Encoder, VAEConfig
from skullvae.objectives.base import voxels_per_sample
from skullvae.objectives.reconstruction import dice_bce
from skullvae.training.common import finalize_latent, heldout_dice, load_caches, update_config
from skullvae.training.distributed import barrier, init_distributed, shutdown
from skullvae.training.loop import LoopSettings, train_loop
from skullvae.training.resume import check_resume_options, epochs_done, resolve_resume_epochs
from skullvae.training.state import seed_everything

logger = logging.getLogger(__name__)


def load_stage1_encoder(layout: RunLayout, cfg: VAEConfig) -> Encoder:
    """The frozen stage-1 encoder of a run."""
    if not layout.stage1_weights.is_file():
        raise SkullVAEError(f"{layout.root} has no stage-1 weights; run `skullvae train --stage 1` first")
    tensors, _ = load_weights(layout.stage1_weights)
    encoder = Encoder(cfg)
    load_into(encoder, {k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")}, str(layout.stage1_weights))
    return encoder.eval().requires_grad_(False)


def train_stage2(run_dir: str | Path, *, settings: LoopSettings | None = None, resume: bool = False,
                 dice_weight: float = 1.0, export_onnx: bool = True, requested: dict | None = None) -> dict:
    """Run stage 2 in an existing stage-1 run folder.

    Args:
        run_dir: run folder with stage-1 weights.
        settings: loop settings (``epochs``, ``batch_size``, ``lr``, device...).
        resume: continue an interrupted stage 2 (its stored settings are kept).
        requested: on resume, the options the user gave again (``epochs``,
            ``batch_size``, ``lr``, ``seed``): see :mod:`skullvae.training.resume`.
        dice_weight: Dice weight in the reconstruction loss.
        export_onnx: when finished, export the model to ``RUN_DIR/onnx/`` for fast
            CPU completion (a failed export is a warning, not an error).

    Returns:
        Summary dict (time, held-out Dice).
    """
    settings = settings or LoopSettings()
    layout = RunLayout(Path(run_dir))
    config = read_run_config(run_dir)
    cfg = VAEConfig.from_dict(config["model"])
    info = init_distributed(settings.device)
    try:
        if resume:
            if not layout.train_state(2).is_file():
                raise SkullVAEError(f"cannot resume: {run_dir} has no stage-2 state")
            s2 = config.get("stage2", {})
            requested = dict(requested or {})
            check_resume_options(config, 2, requested)
            done = epochs_done(layout.metrics_csv(2))
            settings.epochs = resolve_resume_epochs(int(s2.get("epochs", settings.epochs)), requested.get("epochs"), done, 2)
            if settings.epochs != s2.get("epochs") and info.is_main:
                update_config(layout, {"stage2": {**s2, "epochs": settings.epochs}})
            settings.batch_size = s2.get("batch_size", settings.batch_size)
            settings.lr, settings.seed = s2.get("lr", settings.lr), s2.get("seed", settings.seed)
        elif layout.stage2_weights.is_file():
            raise SkullVAEError(f"{run_dir} already has a stage-2 decoder; pass --resume to continue it")
        encoder = load_stage1_encoder(layout, cfg).to(settings.device)
        encoder = encoder.to(memory_format=torch.channels_last_3d)
        if info.is_main and not resume:
            update_config(layout, {"stage2": {"epochs": settings.epochs, "batch_size": settings.batch_size,
                                              "lr": settings.lr, "seed": settings.seed, "dice_weight": dice_weight}})
        t0 = time.perf_counter()
        train, val = load_caches(config["data"]["manifest"], cfg.grid, cfg.voxel_mm, layout.root / "cache",
                                 progress=settings.progress and info.is_main)
        t_data = time.perf_counter() - t0
        shift = int(config["data"].get("shift", 0))
        seed_everything(settings.seed + 1)
        decoder = Decoder(cfg)
        # the same shift augmentation as stage 1; the frozen encoder runs on the augmented batch
        dataset = GridDataset(train.volumes, shift=shift, seed=settings.seed + 1)

        def forward(call, x, idx, step):
            with torch.no_grad():
                mu, logvar = encoder(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, device=mu.device, dtype=mu.dtype)  # z ~ q(z|x)
            logits = call(z)
            recon = dice_bce(logits, x, dice_weight).mean()
            return voxels_per_sample(x) * recon, {"recon": recon.item()}, logits

        def save():
            save_weights(layout.stage2_weights, decoder.state_dict(), {"model": cfg.to_dict()})

        t1 = time.perf_counter()
        history = train_loop(name="stage 2", module=decoder, forward=forward, dataset=dataset, objective=None,
                             settings=settings, info=info, state_path=layout.train_state(2), save_weights=save,
                             csv_path=layout.metrics_csv(2), png_path=layout.loss_curve(2),
                             evaluate=lambda: heldout_dice(encoder, decoder, val, settings.device), resume=resume)
        summary = {"data_s": t_data, "train_s": time.perf_counter() - t1,
                   "epochs_done": history[-1]["epoch"] if history else 0, "epochs_total": settings.epochs,
                   "epochs_before": done if resume else 0, "final": history[-1] if history else {}}
        finished = bool(history) and history[-1]["epoch"] >= settings.epochs
        if info.is_main and finished:
            report = finalize_latent(encoder, train, settings.device, layout, {"stage": 2})
            summary["latent"] = {k: report[k] for k in ("kl_moment_matched", "kl_monte_carlo", "kl_per_sample_mean")}
            update_config(layout, {"stage2_result": summary})
            if export_onnx:
                summary["onnx"] = _export_for_inference(layout)
        barrier(info)
        return summary
    finally:
        shutdown(info)


def _export_for_inference(layout: RunLayout) -> str:
    """Export the finished run to ONNX; returns the folder, or why it failed (a warning)."""
    from skullvae.model.onnx_export import export_onnx

    try:
        return str(export_onnx(layout.root))
    except Exception as exc:  # noqa: BLE001 - the trained run is complete without it
        logger.warning("ONNX export failed (completion will use torch): %s; retry with: skullvae export-onnx %s",
                       exc, layout.root)
        return f"failed: {exc}"


def stage2_config_summary(run_dir: str | Path) -> dict:
    """The stored stage-2 result of a run (empty if stage 2 has not finished)."""
    return json.loads(RunLayout(Path(run_dir)).config.read_text()).get("stage2_result", {})
