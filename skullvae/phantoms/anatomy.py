"""Random anatomical parameters of an adult skull (millimetres).

Skull coordinates: ``x`` toward the patient's left, ``y`` posterior, ``z`` superior
(LPS), the Frankfurt horizontal plane at ``z = 0`` and the mid-sagittal plane at
``x = 0``; ``y = 0`` is the middle of the glabella–opisthocranion length. Ranges
follow adult craniometry: maximum length 170–200 mm, maximum breadth 130–155 mm,
basion–bregma height 120–140 mm, vault thickness about 4–10 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LENGTH_RANGE = (172.0, 190.0)
BREADTH_RANGE = (132.0, 153.0)
HEIGHT_RANGE = (122.0, 138.0)
THICKNESS_RANGE = (4.0, 10.0)
#: z of the basion (front rim of the foramen magnum) relative to the Frankfurt plane.
BASION_Z = -18.0
#: z of the lowest point of the maxilla (alveolar process).
ALVEOLAR_Z = -46.0


@dataclass(frozen=True)
class SkullParameters:
    """Size and shape parameters of one synthetic skull.

    Attributes:
        length: glabella–opisthocranion length (mm).
        breadth: maximum cranial breadth (mm).
        height: basion–bregma height (mm).
        front_fraction: share of the length in front of ``y = 0`` of the vault ellipsoid.
        equator_z: height of the widest/longest vault section above the Frankfurt plane.
        lower_half_height: vault ellipsoid half-height below the equator.
        forehead_taper: how much narrower the frontal vault is than the parietal vault.
        asymmetry: relative width difference right vs. left (natural asymmetry).
        thickness_mean: mean vault thickness (mm).
        face_width: bizygomatic breadth (mm).
        face_depth: protrusion scale of the facial skeleton (mm).
        deform_mm: amplitude of the smooth random deformation (mm).
        forehead_slope: backward lean of the forehead per mm of height (``realism="real"``).
        occipital_bun: bulge of the occiput behind the equator (mm).
        skew: plagiocephalic shear, posterior shift per mm toward the left.
        anterior_fossa_mm: shift of the anterior cranial fossa floor (mm, up > 0).
        posterior_fossa_mm: shift of the posterior cranial fossa floor (mm).
        realism: ``"smooth"`` (the original phantoms) or ``"real"`` (:mod:`skullvae.phantoms.realism`).
    """

    length: float
    breadth: float
    height: float
    front_fraction: float
    equator_z: float
    lower_half_height: float
    forehead_taper: float
    asymmetry: float
    thickness_mean: float
    face_width: float
    face_depth: float
    deform_mm: float
    forehead_slope: float = 0.0
    occipital_bun: float = 0.0
    skew: float = 0.0
    anterior_fossa_mm: float = 0.0
    posterior_fossa_mm: float = 0.0
    realism: str = "smooth"

    @property
    def vertex_z(self) -> float:
        """z of the vertex (top of the vault)."""
        return BASION_Z + self.height

    @property
    def front(self) -> float:
        """Half-length of the vault in front of ``y = 0``."""
        return self.length * self.front_fraction

    @property
    def back(self) -> float:
        """Half-length of the vault behind ``y = 0``."""
        return self.length * (1.0 - self.front_fraction)

    def extent_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """Nominal bounding box ``(low, high)`` in skull coordinates, before deformation."""
        low = np.array([-self.breadth / 2.0, -self.front - 2.0, ALVEOLAR_Z - 2.0])
        high = np.array([self.breadth / 2.0, self.back + self.occipital_bun, self.vertex_z])
        return low, high


def sample_parameters(rng: np.random.Generator) -> SkullParameters:
    """Draw one adult skull's parameters.

    Args:
        rng: random generator (consumed deterministically).

    Returns:
        The :class:`SkullParameters`.
    """
    length = rng.uniform(*LENGTH_RANGE)
    breadth = rng.uniform(*BREADTH_RANGE)
    # Broad skulls tend to be shorter (cranial index 70–85).
    breadth = float(np.clip(breadth, 0.70 * length, 0.85 * length))
    breadth = float(np.clip(breadth, *BREADTH_RANGE))
    height = rng.uniform(*HEIGHT_RANGE)
    return SkullParameters(
        length=float(length),
        breadth=breadth,
        height=float(height),
        front_fraction=float(rng.uniform(0.47, 0.51)),
        equator_z=float(rng.uniform(34.0, 40.0)),
        lower_half_height=float(rng.uniform(56.0, 62.0)),
        forehead_taper=float(rng.uniform(0.12, 0.22)),
        asymmetry=float(rng.uniform(-0.025, 0.025)),
        thickness_mean=float(rng.uniform(5.2, 6.6)),
        face_width=float(rng.uniform(0.88, 0.94) * breadth),
        face_depth=float(rng.uniform(-3.0, 4.0)),
        deform_mm=float(rng.uniform(2.0, 3.5)),
    )


def largest_extent_mm(length_range=LENGTH_RANGE, breadth_range=BREADTH_RANGE, height_range=HEIGHT_RANGE,
                      extra_back_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Nominal bounding box of the largest skull drawn from these ranges (default: :func:`sample_parameters`'s)."""
    low = np.array([-breadth_range[1] / 2.0, -0.5 * length_range[1] - 2.0, ALVEOLAR_Z - 2.0])
    high = np.array([breadth_range[1] / 2.0, 0.5 * length_range[1] + extra_back_mm, BASION_Z + height_range[1]])
    return low, high
