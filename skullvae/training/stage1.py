"""Stage 1: train the VAE (encoder + decoder) with one of the objectives.

Trains on complete and defective skulls of the manifest's ``train`` split together
(as Li et al. did), validates on the held-out split (``val``, else ``test``), and
finally writes the aggregated-posterior statistics, DEV vectors and latent report.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from skullvae.data.dataset import GridDataset
from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_write_text
from skullvae.model.checkpoint import save_weights
from skullvae.model.run_layout import RUN_FORMAT, RUN_FORMAT_VERSION, RunLayout
from skullvae.model.vae import SkullVAE, VAEConfig
from skullvae.objectives import build_objective
from skullvae.preprocessing.model_grid import VAULT_DEPTH_MM
from skullvae.training.common import auto_voxel_mm, finalize_latent, heldout_dice, load_caches, update_config
from skullvae.training.distributed import barrier, init_distributed, shutdown
from skullvae.training.loop import LoopSettings, train_loop
from skullvae.training.resume import check_resume_options, epochs_done, resolve_resume_epochs
from skullvae.training.state import seed_everything


def _new_config(manifest: Path, model_cfg: VAEConfig, objective: dict, settings: LoopSettings, shift: int) -> dict:
    mid = hashlib.sha256(json.dumps([str(manifest), model_cfg.to_dict(), objective, settings.seed, time.time()],
                                    default=str).encode()).hexdigest()[:12]
    return {
        "format": RUN_FORMAT, "version": RUN_FORMAT_VERSION, "model_id": f"skullvae-{mid}",
        "grid": list(model_cfg.grid), "voxel_mm": model_cfg.voxel_mm, "latent_size": model_cfg.latent_size,
        "model": model_cfg.to_dict(), "objective": objective,
        "data": {"manifest": str(manifest.resolve()), "train_split": "train", "shift": shift},
        "frame": {"function": "skullvae.preprocessing.model_grid.frame_for", "vault_depth_mm": VAULT_DEPTH_MM,
                  "pairs": "complete skull resampled in the defective skull's frame"},
        "stage1": {"epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr,
                   "seed": settings.seed},
    }


def train_stage1(manifest: str | Path, out_dir: str | Path, *, objective: str = "beta", objective_params: dict | None = None,
                 grid: int | tuple = 64, voxel_mm: float | None = None, latent_size: int = 32,
                 channels: tuple[int, ...] = (8, 16, 32, 64), strides: tuple[int, ...] | None = None,
                 norm: str = "instance", num_res_units: int = 0, shift: int = 2,
                 settings: LoopSettings | None = None, resume: bool = False, requested: dict | None = None) -> dict:
    """Run stage 1 into ``out_dir``.

    Args:
        manifest: dataset manifest JSON.
        out_dir: run folder (created; must not hold a run unless ``resume``).
        objective: ``beta``, ``sigma``, ``balanced`` or ``mog``.
        objective_params: objective constructor arguments (e.g. ``{"beta": 100}``).
        grid: model grid (int or 3 ints).
        voxel_mm: model voxel size; None chooses one that fits the largest training skull.
        latent_size, channels, strides, norm, num_res_units: architecture.
        shift: augmentation shift in voxels.
        settings: loop settings.
        resume: continue an interrupted run (its stored config is kept).
        requested: on resume, the options the user gave again (names as in
            :data:`~skullvae.training.resume.STAGE1_STORED`, plus ``epochs`` and
            ``data``): a changed one is refused, a larger ``epochs`` extends the run
            (see :mod:`skullvae.training.resume`).

    Returns:
        Summary dict (times, final metrics, latent KL).
    """
    settings = settings or LoopSettings()
    layout = RunLayout(Path(out_dir))
    info = init_distributed(settings.device)
    try:
        if resume:
            if not layout.config.is_file():
                raise SkullVAEError(f"cannot resume: {out_dir} has no config.json")
            config = json.loads(layout.config.read_text())
            manifest = Path(config["data"]["manifest"])
            model_cfg = VAEConfig.from_dict(config["model"])
            obj_cfg = dict(config["objective"])
            shift = int(config["data"].get("shift", 0))
            s1 = config["stage1"]
            requested = dict(requested or {})
            check_resume_options(config, 1, requested)
            done = epochs_done(layout.metrics_csv(1))
            total = resolve_resume_epochs(int(s1["epochs"]), requested.get("epochs"), done, 1)
            if total != s1["epochs"] and info.is_main:
                update_config(layout, {"stage1": {**s1, "epochs": total}})
            settings.epochs, settings.batch_size, settings.lr, settings.seed = total, s1["batch_size"], s1["lr"], s1["seed"]
        else:
            if layout.config.is_file():
                raise SkullVAEError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
            manifest = Path(manifest)
            if not manifest.exists():
                raise SkullVAEError(f"manifest not found: {manifest}")
            grid3 = tuple(grid) if isinstance(grid, (tuple, list)) else (int(grid),) * 3
            vmm = voxel_mm if voxel_mm is not None else auto_voxel_mm(str(manifest), grid3)
            model_cfg = VAEConfig(grid=grid3, voxel_mm=float(vmm), channels=tuple(channels),
                                  strides=tuple(strides) if strides else (2,) * len(channels),
                                  latent_size=latent_size, norm=norm, num_res_units=num_res_units)
            obj_cfg = build_objective(objective, **(objective_params or {})).config()
            config = _new_config(manifest, model_cfg, obj_cfg, settings, shift)
            if info.is_main:
                layout.root.mkdir(parents=True, exist_ok=True)
                atomic_write_text(layout.config, json.dumps(config, indent=1))
            barrier(info)
        t0 = time.perf_counter()
        train, val = load_caches(str(manifest), model_cfg.grid, model_cfg.voxel_mm, layout.root / "cache",
                                 progress=settings.progress and info.is_main)
        t_data = time.perf_counter() - t0
        seed_everything(settings.seed)
        model = SkullVAE(model_cfg)
        obj_params = {k: v for k, v in obj_cfg.items() if k != "name"}
        obj = build_objective(obj_cfg["name"], **obj_params).to(settings.device)
        dataset = GridDataset(train.volumes, shift=shift, seed=settings.seed)

        def forward(call, x, idx, step):
            logits, mu, logvar, _ = call(x)
            loss, logs = obj(logits, x, mu, logvar, step)
            return loss, logs, logits

        def save():
            tensors = {f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}
            tensors.update({f"decoder.{k}": v for k, v in model.decoder.state_dict().items()})
            save_weights(layout.stage1_weights, tensors, {"model": model_cfg.to_dict()})

        t1 = time.perf_counter()
        history = train_loop(name="stage 1", module=model, forward=forward, dataset=dataset, objective=obj,
                             settings=settings, info=info, state_path=layout.train_state(1), save_weights=save,
                             csv_path=layout.metrics_csv(1), png_path=layout.loss_curve(1),
                             evaluate=lambda: heldout_dice(model.encoder, model.decoder, val, settings.device),
                             resume=resume)
        t_train = time.perf_counter() - t1
        summary = {"data_s": t_data, "train_s": t_train, "epochs_done": history[-1]["epoch"] if history else 0,
                   "epochs_total": settings.epochs, "epochs_before": done if resume else 0,
                   "final": history[-1] if history else {}}
        finished = bool(history) and history[-1]["epoch"] >= settings.epochs
        if info.is_main and finished:
            report = finalize_latent(model.encoder, train, settings.device, layout, {"stage": 1})
            summary["latent"] = {k: report[k] for k in ("kl_moment_matched", "kl_monte_carlo", "kl_per_sample_mean")}
            update_config(layout, {"stage1_result": {**summary, "final": history[-1]}})
        barrier(info)
        return summary
    finally:
        shutdown(info)
