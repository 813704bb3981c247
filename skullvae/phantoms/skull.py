"""Synthetic adult skull masks from implicit surfaces.

The skull is built in millimetres (see :mod:`skullvae.phantoms.anatomy` for the
coordinates): a cranial vault shell (blend of an ellipsoid and a rounded box, egg
shaped, thicker frontal and occipital bone, thin temporal squama) closed below by a
stepped skull base (anterior, middle and posterior fossae, petrous ridges, clivus,
foramen magnum, condyles, mastoids), and a facial skeleton (orbits, nasal aperture,
maxilla with sinuses and alveolar arch, zygomatic bones and arches, brow ridges).
Every voxel's coordinates are bent by a smooth random displacement field before the
shapes are tested, so no two skulls are alike and left and right differ slightly.

Canonical pose (same as the SkullBreak volumes): identity direction, array axis 0 →
patient left (+L), axis 1 → posterior (+P; the face looks toward index 0), axis 2 →
superior (+S).
"""

from __future__ import annotations

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume
from skullvae.phantoms.anatomy import SkullParameters, largest_extent_mm, sample_parameters
from skullvae.phantoms.fields import smooth_field
from skullvae.phantoms.face import base_parts, face_parts
from skullvae.phantoms.primitives import Primitive
from skullvae.phantoms.realism import (REAL_BREADTH_RANGE, REAL_HEIGHT_RANGE, REAL_LENGTH_RANGE, REAL_ROTATION_DEG,
                                       MAX_OCCIPITAL_BUN_MM, artefact_parts, check_realism, crop_plan, fov_edge_cut,
                                       partial_volume_limit, real_thickness, sample_real_parameters)

_MARGIN_MM = 3.0


def synth_skull(seed: int, shape: int = 256, spacing: float = 0.8, max_rotation_deg: float | None = None,
                realism: str = "smooth") -> Volume:
    """Synthesise one adult skull mask, deterministically from ``seed``.

    Args:
        seed: random seed; the same seed gives the same skull (byte for byte).
        shape: grid size (voxels per axis; an int or three ints).
        spacing: isotropic voxel size in mm.
        max_rotation_deg: largest random rotation away from the canonical pose
            (None: 0 for ``"smooth"``, :data:`~skullvae.phantoms.realism.REAL_ROTATION_DEG` for ``"real"``).
        realism: ``"smooth"`` (regular, closed skulls cut at the maxilla) or ``"real"``
            (the variation, thickness, artefacts and crops of :mod:`skullvae.phantoms.realism`).

    Returns:
        uint8 {0, 1} :class:`Volume`, identity direction, skull centred in the grid,
        the grid centre at the physical origin.

    Raises:
        SkullVAEError: the field of view (shape × spacing) cannot hold the skull.
    """
    dims = _as_dims(shape)
    check_realism(realism)
    max_rotation_deg = default_rotation(realism, max_rotation_deg)
    if not spacing > 0:
        raise SkullVAEError(f"spacing must be positive, got {spacing}")
    if max_rotation_deg < 0 or max_rotation_deg > 45:
        raise SkullVAEError(f"max rotation must be between 0 and 45 degrees, got {max_rotation_deg}")
    bone = _generate(seed, dims, float(spacing), max_rotation_deg, pad=0, realism=realism)
    if bone is None:
        # The random deformation pushed the skull against the border: build it again
        # (same seed) on a grid padded by 2 cm per side, then centre it
        # in the requested grid. Skulls that fit the first time are unaffected.
        bone = _generate(seed, dims, float(spacing), max_rotation_deg, pad=int(np.ceil(20.0 / spacing)), realism=realism)
        if bone is None:
            raise SkullVAEError(
                f"field of view {_fmt(np.asarray(dims) * spacing)} mm is too small: the skull touches the grid border"
            )
    origin = -(np.asarray(dims, dtype=np.float64) - 1.0) / 2.0 * spacing
    return Volume(bone.astype(np.uint8), (float(spacing),) * 3, origin, np.eye(3))


def default_rotation(realism: str, max_rotation_deg: float | None) -> float:
    """The largest rotation used when none is given: 0 (smooth) or a few degrees of pose jitter (real)."""
    if max_rotation_deg is not None:
        return float(max_rotation_deg)
    return REAL_ROTATION_DEG if realism == "real" else 0.0


