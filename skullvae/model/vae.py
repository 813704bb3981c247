"""The 3D convolutional VAE for binary skull volumes, built from MONAI blocks.

The network is split into an :class:`Encoder` (volume → μ, log σ²) and a
:class:`Decoder` (z → logits) so that stage 2 can freeze the encoder and train a
fresh decoder of the same architecture. Outputs are *logits* (no sigmoid); the
objectives apply ``sigmoid``/``BCEWithLogits`` themselves. ``SkullVAE.forward``
samples ``z = μ + σ·ε`` in training mode and uses ``z = μ`` in eval mode (MONAI's
``VarAutoEncoder`` would return μ+σ·ε in eval mode too unless told otherwise).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from monai.networks.blocks import Convolution, ResidualUnit
from torch import nn

from skullvae.errors import SkullVAEError

NORMS = ("instance", "batch", "group", "none")


@dataclass
class VAEConfig:
    """Architecture and model-grid description, stored with the weights.

    Args:
        grid: model grid ``[D, H, W]`` in voxels.
        voxel_mm: isotropic voxel size of the grid (mm).
        channels: feature channels of each encoder level.
        strides: stride of each encoder level (same length as ``channels``).
        latent_size: dimension of z (the paper uses 32).
        norm: ``instance``, ``batch``, ``group`` or ``none``.
        num_res_units: residual sub-units per level (0 = plain convolutions).
        refine_channels: channels of an extra full-resolution conv before the output (0 = none).
    """

    grid: tuple[int, int, int] = (64, 64, 64)
    voxel_mm: float = 3.5
    channels: tuple[int, ...] = (8, 16, 32, 64)
    strides: tuple[int, ...] = (2, 2, 2, 2)
    latent_size: int = 32
    norm: str = "instance"
    num_res_units: int = 0
    refine_channels: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.grid = tuple(int(g) for g in (self.grid if hasattr(self.grid, "__len__") else (self.grid,) * 3))  # type: ignore[assignment]
        self.channels = tuple(int(c) for c in self.channels)
        self.strides = tuple(int(s) for s in self.strides)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`SkullVAEError` for inconsistent settings."""
        if len(self.grid) != 3 or min(self.grid) < 1:
            raise SkullVAEError(f"grid must be 3 positive integers, got {list(self.grid)}")
        if len(self.channels) == 0 or len(self.channels) != len(self.strides):
            raise SkullVAEError(
                f"channels ({len(self.channels)} levels) and strides ({len(self.strides)} levels) must have the same length"
            )
        if min(self.channels) < 1 or min(self.strides) < 1:
            raise SkullVAEError("channels and strides must be positive")
        factor = math.prod(self.strides)
        bad = [g for g in self.grid if g % factor]
        if bad:
            raise SkullVAEError(f"grid {list(self.grid)} is not divisible by the stride product {factor}")
        if self.latent_size < 1:
            raise SkullVAEError(f"latent size must be positive, got {self.latent_size}")
        if self.voxel_mm <= 0:
            raise SkullVAEError(f"voxel size must be positive, got {self.voxel_mm}")
        if self.norm not in NORMS:
            raise SkullVAEError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")

    @property
    def bottleneck_shape(self) -> tuple[int, int, int]:
        """Spatial shape after the encoder."""
        factor = math.prod(self.strides)
        return tuple(g // factor for g in self.grid)  # type: ignore[return-value]

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        out = asdict(self)
        out["grid"] = list(self.grid)
        out["channels"] = list(self.channels)
        out["strides"] = list(self.strides)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "VAEConfig":
        """Build from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            return cls(**known)
        except (TypeError, ValueError) as exc:
            raise SkullVAEError(f"invalid model config: {exc}") from exc


def _norm(name: str):
    return {"instance": ("instance", {"affine": True}), "batch": "batch", "group": ("group", {"num_groups": 4}), "none": None}[name]


def _block(cfg: VAEConfig, cin: int, cout: int, stride: int, transposed: bool, last: bool = False) -> nn.Module:
    """One resolution level: a strided (transposed) conv, optionally followed by residual units."""
    norm = _norm(cfg.norm)
    conv_only = last and cfg.num_res_units == 0
    layers: list[nn.Module] = [
        Convolution(3, cin, cout, strides=stride, kernel_size=3, act="PRELU", norm=norm,
                    is_transposed=transposed, conv_only=conv_only)
    ]
    for i in range(cfg.num_res_units):
        layers.append(ResidualUnit(3, cout, cout, strides=1, kernel_size=3, subunits=1, act="PRELU", norm=norm,
                                   last_conv_only=last and i == cfg.num_res_units - 1))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Volume ``[B,1,D,H,W]`` → ``(mu, logvar)`` each ``[B, L]``."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        levels, cin = [], 1
        for c, s in zip(cfg.channels, cfg.strides):
            levels.append(_block(cfg, cin, c, s, transposed=False))
            cin = c
        self.features = nn.Sequential(*levels)
        flat = cfg.channels[-1] * math.prod(cfg.bottleneck_shape)
        self.mu = nn.Linear(flat, cfg.latent_size)
        self.logvar = nn.Linear(flat, cfg.latent_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode; returns float32 ``(mu, logvar)``."""
        h = self.features(x).flatten(1).float()
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """Latent ``[B, L]`` → logits ``[B,1,D,H,W]``."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.fc = nn.Linear(cfg.latent_size, cfg.channels[-1] * math.prod(cfg.bottleneck_shape))
        levels = []
        outs = list(cfg.channels[-2::-1]) + [cfg.refine_channels or 1]
        cin = cfg.channels[-1]
        for i, (c, s) in enumerate(zip(outs, cfg.strides[::-1])):
            last = i == len(outs) - 1 and not cfg.refine_channels
            levels.append(_block(cfg, cin, c, s, transposed=True, last=last))
            cin = c
        if cfg.refine_channels:
            levels.append(Convolution(3, cin, 1, kernel_size=3, conv_only=True))
        self.features = nn.Sequential(*levels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode to logits."""
        h = self.fc(z).view(z.shape[0], self.cfg.channels[-1], *self.cfg.bottleneck_shape)
        return self.features(h)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``z ~ N(mu, exp(logvar))`` (a real sample, never the deterministic μ+σ)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class SkullVAE(nn.Module):
    """Encoder + decoder. ``forward`` returns ``(logits, mu, logvar, z)``.

    In training mode ``z`` is sampled from q(z|x); in eval mode ``z = mu``.
    """

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor):
        """Encode, sample (train) or take the mean (eval), decode."""
        mu, logvar = self.encoder(x)
        z = reparameterize(mu, logvar) if self.training else mu
        return self.decoder(z), mu, logvar, z
