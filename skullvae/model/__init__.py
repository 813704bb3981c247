"""The 3D VAE, its safetensors checkpoints and :func:`load_model`."""

from skullvae.model.load import TrainedModel, bundled_names, load_model
from skullvae.model.vae import Decoder, Encoder, SkullVAE, VAEConfig

__all__ = ["Decoder", "Encoder", "SkullVAE", "TrainedModel", "VAEConfig", "bundled_names", "load_model"]
