"""DEV completion (the paper): ``z = enc(x) + γ · DEV[defect type]``, then decode.

A DEV (defect-elimination vector) is the mean latent difference between complete
skulls and their defective versions, per defect type, plus a ``"pooled"`` one
over all types for when the type is unknown.
"""

from __future__ import annotations

import numpy as np
import torch

from skullvae.errors import SkullVAEError


#: The side with this much less bone (fraction of all bone) than the other is the missing one.
SIDE_MASS_FRACTION = 0.03


def missing_side(grid_array: np.ndarray) -> str | None:
    """Which side of a skull in the model grid lacks bone: ``"left"``, ``"right"`` or None.

    Grid axis 0 points to the patient's left. A lateral defect removes a clear share of
    the bone from one half; below :data:`SIDE_MASS_FRACTION` the skull counts as balanced.

    Args:
        grid_array: bone fraction in the model grid.

    Returns:
        The side with less bone, or None when the halves are balanced.
    """
    profile = np.asarray(grid_array, dtype=np.float64).sum(axis=(1, 2))
    total = profile.sum()
    if total <= 0:
        return None
    x = np.arange(profile.size) - (profile.size - 1) / 2.0
    left, right = profile[x > 0].sum(), profile[x < 0].sum()
    if abs(left - right) < SIDE_MASS_FRACTION * total:
        return None
    return "left" if left < right else "right"


def dev_vector(model, defect_type: str | None, side: str | None = None) -> tuple[torch.Tensor, str]:
    """The DEV of ``defect_type`` (or the pooled one when None), for one side if the model has it.

    Args:
        model: a trained model with ``dev_vectors``.
        defect_type: a defect type name or None.
        side: ``"left"``/``"right"``: use ``<type>@<side>`` when the model has it
            (lateral defect types), else the type's DEV.

    Returns:
        ``(vector [L], name used)``.

    Raises:
        SkullVAEError: the model has no DEV vectors, or the type is unknown.
    """
    vectors = getattr(model, "dev_vectors", None) or {}
    if not vectors:
        raise SkullVAEError("the model has no DEV vectors (run the latent step of training), use --mode optimize or mirror")
    key = "pooled" if defect_type is None else defect_type
    if key not in vectors:
        known = ", ".join(sorted(k for k in vectors if k != "pooled" and "@" not in k)) or "none"
        raise SkullVAEError(f"unknown --defect-type {defect_type!r} for this model (known: {known})")
    if side is not None and f"{key}@{side}" in vectors:
        key = f"{key}@{side}"
    return vectors[key], key


def encode_grid(model, grid_array: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode one grid array; returns ``(mu [1, L], logvar [1, L])``."""
    x = torch.from_numpy(np.ascontiguousarray(grid_array, dtype=np.float32))[None, None]
    mu, logvar = model.encode(x)
    return mu.detach(), logvar.detach()


def decode_probability(model, z: torch.Tensor) -> np.ndarray:
    """Decode latents ``[B, L]`` to bone probabilities ``[B, D, H, W]`` (float32 numpy)."""
    with torch.no_grad():
        logits = model.decode(z)
    return torch.sigmoid(logits.float())[:, 0].cpu().numpy().astype(np.float32)


def complete_dev(model, grid_array: np.ndarray, defect_type: str | None = None, gamma: float = 1.0):
    """Completed-skull probability by latent vector arithmetic.

    Args:
        model: trained model (``encode``, ``decode``, ``dev_vectors``).
        grid_array: defective skull in the model grid (fractions in [0, 1]).
        defect_type: defect type, or None for the pooled DEV.
        gamma: DEV scale.

    Returns:
        ``(probability [D,H,W], z [1, L], logvar [1, L], info)``.
    """
    mu, logvar = encode_grid(model, grid_array)
    dev, used = dev_vector(model, defect_type, missing_side(grid_array))
    z = mu + float(gamma) * dev.to(mu.device, mu.dtype)[None, :]
    prob = decode_probability(model, z)[0]
    return prob, z, logvar, {"dev": used, "gamma": float(gamma), "z_norm": float(z.norm())}
