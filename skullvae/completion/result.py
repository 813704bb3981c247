"""The common result of every completion mode."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skullvae.preprocessing.model_grid import GridFrame


@dataclass
class Completion:
    """A completed-skull bone probability in some grid frame.

    Args:
        mode: ``"dev"``, ``"optimize"`` or ``"mirror"`` (the mode that ran; ``auto`` becomes one of them).
        frame: where ``probability`` lives in patient space.
        probability: completed-bone probability, float32, shape ``frame.grid``.
        defective: the defective bone fraction in the same frame (float32).
        implant_probability: optional per-voxel implant probability from
            sampling (``--samples``), shape ``frame.grid``.
        info: mode-specific summary for the report (JSON-serialisable).
        core_mm: defect-core distance for implant extraction (None = default).
        reconstruction: optional model reconstruction of the *defective* input in
            the same frame; bone there is model misfit, not defect, and is
            excluded from the implant.
    """

    mode: str
    frame: GridFrame
    probability: np.ndarray
    defective: np.ndarray
    implant_probability: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    core_mm: float | None = None
    reconstruction: np.ndarray | None = None