def check_field_of_view(shape, spacing: float, max_rotation_deg: float | None = None, realism: str = "smooth") -> None:
    """Refuse a grid too small for the largest skull :func:`synth_skull` can make.

    Args:
        shape: grid size (int or three ints).
        spacing: voxel size in mm.
        max_rotation_deg: largest random rotation (None: the realism's default).
        realism: ``"smooth"`` or ``"real"`` (larger skulls).

    Raises:
        SkullVAEError: with the field of view needed.
    """
    dims = _as_dims(shape)
    max_rotation_deg = default_rotation(check_realism(realism), max_rotation_deg)
    if realism == "real":
        low, high = largest_extent_mm(REAL_LENGTH_RANGE, REAL_BREADTH_RANGE, REAL_HEIGHT_RANGE, MAX_OCCIPITAL_BUN_MM)
    else:
        low, high = largest_extent_mm()
    angle = np.deg2rad(max_rotation_deg)
    # Worst case over rotation axes: every extent may pick up the others' sine share.
    size = high - low
    worst = size * np.cos(angle) + (size.sum() - size) * np.sin(angle)
    _check_fov(np.maximum(size, worst), np.eye(3), dims, spacing)


def _check_fov(size, rotation, dims, spacing) -> np.ndarray:
    fov = np.asarray(dims, dtype=np.float64) * spacing
    need = _rotated_extent(np.asarray(size), rotation) + 2 * _MARGIN_MM
    if np.any(need > fov):
        raise SkullVAEError(
            f"field of view {_fmt(fov)} mm (shape × spacing) is too small for a skull "
            f"(needs about {_fmt(need)} mm); increase --shape or --spacing"
        )
    return fov


class _Coords:
    """Skull coordinates (mm) of every voxel, bent by a smooth random displacement."""

    def __init__(self, rng, dims, spacing, rotation, centre, deform_mm):
        self.dims = dims
        self.spacing = spacing
        self.rotation = rotation
        self.centre = np.asarray(centre, dtype=np.float32)
        axes = [((np.arange(n) - (n - 1) / 2.0) * spacing).astype(np.float32) for n in dims]
        self.max_shift = 4.0 * deform_mm + 2.0
        coarse = [smooth_field(rng, axes, 45.0, deform_mm) for _ in range(3)]
        fine = [smooth_field(rng, axes, 22.0, 0.35 * deform_mm) for _ in range(3)]
        rt = rotation.T.astype(np.float32)
        out = []
        for d in range(3):
            comp = (
                rt[d, 0] * axes[0][:, None, None] + rt[d, 1] * axes[1][None, :, None] + rt[d, 2] * axes[2][None, None, :]
            )
            comp = comp + self.centre[d]
            comp = comp + coarse[d]
            comp += fine[d]
            out.append(comp.astype(np.float32, copy=False))
        self.X, self.Y, self.Z = out

    def box(self, low, high) -> tuple[slice, slice, slice]:
        """Index slices of every voxel whose skull coordinates may lie in the box."""
        corners = np.array(np.meshgrid(*zip(low, high), indexing="ij")).reshape(3, -1).T
        grid_mm = (corners - self.centre) @ self.rotation.T
        lo = grid_mm.min(axis=0) - self.max_shift
        hi = grid_mm.max(axis=0) + self.max_shift
        dims = np.asarray(self.dims)
        i0 = np.clip(np.floor(lo / self.spacing + (dims - 1) / 2.0), 0, dims).astype(int)
        i1 = np.clip(np.ceil(hi / self.spacing + (dims - 1) / 2.0) + 1, 0, dims).astype(int)
        return tuple(slice(a, b) for a, b in zip(i0, i1))  # type: ignore[return-value]

    def at(self, sl):
        """Coordinate arrays restricted to ``sl``."""
        return self.X[sl], self.Y[sl], self.Z[sl]


def _sigmoid(x):
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _vault_distance(X, Y, Z, p: SkullParameters) -> np.ndarray:
    """Approximate signed distance (mm, > 0 outside) to the outer vault surface."""
    a = np.float32(p.breadth / 2.0)
    zc = Z - np.float32(p.equator_z)
    back = np.float32(p.back)
    if p.realism == "real":  # forehead leaning back, plagiocephalic skew, occipital bun
        Y = Y - np.float32(p.forehead_slope) * np.maximum(zc, 0) * _sigmoid(-Y / 10.0) + np.float32(p.skew) * X
        back = back + np.float32(p.occipital_bun) * np.exp(-((zc - 5.0) / 22.0) ** 2 - (X / 40.0) ** 2)
    taper = 1.0 - np.float32(p.forehead_taper) * np.clip(-Y / np.float32(p.front), 0.0, 1.0) ** 2
    side = np.where(X > 0, a * np.float32(1.0 + p.asymmetry), a * np.float32(1.0 - p.asymmetry))
    u = X / (side * taper)
    v = Y / np.where(Y < 0, np.float32(p.front), back)
    w = zc / np.where(zc > 0, np.float32(p.vertex_z - p.equator_z), np.float32(p.lower_half_height))
    u2, v2, w2 = u * u, v * v, w * w
    # Boxy in the coronal plane (near-vertical side walls, flat top), oval from above.
    s = 0.45 * np.sqrt(u2 + w2) + 0.55 * np.sqrt(np.sqrt(u2 * u2 + w2 * w2))
    r = np.sqrt(s * s + v2)
    radius = np.sqrt(X * X + Y * Y + zc * zc)
    return radius * (1.0 - 1.0 / np.maximum(r, 1e-3))


