"""Moment-matched-Gaussian + adversarial objective (after Rivera).

Instead of pulling every q(z|x) towards N(0, I), the *aggregate* of the posterior
means is matched to the prior: the means of the current batch, together with a
detached memory of the last ``memory`` means (so the moments are stable at batch
size 2), give a per-dimension mean ``m`` and variance ``s²`` (unbiased), and

``L = D·(BCE + w·Dice) + KL(N(m, s²) ‖ N(0, I)) + 0.1·mean_b Σ_d (v − ln v − 1) + λ_adv(t)·D·L_G``

where ``KL(N(m,s²)‖N(0,I)) = ½ Σ_d (m² + s² − 1 − ln s²)``, ``v = σ²`` are the
per-sample posterior variances (the second term stops them collapsing to 0) and
``L_G = mean (Disc(sigmoid(logits)) − 1)²`` is the least-squares GAN generator
loss from a MONAI 3D ``PatchDiscriminator``. ``λ_adv`` is 0 for ``warmup`` steps,
then ramps linearly to ``adv_weight`` over another ``warmup`` steps. The
discriminator (and its Adam optimiser) is trained in :meth:`auxiliary_step` and
is part of :meth:`state_dict`. Under DDP its gradients are averaged over ranks.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from skullvae.objectives.base import Objective, voxels_per_sample
from skullvae.objectives.reconstruction import dice_bce


def moment_matched_kl(means: torch.Tensor) -> torch.Tensor:
    """``½ Σ_d (m² + s² − 1 − ln s²)`` for the per-dim mean/unbiased variance of ``means`` ``[N, L]``."""
    m = means.mean(dim=0)
    s2 = means.var(dim=0, unbiased=True).clamp_min(1e-6)
    return 0.5 * (m.pow(2) + s2 - 1.0 - torch.log(s2)).sum()


def variance_penalty(logvar: torch.Tensor) -> torch.Tensor:
    """``mean_b Σ_d (v − ln v − 1)`` with ``v = exp(logvar)``."""
    logvar = logvar.float()
    return (logvar.exp() - logvar - 1.0).sum(dim=1).mean()


class MoGObjective(Objective):
    """See the module docstring.

    Args:
        adv_weight: final weight of the adversarial generator term (per voxel).
        warmup: steps without adversarial term, and ramp length.
        memory: number of past posterior means kept for the moment estimate.
        var_weight: weight of the variance penalty (0.1).
        dice_weight: Dice weight in the reconstruction term.
        disc_channels: base channels of the PatchDiscriminator.
        disc_lr: discriminator learning rate.
    """

    name = "mog"

    def __init__(self, adv_weight: float = 0.01, warmup: int = 200, memory: int = 64, var_weight: float = 0.1,
                 dice_weight: float = 1.0, disc_channels: int = 8, disc_lr: float = 2e-4):
        from monai.networks.nets import PatchDiscriminator

        self.adv_weight, self.warmup, self.memory = float(adv_weight), int(warmup), int(memory)
        self.var_weight, self.dice_weight = float(var_weight), float(dice_weight)
        self.disc_channels, self.disc_lr = int(disc_channels), float(disc_lr)
        self.discriminator = PatchDiscriminator(spatial_dims=3, channels=self.disc_channels, in_channels=1,
                                                num_layers_d=2, norm="INSTANCE")
        self.disc_opt = torch.optim.Adam(self.discriminator.parameters(), lr=self.disc_lr, betas=(0.5, 0.999))
        self.bank: torch.Tensor | None = None

    def to(self, device):
        self.discriminator.to(device)
        if self.bank is not None:
            self.bank = self.bank.to(device)
        return self

    def _adv_lambda(self, step: int) -> float:
        if step < self.warmup:
            return 0.0
        return self.adv_weight * min(1.0, (step - self.warmup + 1) / max(1, self.warmup))

    def _disc(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x.float())[-1]

    def __call__(self, logits, target, mu, logvar, step):
        d = voxels_per_sample(target)
        recon = d * dice_bce(logits, target, self.dice_weight).mean()
        mu = mu.float()
        pool = mu if self.bank is None else torch.cat([mu, self.bank.to(mu.device)], dim=0)
        kl_mm = moment_matched_kl(pool) if pool.shape[0] > 1 else mu.new_zeros(())
        var_pen = variance_penalty(logvar)
        loss = recon + kl_mm + self.var_weight * var_pen
        lam = self._adv_lambda(step)
        adv = mu.new_zeros(())
        if lam > 0:
            self.discriminator.requires_grad_(False)
            adv = (self._disc(torch.sigmoid(logits.float())) - 1.0).pow(2).mean()
            self.discriminator.requires_grad_(True)
            loss = loss + lam * d * adv
        self.bank = torch.cat([mu.detach(), pool[mu.shape[0]:].detach()], 0)[: self.memory]
        return loss, {"loss": loss.item() / d, "recon": recon.item() / d, "kl_mm": kl_mm.item(),
                      "var_pen": var_pen.item(), "adv": adv.item()}

    def auxiliary_step(self, logits, target, step):
        self.disc_opt.zero_grad(set_to_none=True)
        real = self._disc(target.float())
        fake = self._disc(torch.sigmoid(logits.detach().float()))
        loss = 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())
        loss.backward()
        if dist.is_available() and dist.is_initialized():
            world = dist.get_world_size()
            for p in self.discriminator.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= world
        self.disc_opt.step()
        return {"disc": loss.item()}

    def state_dict(self) -> dict:
        return {"discriminator": self.discriminator.state_dict(), "disc_opt": self.disc_opt.state_dict(),
                "bank": self.bank.cpu() if self.bank is not None else None}

    def load_state_dict(self, state: dict) -> None:
        device = next(self.discriminator.parameters()).device
        self.discriminator.load_state_dict(state["discriminator"])
        self.disc_opt.load_state_dict(state["disc_opt"])
        self.bank = state["bank"].to(device) if state.get("bank") is not None else None

    def config(self) -> dict:
        return {"name": self.name, "adv_weight": self.adv_weight, "warmup": self.warmup, "memory": self.memory,
                "var_weight": self.var_weight, "dice_weight": self.dice_weight,
                "disc_channels": self.disc_channels, "disc_lr": self.disc_lr}
