"""DEV completion (the paper): ``z = enc(x) + γ · DEV[defect type]``, then decode.

A DEV (defect-elimination vector) is the mean latent difference between complete
skulls and their defective versions, per defect type, plus a ``"pooled"`` one
over all types for when the type is unknown.
"""

from __future__ import annotations

import numpy as np

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


def dev_vector(model, defect_type: str | None, side: str | None = None) -> tuple[np.ndarray, str]:
    """The DEV of ``defect_type`` (or the pooled one when None), for one side if the model has it.

    Args:
        model: a trained model with ``dev_vectors``.
        defect_type: a defect type name or None.
        side: ``"left"``/``"right"``: use ``<type>@<side>`` when the model has it
            (lateral defect types), else the type's DEV.

    Returns:
        ``(vector [L] float32, name used)``.

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
    return as_array(vectors[key]), key


def as_array(value) -> np.ndarray:
    """A NumPy float32 copy of an array or a (CPU or GPU) torch tensor."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.array(value, dtype=np.float32)


def encode_grid(model, grid_array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode one grid array; returns ``(mu [1, L], logvar [1, L])`` (NumPy float32)."""
    mu, logvar = model.encode_array(np.ascontiguousarray(grid_array, dtype=np.float32)[None, None])
    return as_array(mu), as_array(logvar)


def decode_probability(model, z: np.ndarray) -> np.ndarray:
    """Decode latents ``[B, L]`` to bone probabilities ``[B, D, H, W]`` (float32 NumPy)."""
    from scipy.special import expit

    return expit(as_array(model.decode_array(as_array(z)))[:, 0]).astype(np.float32, copy=False)


def complete_dev(model, grid_array: np.ndarray, defect_type: str | None = None, gamma: float = 1.0,
                 encoded: tuple[np.ndarray, np.ndarray] | None = None):
    """Completed-skull probability by latent vector arithmetic.

    Args:
        model: trained model (``encode_array``, ``decode_array``, ``dev_vectors``).
        grid_array: defective skull in the model grid (fractions in [0, 1]).
        defect_type: defect type, or None for the pooled DEV.
        gamma: DEV scale.
        encoded: ``(mu, logvar)`` of ``grid_array`` when already computed.

    Returns:
        ``(probability [D,H,W], z [1, L], logvar [1, L], info)``.
    """
    mu, logvar = encoded if encoded is not None else encode_grid(model, grid_array)
    dev, used = dev_vector(model, defect_type, missing_side(grid_array))
    z = (mu + float(gamma) * dev[None, :]).astype(np.float32)
    prob = decode_probability(model, z)[0]
    return prob, z, logvar, {"dev": used, "gamma": float(gamma), "z_norm": float(np.linalg.norm(z))}


def dev_completions(model, grid_array: np.ndarray, gamma: float = 1.0) -> dict[str, np.ndarray]:
    """The completed-skull probability for every DEV vector of the model (no defect type needed).

    The rim step then keeps the one whose surfaces best predict the bone around the
    defect (:func:`skullvae.implant.rim_fill.choose_prior`).

    Args:
        model: trained model with ``dev_vectors``.
        grid_array: defective skull in the model grid.
        gamma: DEV scale.

    Returns:
        ``{dev name: probability [D, H, W]}``.
    """
    mu, _ = encode_grid(model, grid_array)
    vectors = getattr(model, "dev_vectors", None) or {}
    names = sorted(vectors)
    if not names:
        return {}
    z = np.concatenate([mu + float(gamma) * as_array(vectors[n])[None, :] for n in names]).astype(np.float32)
    probs = np.concatenate([decode_probability(model, z[i:i + 4]) for i in range(0, len(names), 4)])
    return dict(zip(names, probs))