def _thickness(X, Y, Z, p: SkullParameters, noise) -> np.ndarray:
    """Vault thickness (mm): thick frontal and occipital bone, thin temporal squama."""
    a = p.breadth / 2.0
    frontal = _sigmoid((-Y - 0.35 * p.front) / 12.0) * _sigmoid((Z - 25.0) / 10.0)
    occipital = np.exp(-(((Y - 0.8 * p.back) / 38.0) ** 2) - ((Z - p.equator_z + 8.0) / 32.0) ** 2)
    temporal = (
        np.exp(-(((Z - 18.0) / 26.0) ** 2)) * np.clip((np.abs(X) - 0.5 * a) / (0.3 * a), 0.0, 1.0) * np.exp(-((Y / 55.0) ** 2))
    )
    t = p.thickness_mean + 1.6 * frontal + 2.6 * occipital - 2.8 * temporal + noise
    return np.clip(t, 4.2, 9.8)


def _floor(X, Y, p: SkullParameters) -> tuple[np.ndarray, np.ndarray]:
    """Endocranial floor height and the height of the base's outer surface.

    The anterior fossa (orbital roofs, cribriform plate) is high, the middle fossae
    low beside a raised sella, the posterior fossa lowest around the foramen magnum;
    the petrous ridges are solid bone between middle and posterior fossae.
    """
    ax = np.abs(X)
    z_ant = 23.0 + 12.0 * np.exp(-(((ax - 28.0) / 13.0) ** 2))
    z_mid = -6.0 + 17.0 * np.exp(-((X / 12.0) ** 2))
    z_post = -15.0 + 0.004 * X * X
    if p.realism == "real":  # fossae higher or lower
        z_ant = z_ant + p.anterior_fossa_mm
        z_post = z_post + p.posterior_fossa_mm
    y_wing = -p.front + 60.0 - 0.35 * ax
    y_ridge = -6.0 + 0.5 * ax
    floor = z_ant + (z_mid - z_ant) * _sigmoid((Y - y_wing) / 3.0) + (z_post - z_mid) * _sigmoid((Y - y_ridge) / 3.0)
    ridge = 13.0 * np.exp(-(((Y - y_ridge + 2.0) / 5.5) ** 2)) * np.clip((ax - 8.0) / 10.0, 0.0, 1.0)
    base_thickness = 3.0 + 1.5 * _sigmoid((Y - y_wing) / 4.0)
    return floor + ridge, floor - base_thickness


def _build_bone(coords: _Coords, p: SkullParameters, rng: np.random.Generator) -> np.ndarray:
    """Evaluate every part of the skull on the grid; returns a boolean array."""
    X, Y, Z = coords.X, coords.Y, coords.Z
    real = p.realism == "real"
    axes = [((np.arange(n) - (n - 1) / 2.0) * coords.spacing).astype(np.float32) for n in coords.dims]
    thickness_noise = smooth_field(rng, axes, 40.0, 0.8 if not real else 2.0)
    if real:  # the irregular inner table, and where thin bone is lost to partial volume
        thickness_noise += smooth_field(rng, axes, 10.0, 1.2)
        lost_limit, lost_noise = partial_volume_limit(rng), smooth_field(rng, axes, 15.0, 0.5)
    d = _vault_distance(X, Y, Z, p)
    band_depth = 10.0 if not real else 12.0
    # Thickness is only needed in the band just inside the outer surface.
    band = np.flatnonzero((d < 0) & (d > -band_depth))
    Xb, Yb, Zb = X.reshape(-1)[band], Y.reshape(-1)[band], Z.reshape(-1)[band]
    thickness = real_thickness if real else _thickness
    t = thickness(Xb, Yb, Zb, p, thickness_noise.reshape(-1)[band])
    cavity = d <= -band_depth
    cavity.reshape(-1)[band] = d.reshape(-1)[band] + t < 0
    bone = (d < 0) & ~cavity
    if real and lost_limit > 0:
        bone.reshape(-1)[band[t + lost_noise.reshape(-1)[band] < lost_limit]] = False
    del t, Xb, Yb, Zb, band, thickness_noise
    # Below the equator the base closes the cavity; above it the floor cannot reach.
    big = 1e4
    sl = coords.box((-big, -big, -big), (big, big, p.equator_z))
    inner = np.flatnonzero(d[sl] < 0)
    Xs, Ys, Zs = (c[sl].reshape(-1)[inner] for c in (X, Y, Z))
    floor, outer = _floor(Xs, Ys, p)
    cav_sl = np.ascontiguousarray(cavity[sl])
    bone_sl = np.zeros(cav_sl.shape, dtype=bool)
    cav = cav_sl.reshape(-1)[inner] & (Zs > floor)
    cav_sl.reshape(-1)[inner] = cav
    bone_sl.reshape(-1)[inner] = (Zs > outer) & ~cav
    cavity[sl] = cav_sl
    bone[sl] = bone_sl
    del d, floor, outer, Xs, Ys, Zs
    for part in base_parts(p) + face_parts(p):
        _apply(bone, cavity, coords, part)
    if real:
        _real_finish(bone, cavity, coords, p, rng)
    return bone


