"""``--samples K``: decode K latents around the posterior → implant probability map."""

from __future__ import annotations

import numpy as np

from skullvae.completion.dev import as_array, decode_probability


def sample_probabilities(model, z: np.ndarray, logvar: np.ndarray | None, samples: int, seed: int = 0,
                         batch: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the decoded bone probability over K latents.

    The latents are ``z + σ·ε`` with σ from the encoder's ``logvar`` (or the
    model's aggregated posterior variance when None) and ε ~ N(0, I).

    Args:
        model: trained model (``decode_array``).
        z: the completion latent ``[1, L]``.
        logvar: encoder log-variance ``[1, L]`` or None.
        samples: K ≥ 2.
        seed: random seed (results are reproducible).
        batch: latents decoded at once.

    Returns:
        ``(mean, std)`` arrays of the grid shape, float32.
    """
    rng = np.random.default_rng(int(seed))
    z = as_array(z)
    if logvar is not None:
        std = np.exp(0.5 * as_array(logvar))[0]
    else:
        var = getattr(model, "posterior_var", None)
        std = np.sqrt(as_array(var)) if var is not None else np.ones(z.shape[1], dtype=np.float32)
    total = None
    total_sq = None
    done = 0
    while done < samples:
        n = min(batch, samples - done)
        eps = rng.standard_normal((n, z.shape[1])).astype(np.float32)
        probs = decode_probability(model, z + eps * std[None, :])
        s, s2 = probs.sum(axis=0), (probs.astype(np.float64) ** 2).sum(axis=0)
        total = s if total is None else total + s
        total_sq = s2 if total_sq is None else total_sq + s2
        done += n
    mean = (total / samples).astype(np.float32)
    var = np.maximum(total_sq / samples - mean.astype(np.float64) ** 2, 0.0)
    return mean, np.sqrt(var).astype(np.float32)


def implant_probability(mean_probability: np.ndarray, defective: np.ndarray) -> np.ndarray:
    """Per-voxel probability of being implant: bone in the completion, not in the input."""
    return (mean_probability * (1.0 - np.clip(defective, 0.0, 1.0))).astype(np.float32)
