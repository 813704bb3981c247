"""Two-stage training: the shared loop, stage 1, stage 2, exact resume, DDP."""

from skullvae.training.loop import LoopSettings
from skullvae.training.stage1 import train_stage1
from skullvae.training.stage2 import train_stage2

__all__ = ["LoopSettings", "train_stage1", "train_stage2"]