def _real_finish(bone: np.ndarray, cavity: np.ndarray, coords: _Coords, p: SkullParameters, rng) -> None:
    """Pinholes, cracks and the crop level of a ``"real"`` skull (in place)."""
    for part in artefact_parts(rng, p, coords.spacing):
        _apply(bone, cavity, coords, part)
    kind, z_cut = crop_plan(rng, p)
    if z_cut is not None:
        bone &= coords.Z >= np.float32(z_cut)
    elif kind == "fov_edge":
        fov_edge_cut(bone, rng, coords.spacing)


def _apply(bone: np.ndarray, cavity: np.ndarray, coords: _Coords, part: Primitive) -> None:
    sl = coords.box(part.low, part.high)
    if any(s.stop <= s.start for s in sl):
        return
    inside = part.inside(*coords.at(sl))
    if part.op == "add":
        bone[sl] |= inside & ~cavity[sl]
    else:
        bone[sl] &= ~inside


def _random_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """Rotation about a random axis by up to ``max_deg`` (numbers drawn even when 0)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(max_deg) * rng.uniform(-1.0, 1.0)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _rotated_extent(size: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    return np.abs(rotation) @ size


def _generate(seed: int, dims, spacing: float, max_rotation_deg: float, pad: int,
              realism: str = "smooth") -> np.ndarray | None:
    """Build the skull on ``dims`` padded by ``pad`` voxels per side, centred in ``dims``.

    Returns:
        The boolean mask, or None when the skull touches the border of the build grid
        or does not fit ``dims``.
    """
    rng = np.random.default_rng(int(seed))
    params = sample_real_parameters(rng) if realism == "real" else sample_parameters(rng)
    rotation = _random_rotation(rng, max_rotation_deg)
    low, high = params.extent_mm()
    _check_fov(high - low, rotation, dims, spacing)
    build = tuple(int(n) + 2 * pad for n in dims)
    coords = _Coords(rng, build, spacing, rotation, (low + high) / 2.0, params.deform_mm)
    return _centre(_build_bone(coords, params, rng), dims)


def _centre(bone: np.ndarray, dims) -> np.ndarray | None:
    """Move the mask (whole voxels) so its bounding box is centred in a ``dims`` grid.

    Returns None for a clipped skull (touching the build grid's border) or one
    larger than ``dims``.
    """
    idx = [np.flatnonzero(bone.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
    if any(i.size == 0 for i in idx):
        raise SkullVAEError("the synthetic skull came out empty; the grid is too coarse")
    if any(i[0] == 0 or i[-1] == n - 1 for i, n in zip(idx, bone.shape)):
        return None
    if any(int(i[-1]) + 1 - int(i[0]) > n for i, n in zip(idx, dims)):
        return None
    out = np.zeros(tuple(dims), dtype=bone.dtype)
    src, dst = [], []
    for i, n in zip(idx, dims):
        lo, hi = int(i[0]), int(i[-1]) + 1
        start = (n - (hi - lo)) // 2
        src.append(slice(lo, hi))
        dst.append(slice(start, start + hi - lo))
    out[tuple(dst)] = bone[tuple(src)]
    return out


def _as_dims(shape) -> tuple[int, int, int]:
    dims = (int(shape),) * 3 if np.isscalar(shape) else tuple(int(s) for s in shape)
    if len(dims) != 3 or min(dims) < 8:
        raise SkullVAEError(f"shape must be an int or three ints ≥ 8, got {shape!r}")
    return dims  # type: ignore[return-value]


def _fmt(values) -> str:
    return "×".join(f"{v:.0f}" for v in values)
