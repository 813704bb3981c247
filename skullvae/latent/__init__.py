"""Aggregated-posterior statistics, DEV vectors and the latent report."""

from skullvae.latent.report import latent_report, write_latent_report
from skullvae.latent.stats import aggregate_posterior, compute_latent_stats, dev_vectors, encode_volumes

__all__ = ["aggregate_posterior", "compute_latent_stats", "dev_vectors", "encode_volumes", "latent_report",
           "write_latent_report"]
