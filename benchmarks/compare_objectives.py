"""The stage-1 objectives and the two-stage aggregate compared on one data set, grid and budget.

Methods (``--methods``, all by default):

* ``beta_small`` — ``beta`` with a small β (``--beta-small``, default 1e-4, as Li et al.'s 0.0001);
* ``beta_large`` — ``beta`` with a large β (``--beta-large``, default 100, Li et al.'s stage 1);
* ``sigma`` — σ-VAE with the optimal σ (Rybkin et al.);
* ``balanced`` — Asperti & Trentin's balanced VAE (γ² = running MSE);
* ``mog`` — Rivera's aggregate-posterior KL + variance term + PatchGAN;
* ``two_stage`` — the ``beta_large`` encoder with a decoupled stage-2 decoder (Li et al. 2022; a copy
  of the ``beta_large`` run trained on by ``train_stage2``).

Every stage-1 method trains ``--epochs`` epochs (one budget in steps; the wall time is
reported, ``mog`` pays for its discriminator), ``two_stage`` adds ``--stage2-epochs``.
Per method the script measures:

* reconstruction Dice of decode(μ(x)) on the held-out complete skulls (``--heldout`` split);
* KL(q(z) ‖ N(0, I)) of the aggregate posterior of the training volumes
  (:func:`skullvae.latent.report.latent_report`: moment-matched Gaussian and Monte Carlo);
* per-dimension normality of draws from q(z): dims rejecting D'Agostino–Pearson at 0.01,
  median |skew|, median |excess kurtosis|, median Kolmogorov–Smirnov distance to N(0, 1);
* prior-sample quality: ``--prior-samples`` draws z ~ N(0, I) decoded and thresholded;
  the fraction that is *one connected, skull-like component* (the largest 26-connected
  piece holds ≥ 95 % of the bone and the bone volume is within 0.5–2× the training
  skulls' mean), and the mean Dice to the nearest training complete skull;
* completion DSC / bDSC / HD95 without a defect type, via ``skullvae evaluate``'s scorer
  (``--eval-modes``, default ``dev,dev:norim``) on ``--eval-split``, and with ``--real
  MANIFEST`` on the real-skull benchmark too (``--real-modes``, default ``dev``,
  ``--match-components``);
* training time;
* with ``--sweep-betas B1,B2``: a β-VAE and a two-stage model at each β (held-out Dice and
  KL only), for Li et al.'s claim that the two-stage method needs no β tuning; with
  ``--sweep-only`` only the sweep runs (written to ``OUT/sweep.json`` and ``OUT/sweep.md``),
  so that it can be its own step beside a finished comparison.

Writes ``OUT/objectives.json``, ``OUT/objectives.md``, ``OUT/runs/<method>/`` and
``OUT/eval/<method>/`` (resumable: a finished run or evaluation is reused).

Usage::

    python benchmarks/compare_objectives.py DATA/manifest.json --out OUT --grid 64,80,64 --voxel-mm 2.8 \\
        --epochs 25 --stage2-epochs 20 [--methods beta_large,two_stage] [--eval-limit 6]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError

METHODS = ("beta_small", "beta_large", "sigma", "balanced", "mog", "two_stage")


def _stage1(method: str, args) -> tuple[str, dict]:
    if method.startswith("beta@"):  # a point of the beta sweep
        return "beta", {"beta": float(method[5:])}
    return {"beta_small": ("beta", {"beta": args.beta_small}), "beta_large": ("beta", {"beta": args.beta_large}),
            "sigma": ("sigma", {}), "balanced": ("balanced", {}), "mog": ("mog", {"warmup": args.mog_warmup})}[method]


def train_method(method: str, args, runs: Path) -> dict:
    """Train one method (or reuse a finished run); returns ``{"run", "train_s"}``."""
    from skullvae.training import LoopSettings, train_stage1, train_stage2
    from skullvae.training.common import resolve_device

    run = runs / method
    done = run / "done.json"
    if done.is_file():
        return json.loads(done.read_text())

    def settings(epochs, seed):
        return LoopSettings(epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
                            device=resolve_device(args.device), progress=False)

    if method.startswith("two_stage"):  # two_stage: on beta_large; two_stage@B: on beta@B
        base = train_method("beta_large" if method == "two_stage" else "beta@" + method.split("@")[1], args, runs)
        if run.exists():
            shutil.rmtree(run)
        shutil.copytree(base["run"], run, ignore=shutil.ignore_patterns("done.json", "onnx", "stage2"))
        summary = train_stage2(run, settings=settings(args.stage2_epochs, args.seed), export_onnx=False)
        result = {"run": str(run), "train_s": base["train_s"] + summary["train_s"], "stage2_s": summary["train_s"]}
    else:
        if run.exists():
            shutil.rmtree(run)
        objective, params = _stage1(method, args)
        summary = train_stage1(args.manifest, run, objective=objective, objective_params=params, grid=args.grid,
                               voxel_mm=args.voxel_mm, latent_size=args.latent, channels=args.channels,
                               settings=settings(args.epochs, args.seed))
        result = {"run": str(run), "train_s": summary["train_s"]}
    done.write_text(json.dumps(result))
    return result


def latent_metrics(model, train_cache) -> dict:
    """KL of the aggregate posterior and per-dimension normality of draws from it."""
    from scipy import stats

    from skullvae.latent.report import latent_report
    from skullvae.latent.stats import encode_volumes

    mu, logvar = encode_volumes(model.encoder, train_cache.volumes, model.device)
    rep = latent_report(mu, logvar, n_mc=2048)
    z = rep.pop("samples")
    ks = [stats.kstest(z[:, d], "norm").statistic for d in range(z.shape[1])]
    return {"kl_moment_matched": rep["kl_moment_matched"], "kl_monte_carlo": rep["kl_monte_carlo"],
            "kl_per_sample_mean": rep["kl_per_sample_mean"], "latent_size": rep["latent_size"],
            "dims_non_normal_0.01": rep["dims_rejecting_normality_at_0.01"],
            "median_abs_skew": float(np.median(np.abs(stats.skew(z, axis=0)))),
            "median_abs_excess_kurtosis": float(np.median(np.abs(stats.kurtosis(z, axis=0)))),
            "median_ks_to_n01": float(np.median(ks))}


def prior_sample_metrics(model, train_cache, n: int, seed: int) -> dict:
    """One-component skull-like fraction and Dice to the nearest training skull of N(0, I) draws."""
    import torch
    from scipy import ndimage

    from skullvae.data.dataset import COMPLETE

    complete = train_cache.volumes[train_cache.indices(COMPLETE)] > 0
    mean_bone = float(complete.reshape(len(complete), -1).sum(1).mean())
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.vae_config.latent_size, generator=g)
    skull_like, dices = 0, []
    for i in range(0, n, 8):
        probs = torch.sigmoid(model.decode(z[i : i + 8])).cpu().numpy()[:, 0]
        for p in probs:
            bone = p >= 0.5
            total = int(bone.sum())
            if total:
                labels, count = ndimage.label(bone, structure=np.ones((3, 3, 3)))
                largest = np.bincount(labels.ravel())[1:].max()
                skull_like += int(largest >= 0.95 * total and 0.5 * mean_bone <= total <= 2 * mean_bone)
            inter = (complete & bone[None]).reshape(len(complete), -1).sum(1)
            denom = complete.reshape(len(complete), -1).sum(1) + total
            dices.append(float(np.max(2 * inter / np.maximum(denom, 1))))
    return {"prior_samples": n, "prior_skull_like_fraction": skull_like / n,
            "prior_dice_to_nearest_training": float(np.mean(dices))}


def evaluate_method(method: str, model, out: Path, manifest: Path, split: str, modes_text: str, limit: int | None,
                    types: list[str] | None = None, match_components: bool = False) -> dict:
    """Completion scores without defect type via the evaluator; mean DSC / bDSC and median HD95 per mode."""
    from skullvae.data.manifest import load_manifest
    from skullvae.evaluation import evaluate, evaluation_cases, mode_completers, parse_modes

    modes = parse_modes(modes_text)
    cases = evaluation_cases(load_manifest(manifest), split, types, limit)
    settings = {"data": str(Path(manifest).resolve()), "split": split, "model": f"{method}:{model.model_id}",
                "defect_type_hint": False, "types": types, "limit": limit}
    rows = evaluate(cases, mode_completers(modes, model), out, settings=settings, match_components=match_components)
    keys = {c.key for c in cases}
    result = {}
    for m in modes:
        rs = [r for r in rows if r["mode"] == m and (r["skull_id"], r["defect_type"]) in keys]
        result[m] = {"n": len(rs), "dsc": float(np.mean([r["dsc"] for r in rs])),
                     "bdsc": float(np.mean([r["bdsc"] for r in rs])),
                     "hd95_median": float(np.median([r["hd95"] for r in rs])),
                     "no_implant": int(sum(r["failed"] for r in rs))}
    return result


def measure(method: str, trained: dict, args, out: Path, caches) -> dict:
    """Every metric of one trained method."""
    from skullvae.model import load_model
    from skullvae.training.common import heldout_dice

    model = load_model(trained["run"], device="cpu")  # a stage-1-only run decodes with its own decoder
    train_cache, heldout = caches
    row = {"method": method, "run": trained["run"], "train_s": trained["train_s"], "objective": model.config["objective"],
           "stage2": model.has_stage2}
    row["heldout_dice_complete"] = heldout_dice(model.encoder, model.decoder, heldout, model.device).get("val_dice_complete")
    row.update(latent_metrics(model, train_cache))
    row.update(prior_sample_metrics(model, train_cache, args.prior_samples, args.seed))
    row["completion"] = evaluate_method(method, model, out / "eval" / method, args.manifest, args.eval_split,
                                        args.eval_modes, args.eval_limit)
    if args.real is not None:
        types = [t.strip() for t in args.real_types.split(",")] if args.real_types else None
        row["completion_real"] = evaluate_method(method, model, out / "eval_real" / method, args.real, "test",
                                                 args.real_modes, args.real_limit, types, match_components=True)
    return row


def sweep_rows(args, caches) -> list[dict]:
    """The β sweep (``--sweep-betas``): β-VAE and two-stage at each β; held-out Dice and KL only."""
    from skullvae.model import load_model
    from skullvae.training.common import heldout_dice

    out = []
    for beta in args.sweep_betas:
        row: dict = {"value": beta}
        for arm in ("beta", "two_stage"):
            trained = train_method(f"{arm}@{beta:g}", args, args.out / "runs")
            model = load_model(trained["run"], device="cpu")
            latent = latent_metrics(model, caches[0])
            row[arm] = {"train_s": trained["train_s"], "kl_moment_matched": latent["kl_moment_matched"],
                        "dims_non_normal_0.01": latent["dims_non_normal_0.01"],
                        "heldout_dice_complete": heldout_dice(model.encoder, model.decoder, caches[1],
                                                              model.device).get("val_dice_complete")}
        out.append(row)
    return out


def sweep_markdown(rows: list[dict]) -> str:
    """The β sweep as a table (one row per β)."""
    lines = ["| β | β-VAE held-out Dice | two-stage held-out Dice | KL(q‖N) nats (the same encoder) | non-normal dims | "
             "train s (β-VAE / two-stage) |", "|---|---|---|---|---|---|"]
    for r in rows:
        b, t = r["beta"], r["two_stage"]
        lines.append(f"| {r['value']:g} | {b['heldout_dice_complete']:.3f} | {t['heldout_dice_complete']:.3f} | "
                     f"{t['kl_moment_matched']:.1f} | {t['dims_non_normal_0.01']} | {b['train_s']:.0f} / {t['train_s']:.0f} |")
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict], modes: list[str], real_modes: list[str] = ()) -> str:
    """The comparison table (one row per method; completion on the real-skull benchmark when run)."""
    columns = [("completion", m, m) for m in modes] + [("completion_real", m, f"real {m}") for m in real_modes]
    head = ("| method | train s | held-out recon Dice | KL(q‖N) mm / MC nats | non-normal dims | med. abs skew / "
            "exc. kurt. | med. KS | prior: skull-like / Dice to nearest | " + " | ".join(
                f"{label} DSC / bDSC / HD95 med." for _, _, label in columns) + " |")
    lines = [head, "|" + "---|" * (8 + len(columns))]
    for r in rows:
        comp = [r.get(key, {}).get(m, {}) for key, m, _ in columns]
        cells = [f"{c['dsc']:.3f} / {c['bdsc']:.3f} / {c['hd95_median']:.2f}" if c else "–" for c in comp]
        lines.append(
            f"| {r['method']} | {r['train_s']:.0f} | {r['heldout_dice_complete']:.3f} | "
            f"{r['kl_moment_matched']:.1f} / {r['kl_monte_carlo']:.1f} | {r['dims_non_normal_0.01']}/{r['latent_size']} | "
            f"{r['median_abs_skew']:.2f} / {r['median_abs_excess_kurtosis']:.2f} | {r['median_ks_to_n01']:.3f} | "
            f"{r['prior_skull_like_fraction']:.2f} / {r['prior_dice_to_nearest_training']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--grid", default="64,80,64")
    parser.add_argument("--voxel-mm", type=float, default=2.8)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--channels", default="8,16,32,64")
    parser.add_argument("--epochs", type=int, default=25, help="stage-1 epochs of every method (the budget)")
    parser.add_argument("--stage2-epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--beta-small", type=float, default=1e-4)
    parser.add_argument("--beta-large", type=float, default=100.0)
    parser.add_argument("--mog-warmup", type=int, default=200)
    parser.add_argument("--heldout", default="test", help="split for the reconstruction Dice")
    parser.add_argument("--eval-split", default="test")
    parser.add_argument("--eval-modes", default="dev,dev:norim")
    parser.add_argument("--eval-limit", type=int, default=None, help="at most this many skulls in the completion scores")
    parser.add_argument("--real", type=Path, default=None, help="also score completion on this real-skull benchmark")
    parser.add_argument("--real-modes", default="dev")
    parser.add_argument("--real-limit", type=int, default=None)
    parser.add_argument("--real-types", default=None)
    parser.add_argument("--sweep-betas", default="", help="comma-separated β values: β-VAE and two-stage at each "
                        "(held-out Dice and KL only), for the claim that the two-stage method needs no β tuning")
    parser.add_argument("--sweep-only", action="store_true", help="run only the β sweep: OUT/sweep.json, OUT/sweep.md")
    parser.add_argument("--prior-samples", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("skullvae.completion.modes").setLevel(logging.ERROR)  # "reconstructs poorly", per case
    ints = lambda s: tuple(int(v) for v in s.replace("x", ",").split(",") if v.strip())  # noqa: E731
    grid = ints(args.grid)
    args.grid = grid if len(grid) == 3 else (grid[0],) * 3
    args.channels = ints(args.channels)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        args.sweep_betas = [float(b) for b in args.sweep_betas.split(",") if b.strip()]
    except ValueError:
        raise SkullVAEError(f"--sweep-betas must be comma-separated numbers, got {args.sweep_betas!r}") from None
    if args.sweep_only and not args.sweep_betas:
        raise SkullVAEError("--sweep-only needs --sweep-betas")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise SkullVAEError(f"unknown method(s) {', '.join(bad)} (choose from {', '.join(METHODS)})")
    from skullvae.data.dataset import build_cache
    from skullvae.data.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    caches = (build_cache(manifest, "train", args.grid, args.voxel_mm, progress=False, cache_dir=args.out / "cache"),
              build_cache(manifest, args.heldout, args.grid, args.voxel_mm, progress=False, with_pairs=False,
                          cache_dir=args.out / "cache"))
    started = time.perf_counter()
    from skullvae.io.atomic import atomic_write_text

    if args.sweep_only:
        sweep = sweep_rows(args, caches)
        atomic_write_text(args.out / "sweep.json", json.dumps({"sweep": sweep, "wall_s": time.perf_counter() - started},
                                                              indent=1, default=str) + "\n")
        table = sweep_markdown(sweep)
        atomic_write_text(args.out / "sweep.md", table)
        print(table)
        return 0
    rows = []
    for method in methods:
        trained = train_method(method, args, args.out / "runs")
        rows.append(measure(method, trained, args, args.out, caches))
        print(f"{method}: trained in {trained['train_s']:.0f} s, held-out Dice {rows[-1]['heldout_dice_complete']:.3f}, "
              f"KL {rows[-1]['kl_moment_matched']:.1f}", file=sys.stderr, flush=True)
    modes = [m.strip() for m in args.eval_modes.split(",") if m.strip()]
    real_modes = [m.strip() for m in args.real_modes.split(",") if m.strip()] if args.real is not None else []
    settings = {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    sweep = sweep_rows(args, caches) if args.sweep_betas else []
    result = {"settings": settings, "methods": rows, "sweep": sweep, "wall_s": time.perf_counter() - started}

    atomic_write_text(args.out / "objectives.json", json.dumps(result, indent=1, default=str) + "\n")
    table = markdown(rows, modes, real_modes)
    if sweep:
        table += "\nβ sweep (`--sweep-betas`):\n\n" + sweep_markdown(sweep)
    atomic_write_text(args.out / "objectives.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    from _script import run

    run(main, __file__)
