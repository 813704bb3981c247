"""The VAE architecture and its config."""

import pytest
import torch

from skullvae.errors import SkullVAEError
from skullvae.model.vae import Decoder, SkullVAE, VAEConfig, reparameterize


def test_config_rejects_mismatched_strides():
    with pytest.raises(SkullVAEError, match="same length"):
        VAEConfig(grid=(32, 32, 32), channels=(4, 8), strides=(2, 2, 2))


def test_config_rejects_grid_not_divisible():
    with pytest.raises(SkullVAEError, match="not divisible by the stride product 8"):
        VAEConfig(grid=(36, 32, 32), channels=(4, 8, 8), strides=(2, 2, 2))


def test_config_round_trip():
    cfg = VAEConfig(grid=(16, 32, 16), channels=(4, 8), strides=(2, 2), latent_size=5, norm="batch")
    assert VAEConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.bottleneck_shape == (4, 8, 4)


def test_shapes_and_eval_uses_mean():
    torch.manual_seed(0)
    cfg = VAEConfig(grid=(16, 16, 16), channels=(4, 8), strides=(2, 2), latent_size=6)
    model = SkullVAE(cfg)
    x = (torch.rand(2, 1, 16, 16, 16) > 0.7).float()
    model.eval()
    logits, mu, logvar, z = model(x)
    assert logits.shape == x.shape and mu.shape == (2, 6) and logvar.shape == (2, 6)
    assert torch.equal(z, mu)  # eval: z = mu, never mu + sigma
    again = model(x)[0]
    assert torch.equal(logits, again)
    model.train()
    _, mu_t, _, z_t = model(x)
    assert not torch.allclose(z_t, mu_t)


def test_reparameterize_statistics():
    g = torch.Generator().manual_seed(1)
    mu = torch.full((20000, 2), 3.0)
    logvar = torch.log(torch.full((20000, 2), 4.0))
    z = reparameterize(mu, logvar, generator=g)
    assert abs(float(z.mean()) - 3.0) < 0.05
    assert abs(float(z.std()) - 2.0) < 0.05


def test_fresh_decoder_matches_architecture():
    cfg = VAEConfig(grid=(16, 16, 16), channels=(4, 8), strides=(2, 2), latent_size=3)
    a, b = SkullVAE(cfg).decoder, Decoder(cfg)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
