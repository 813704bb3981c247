"""Stage-1 objectives with one interface (see :class:`~skullvae.objectives.base.Objective`)."""

from __future__ import annotations

from skullvae.errors import SkullVAEError
from skullvae.objectives.balanced import BalancedObjective
from skullvae.objectives.base import Objective, kl_normal
from skullvae.objectives.beta import BetaObjective
from skullvae.objectives.mog import MoGObjective
from skullvae.objectives.sigma import SigmaObjective

OBJECTIVES = {"beta": BetaObjective, "sigma": SigmaObjective, "balanced": BalancedObjective, "mog": MoGObjective}


def build_objective(name: str, **params) -> Objective:
    """Create an objective by name (``beta``, ``sigma``, ``balanced``, ``mog``).

    Args:
        name: objective name.
        **params: constructor arguments; ``None`` values are dropped.

    Returns:
        The objective.
    """
    if name not in OBJECTIVES:
        raise SkullVAEError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](**{k: v for k, v in params.items() if v is not None})


__all__ = ["OBJECTIVES", "BalancedObjective", "BetaObjective", "MoGObjective", "Objective", "SigmaObjective",
           "build_objective", "kl_normal"]
