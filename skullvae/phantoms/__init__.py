"""Synthetic adult skull phantoms and synthetic training data sets."""

from skullvae.phantoms.anatomy import SkullParameters, sample_parameters
from skullvae.phantoms.dataset import synthesize_dataset
from skullvae.phantoms.skull import synth_skull

__all__ = ["synth_skull", "synthesize_dataset", "sample_parameters", "SkullParameters"]
