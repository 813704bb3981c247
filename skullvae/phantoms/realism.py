"""What ``realism="real"`` changes in a synthetic skull: shape, thickness, CT artefacts, crop.

The ``"smooth"`` phantoms (the original ones) are regular: cranial index 70–85, vault
4.2–9.8 mm thick with a smooth inner table, closed, always cut at the alveolar arch.
Real skulls, as the real masks in ``../shared/data/real`` show, differ in each of:

* **shape**: cranial (cephalic) index about 70–90, a forehead that leans back or is
  upright, an occipital bun in some, left–right asymmetry and a plagiocephalic skew,
  a skull base whose fossae sit higher or lower;
* **thickness**: temporal squama 2–4 mm, frontal and occipital bone 6–10 mm, parietal
  5–7 mm, and an irregular inner table (a fine random field on the thickness);
* **threshold artefacts**: pinholes (emissary foramina, noise), thin cracks (sutures,
  partial volume along a line) and thin bone lost to partial volume (the thinnest
  squama falls below the bone threshold, leaving natural openings);
* **crop level**: the full skull down to the maxilla, cut just below the orbits (as in
  SkullBreak), calvarium only, or a side cut by the edge of the field of view;
* **pose**: a random rotation of a few degrees (:data:`REAL_ROTATION_DEG`).

All draws come from the generator passed in, so the skull stays a function of its seed.
"""

from __future__ import annotations

import numpy as np

from skullvae.phantoms.anatomy import SkullParameters
from skullvae.phantoms.primitives import Primitive, capsule

REALISMS = ("smooth", "real")
REAL_LENGTH_RANGE = (168.0, 198.0)
REAL_BREADTH_RANGE = (125.0, 162.0)
REAL_HEIGHT_RANGE = (118.0, 142.0)
CEPHALIC_INDEX_RANGE = (0.70, 0.90)
MAX_OCCIPITAL_BUN_MM = 7.0
#: Default largest rotation of a ``"real"`` skull (degrees) when none is asked for.
REAL_ROTATION_DEG = 6.0
#: Crop levels and how often each is drawn.
CROP_LEVELS = {"full": 0.3, "orbits": 0.4, "calvarium": 0.1, "fov_edge": 0.2}


def check_realism(realism: str) -> str:
    """Return ``realism`` or raise :class:`~skullvae.errors.SkullVAEError`."""
    from skullvae.errors import SkullVAEError

    if realism not in REALISMS:
        raise SkullVAEError(f"realism must be one of {', '.join(REALISMS)}, got {realism!r}")
    return realism


def sample_real_parameters(rng: np.random.Generator) -> SkullParameters:
    """Draw one adult skull's parameters with the wider variation of real skulls.

    Args:
        rng: random generator (consumed deterministically).

    Returns:
        :class:`SkullParameters` with ``realism="real"``.
    """
    length = rng.uniform(*REAL_LENGTH_RANGE)
    breadth = float(np.clip(rng.uniform(*CEPHALIC_INDEX_RANGE) * length, *REAL_BREADTH_RANGE))
    bun = rng.uniform(0.0, MAX_OCCIPITAL_BUN_MM) if rng.uniform() < 0.5 else 0.0
    return SkullParameters(
        length=float(length),
        breadth=breadth,
        height=float(rng.uniform(*REAL_HEIGHT_RANGE)),
        front_fraction=float(rng.uniform(0.46, 0.52)),
        equator_z=float(rng.uniform(32.0, 42.0)),
        lower_half_height=float(rng.uniform(54.0, 64.0)),
        forehead_taper=float(rng.uniform(0.08, 0.26)),
        asymmetry=float(rng.uniform(-0.04, 0.04)),
        thickness_mean=float(rng.uniform(5.2, 7.4)),
        face_width=float(rng.uniform(0.86, 0.95) * breadth),
        face_depth=float(rng.uniform(-4.0, 5.0)),
        deform_mm=float(rng.uniform(2.0, 4.5)),
        forehead_slope=float(rng.uniform(-0.05, 0.22)),
        occipital_bun=float(bun),
        skew=float(rng.uniform(-0.05, 0.05)),
        anterior_fossa_mm=float(rng.uniform(-4.0, 4.0)),
        posterior_fossa_mm=float(rng.uniform(-7.0, 4.0)),
        realism="real",
    )


def _sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def real_thickness(X, Y, Z, p: SkullParameters, noise) -> np.ndarray:
    """Vault thickness (mm): frontal and occipital 6–10, parietal 5–7, temporal squama 2–4.

    ``noise`` holds a coarse and a fine random field (the irregular inner table).
    """
    a = p.breadth / 2.0
    frontal = _sigmoid((-Y - 0.35 * p.front) / 12.0) * _sigmoid((Z - 25.0) / 10.0)
    occipital = np.exp(-(((Y - 0.8 * p.back) / 45.0) ** 2) - ((Z - p.equator_z - 5.0) / 45.0) ** 2)
    temporal = (
        np.exp(-(((Z - 16.0) / 24.0) ** 2)) * np.clip((np.abs(X) - 0.5 * a) / (0.25 * a), 0.0, 1.0)
        * np.exp(-((Y / 50.0) ** 2))
    )
    t = p.thickness_mean + 1.2 * frontal + 2.4 * occipital
    squama = 2.2 + 0.5 * (p.thickness_mean - 5.2)  # 2.2-3.3 mm where the squama is thinnest
    t = t - temporal * (t - squama) + noise * (1.0 - 0.5 * temporal)
    return np.clip(t, 1.2, 12.0)


