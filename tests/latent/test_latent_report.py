"""Aggregated-posterior statistics, KL estimates, DEV vectors."""

import math

import pytest
import torch

from skullvae.latent.report import latent_report, write_latent_report
from skullvae.latent.stats import aggregate_posterior, dev_vectors


def test_prior_matching_posterior_has_zero_kl():
    mu = torch.zeros(50, 4)
    logvar = torch.zeros(50, 4)
    rep = latent_report(mu, logvar, n_mc=2000)
    assert rep["kl_moment_matched"] == pytest.approx(0.0, abs=1e-9)
    assert rep["kl_monte_carlo"] == pytest.approx(0.0, abs=1e-9)  # q == p exactly
    assert rep["kl_per_sample_mean"] == pytest.approx(0.0, abs=1e-9)
    assert min(rep["normaltest_pvalues"]) > 1e-4


def test_shifted_posterior_kl():
    c = 1.5
    mu = torch.full((10, 3), c)
    logvar = torch.zeros(10, 3)
    rep = latent_report(mu, logvar, n_mc=4000)
    assert rep["kl_moment_matched"] == pytest.approx(0.5 * 3 * c * c, rel=1e-6)
    assert rep["kl_monte_carlo"] == pytest.approx(0.5 * 3 * c * c, abs=0.15)


def test_aggregate_posterior_law_of_total_variance():
    mu = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    logvar = torch.log(torch.tensor([[1.0, 2.0], [3.0, 2.0]]))
    stats = aggregate_posterior(mu, logvar)
    assert torch.allclose(stats["posterior_mean"], torch.tensor([2.0, 0.0]))
    assert torch.allclose(stats["posterior_var"], torch.tensor([1.0 + 2.0, 0.0 + 2.0]))
    assert torch.allclose(stats["mu_var"], torch.tensor([1.0, 0.0]))


def test_dev_vectors():
    mu_c = torch.tensor([[1.0, 1.0], [2.0, 2.0], [0.0, 4.0]])
    mu_d = torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    devs = dev_vectors(mu_c, mu_d, ["a", "a", "b"])
    assert torch.allclose(devs["a"], torch.tensor([1.5, 1.0]))
    assert torch.allclose(devs["b"], torch.tensor([0.0, 4.0]))
    assert torch.allclose(devs["pooled"], torch.tensor([1.0, 2.0]))


def test_report_files(tmp_path):
    g = torch.Generator().manual_seed(0)
    rep = write_latent_report(torch.randn(30, 10, generator=g), torch.full((30, 10), math.log(0.3)), tmp_path)
    assert (tmp_path / "report.json").is_file()
    assert (tmp_path / "histograms.png").read_bytes()[:4] == b"\x89PNG"
    assert len(rep["normaltest_pvalues"]) == 10 and "samples" not in rep
