"""How close the aggregated posterior is to the prior N(0, I).

For the mixture ``q(z) = 1/N Σ_i N(μ_i, σ_i²)`` of the training volumes:

* per-dimension mean and variance (law of total variance);
* ``kl_moment_matched``: KL(N(m, diag v) ‖ N(0, I)) of the Gaussian with the same
  per-dimension moments, ``½ Σ_d (m² + v − 1 − ln v)`` (ignores non-Gaussianity and
  correlations);
* ``kl_monte_carlo``: a Monte-Carlo estimate of KL(q(z) ‖ N(0, I)) =
  E_q[ln q(z) − ln N(z; 0, I)] with ``ln q`` the exact mixture density (log-sum-exp
  over the N components), from ``n_mc`` draws; biased low-variance but honest
  about correlations and multi-modality;
* ``kl_per_sample_mean``: the mean per-sample KL(q(z|x) ‖ N(0, I)) (the ELBO term);
* D'Agostino–Pearson normality p-values (``scipy.stats.normaltest``) per dimension
  of draws from q(z);
* a histogram PNG of those draws per dimension against the N(0, 1) density.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from skullvae.io.atomic import atomic_path, atomic_write_text
from skullvae.objectives.base import kl_normal


def _mixture_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``ln 1/N Σ_i N(z; μ_i, σ_i²)`` for each row of ``z`` ``[M, L]``."""
    var = logvar.exp()
    out = []
    for chunk in z.split(256):
        diff = chunk[:, None, :] - mu[None]
        logp = -0.5 * (diff.pow(2) / var[None] + logvar[None] + math.log(2 * math.pi)).sum(-1)
        out.append(torch.logsumexp(logp, dim=1) - math.log(mu.shape[0]))
    return torch.cat(out)


def latent_report(mu: torch.Tensor, logvar: torch.Tensor, n_mc: int = 4096, seed: int = 0) -> dict:
    """Statistics of the aggregated posterior (see the module docstring).

    Args:
        mu, logvar: ``[N, L]`` posterior parameters of the training volumes.
        n_mc: Monte-Carlo draws from q(z).
        seed: seed of the draws.

    Returns:
        JSON-able dict; ``"samples"`` is added as an ndarray for plotting.
    """
    from scipy import stats

    mu, logvar = mu.double(), logvar.double()
    g = torch.Generator().manual_seed(seed)
    comp = torch.randint(0, mu.shape[0], (n_mc,), generator=g)
    z = mu[comp] + (0.5 * logvar[comp]).exp() * torch.randn(n_mc, mu.shape[1], generator=g, dtype=torch.float64)
    m = mu.mean(0)
    v = mu.var(0, unbiased=False) + logvar.exp().mean(0)
    kl_mm = 0.5 * (m.pow(2) + v - 1 - v.log()).sum()
    log_prior = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
    kl_mc = (_mixture_log_density(z, mu, logvar) - log_prior).mean()
    pvals = stats.normaltest(z.numpy(), axis=0).pvalue
    return {
        "n_volumes": int(mu.shape[0]),
        "latent_size": int(mu.shape[1]),
        "mean": m.tolist(),
        "var": v.tolist(),
        "mu_var": mu.var(0, unbiased=False).tolist(),
        "mean_sigma2": logvar.exp().mean(0).tolist(),
        "kl_moment_matched": float(kl_mm),
        "kl_monte_carlo": float(kl_mc),
        "kl_monte_carlo_draws": int(n_mc),
        "kl_per_sample_mean": float(kl_normal(mu, logvar).mean()),
        "normaltest_pvalues": [float(p) for p in pvals],
        "dims_rejecting_normality_at_0.01": int(np.sum(pvals < 0.01)),
        "samples": z.numpy(),
    }


def plot_latent_histograms(samples: np.ndarray, path: Path, title: str = "aggregated posterior") -> Path:
    """One histogram per latent dimension with the N(0, 1) density (PNG, atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = samples.shape[1]
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.5 * rows), squeeze=False)
    xs = np.linspace(-4, 4, 200)
    for d in range(rows * cols):
        ax = axes[d // cols][d % cols]
        ax.set_xticks([])
        ax.set_yticks([])
        if d >= n:
            ax.axis("off")
            continue
        ax.hist(samples[:, d], bins=40, range=(-4, 4), density=True, color="tab:blue", alpha=0.7)
        ax.plot(xs, np.exp(-xs**2 / 2) / np.sqrt(2 * np.pi), color="k", lw=0.8)
        ax.set_title(f"z{d}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return path


def write_latent_report(mu: torch.Tensor, logvar: torch.Tensor, out_dir: Path, extra: dict | None = None) -> dict:
    """Compute :func:`latent_report`, write ``report.json`` and ``histograms.png`` into ``out_dir``.

    Returns:
        The report (without the samples).
    """
    report = latent_report(mu, logvar)
    samples = report.pop("samples")
    report.update(extra or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=1))
    plot_latent_histograms(samples, out_dir / "histograms.png",
                           f"q(z): KL_mm={report['kl_moment_matched']:.2f}, KL_mc={report['kl_monte_carlo']:.2f} nats")
    return report