def partial_volume_limit(rng: np.random.Generator) -> float:
    """Bone thinner than this (mm, before a ±0.5 mm field) is lost to partial volume; 0 for half the skulls."""
    return float(rng.uniform(1.8, 3.0)) if rng.uniform() < 0.5 else 0.0


def _vault_radius(p: SkullParameters, d: np.ndarray) -> float:
    """Nominal distance from ``(0, 0, equator_z)`` to the outer vault along unit ``d`` (above the equator)."""
    half_y = p.front if d[1] < 0 else p.back
    return float(1.0 / np.sqrt((d[0] / (p.breadth / 2)) ** 2 + (d[1] / half_y) ** 2 + (d[2] / (p.vertex_z - p.equator_z)) ** 2))


def _vault_direction(rng: np.random.Generator, low_deg: float, high_deg: float) -> np.ndarray:
    az, el = rng.uniform(0.0, 2 * np.pi), np.deg2rad(rng.uniform(low_deg, high_deg))
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def crack(centre, direction, normal, half_angle: float, half_width: float, r_lo: float, r_hi: float) -> Primitive:
    """A planar slit through the shell: within ``half_width`` of the plane through ``centre``
    spanned by ``direction`` and a tangent, inside a cone of ``half_angle`` about ``direction``."""
    c = np.asarray(centre, dtype=np.float32)
    d = np.asarray(direction, dtype=np.float32)
    n = np.asarray(normal, dtype=np.float32)
    cos_a = np.float32(np.cos(half_angle))

    def inside(X, Y, Z):
        qx, qy, qz = X - c[0], Y - c[1], Z - c[2]
        r = np.sqrt(qx * qx + qy * qy + qz * qz)
        return (np.abs(qx * n[0] + qy * n[1] + qz * n[2]) < half_width) & (qx * d[0] + qy * d[1] + qz * d[2] > cos_a * r) \
            & (r > r_lo) & (r < r_hi)

    mid = c + d * (r_lo + r_hi) / 2.0
    half = (r_hi - r_lo) / 2.0 + r_hi * np.sin(half_angle) + 2.0
    return Primitive("cut", tuple(mid - half), tuple(mid + half), inside, "crack")  # type: ignore[arg-type]


def artefact_parts(rng: np.random.Generator, p: SkullParameters, spacing: float) -> list[Primitive]:
    """Pinholes (0–8, radius 0.6–1.6 mm) and cracks (0–2, 15–40 mm long) through the vault.

    Each is at least half a voxel wide so that it survives the grid.
    """
    centre = np.array([0.0, 0.0, p.equator_z])
    parts: list[Primitive] = []
    for _ in range(int(rng.integers(0, 9))):
        d = _vault_direction(rng, 5.0, 85.0)
        r = _vault_radius(p, d)
        radius = max(float(rng.uniform(0.6, 1.6)), 0.55 * spacing)
        parts.append(capsule("cut", centre + d * (r - 22.0), centre + d * (r + 8.0), radius, "pinhole"))
    for _ in range(int(rng.integers(0, 3))):
        d = _vault_direction(rng, 15.0, 80.0)
        r = _vault_radius(p, d)
        tangent = np.cross(d, rng.normal(size=3))
        tangent /= np.linalg.norm(tangent)
        half_angle = float(rng.uniform(7.5, 20.0)) / r
        half_width = max(0.4, 0.55 * spacing)
        parts.append(crack(centre, d, tangent, half_angle, half_width, r - 22.0, r + 8.0))
    return parts


def crop_plan(rng: np.random.Generator, p: SkullParameters) -> tuple[str, float | None]:
    """A crop level (see :data:`CROP_LEVELS`) and its cut height in skull mm (None: no horizontal cut)."""
    names = list(CROP_LEVELS)
    kind = names[int(rng.choice(len(names), p=np.array(list(CROP_LEVELS.values()))))]
    if kind == "orbits":  # SkullBreak: just below the orbits (the Frankfurt plane is the orbit floor)
        return kind, float(rng.uniform(-8.0, -2.0))
    if kind == "calvarium":  # the vault down to the upper orbits, no skull base
        return kind, float(rng.uniform(8.0, 18.0))
    return kind, None


def fov_edge_cut(bone: np.ndarray, rng: np.random.Generator, spacing: float) -> dict:
    """Cut 4–14 mm off one side (left, right, front or back) of the bone, as the edge of a field of view does.

    Args:
        bone: boolean mask on the build grid (changed in place).
        rng: random generator.
        spacing: voxel size in mm.

    Returns:
        ``{"axis", "side", "depth_mm"}``.
    """
    axis = int(rng.integers(0, 2))
    side = int(rng.integers(0, 2))
    depth = float(rng.uniform(4.0, 14.0))
    present = np.flatnonzero(bone.any(axis=tuple(a for a in range(3) if a != axis)))
    if present.size == 0:
        return {"axis": axis, "side": side, "depth_mm": 0.0}
    n = int(round(depth / spacing))
    index = [slice(None)] * 3
    index[axis] = slice(present[-1] + 1 - n, None) if side else slice(0, present[0] + n)
    bone[tuple(index)] = False
    return {"axis": axis, "side": side, "depth_mm": round(depth, 1)}
