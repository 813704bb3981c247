"""Training skulls from real complete skull masks: smooth random deformation of a template.

A template is a complete skull mask (any grid, spacing and direction, in roughly the
canonical pose: face toward −y, vertex toward +z in LPS). :func:`deform_template`
makes a new skull from it on the grid :func:`~skullvae.phantoms.synth_skull` uses
(``shape`` × ``spacing``, identity direction, bone bounding box centred) by a backward map
of every output voxel ``p`` into the template::

    q = c + R · (p / s) + u(p)

with ``s`` an anisotropic scaling (each axis ×0.93–1.07), ``R`` a rotation of up to
``max_rotation_deg``, ``u`` a smooth random displacement (cubic B-spline on a 40 mm
control grid, a few mm) and ``c`` the centre of the template's bone box. The bone is
read from the template's signed distance (mm), so the thickness can change too: where a
smooth random field ``t(p)`` (±1 mm) is positive the inner table grows inward by ``t``,
where it is negative it recedes; the outer table keeps its (deformed) shape. "Inner" is
where the distance grows toward the cranial centre.

Users point ``skullvae synth --templates MANIFEST`` at their own complete skulls: any
manifest of schema v1 whose cases have a ``complete`` file (:func:`load_templates`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume
from skullvae.phantoms.fields import smooth_field

#: Each axis is scaled by a factor drawn from this range.
SCALE_RANGE = (0.93, 1.07)
#: Standard deviation (mm) of the displacement field's control coefficients, and its control spacing.
DISPLACEMENT_MM = 2.0
DISPLACEMENT_CTRL_MM = 40.0
#: Inner-table change: field amplitude (mm), control spacing, clip.
THICKNESS_MM = 0.6
THICKNESS_CTRL_MM = 30.0
THICKNESS_CLIP_MM = (-0.9, 1.2)
TEMPLATE_ROTATION_DEG = 4.0


@dataclass
class Template:
    """A prepared template: signed distance to its bone on its own grid.

    Attributes:
        name: the skull id it came from.
        volume: the bone mask's geometry (``array`` = signed distance in mm, < 0 in bone).
        centre: centre of the bone's bounding box (LPS mm).
        cranial_centre: the point "inside" is measured from (LPS mm).
        gradient: unit-free gradient of the signed distance, ``(3, *shape)`` float32, per index axis.
    """

    name: str
    volume: Volume
    centre: np.ndarray
    cranial_centre: np.ndarray
    gradient: np.ndarray


def prepare_template(mask: Volume, name: str = "template") -> Template:
    """Signed distance (mm), its gradient and the centres of one complete skull mask.

    Args:
        mask: binary complete skull mask (non-zero = bone), any geometry.
        name: its id.

    Returns:
        The :class:`Template`.

    Raises:
        SkullVAEError: an empty mask.
    """
    bone = np.asarray(mask.array) > 0
    if not bone.any():
        raise SkullVAEError(f"template {name}: the mask has no bone")
    lo = np.argwhere(bone).min(axis=0)
    hi = np.argwhere(bone).max(axis=0) + 1
    margin = np.ceil(6.0 / np.asarray(mask.spacing)).astype(int)
    lo, hi = np.maximum(lo - margin, 0), np.minimum(hi + margin, bone.shape)
    bone = bone[tuple(slice(a, b) for a, b in zip(lo, hi))]
    origin = mask.index_to_physical(lo)
    sdf = (ndimage.distance_transform_edt(~bone, sampling=mask.spacing)
           - ndimage.distance_transform_edt(bone, sampling=mask.spacing)).astype(np.float32)
    vol = Volume(sdf, mask.spacing, origin, mask.direction)
    pts = vol.index_to_physical(np.argwhere(bone)[:: max(1, int(bone.sum()) // 200000)])
    low, high = pts.min(axis=0), pts.max(axis=0)
    centre = (low + high) / 2.0
    breadth = high[0] - low[0]
    cranial = np.array([centre[0], centre[1], high[2] - 0.5 * breadth])  # as skull_geometry places it
    gradient = np.stack(np.gradient(sdf), axis=0).astype(np.float32)
    return Template(name, vol, centre, cranial, gradient)


def deform_template(template: Template, seed: int, shape=144, spacing: float = 1.6,
                    max_rotation_deg: float = TEMPLATE_ROTATION_DEG) -> Volume:
    """A new skull: the template smoothly deformed, scaled, re-thickened and turned a little.

    Args:
        template: from :func:`prepare_template`.
        seed: random seed (the same seed gives the same skull).
        shape: output grid size (int or three ints).
        spacing: output voxel size (mm).
        max_rotation_deg: largest random rotation.

    Returns:
        uint8 {0, 1} :class:`Volume` like :func:`~skullvae.phantoms.synth_skull`'s: identity
        direction, bone box centred, grid centre at the origin.

    Raises:
        SkullVAEError: the output grid cannot hold the deformed skull.
    """
    from skullvae.phantoms.skull import _as_dims, _centre, _random_rotation

    dims = _as_dims(shape)
    rng = np.random.default_rng(int(seed))
    scale = rng.uniform(*SCALE_RANGE, size=3)
    rotation = _random_rotation(rng, max_rotation_deg)
    axes = [((np.arange(n) - (n - 1) / 2.0) * spacing).astype(np.float32) for n in dims]
    shift = [smooth_field(rng, axes, DISPLACEMENT_CTRL_MM, DISPLACEMENT_MM) for _ in range(3)]
    change = np.clip(smooth_field(rng, axes, THICKNESS_CTRL_MM, THICKNESS_MM), *THICKNESS_CLIP_MM)
    vol = template.volume
    # index of q = c + R (p / s) + u  in the template grid, built axis by axis to bound memory
    to_index = (vol.direction.T / np.asarray(vol.spacing)[:, None]).astype(np.float32)  # physical -> index
    m = to_index @ rotation.astype(np.float32) / scale.astype(np.float32)[None, :]
    offset = (to_index @ (template.centre - np.asarray(vol.origin))).astype(np.float32)
    idx = []
    for a in range(3):
        comp = (m[a, 0] * axes[0][:, None, None] + m[a, 1] * axes[1][None, :, None]
                + m[a, 2] * axes[2][None, None, :] + offset[a])
        for b in range(3):
            comp = comp + to_index[a, b] * shift[b]
        idx.append(comp.astype(np.float32))
    del shift
    coords = np.stack(idx)
    del idx
    sdf = ndimage.map_coordinates(vol.array, coords, order=1, mode="constant", cval=1e3)
    near = np.abs(sdf) < max(abs(THICKNESS_CLIP_MM[0]), THICKNESS_CLIP_MM[1]) + 0.5
    bone = sdf < 0
    if near.any():
        c = coords[:, near]
        grad = np.stack([ndimage.map_coordinates(template.gradient[a], c, order=1, mode="nearest") for a in range(3)])
        grad_mm = vol.direction @ (grad / np.asarray(vol.spacing)[:, None])  # d sdf / d physical
        pts = vol.index_to_physical(c.T).T
        # near the inner table the distance grows toward the cranial centre (in the cavity and in the bone)
        inner = np.einsum("ij,ij->j", grad_mm, pts - template.cranial_centre[:, None]) < 0
        t = change[near]
        s = sdf[near]
        grow = inner & (t > 0) & (s >= 0) & (s < t)
        recede = inner & (t < 0) & (s < 0) & (s > t)
        flat = np.flatnonzero(near.reshape(-1))
        bone.reshape(-1)[flat[grow]] = True
        bone.reshape(-1)[flat[recede]] = False
    out = _centre(bone, dims)
    if out is None:
        raise SkullVAEError(
            f"template {template.name}: the grid {'×'.join(f'{n * spacing:.0f}' for n in dims)} mm cannot hold the "
            "deformed skull; increase --shape or --spacing")
    origin = -(np.asarray(dims, dtype=np.float64) - 1.0) / 2.0 * spacing
    return Volume(out.astype(np.uint8), (float(spacing),) * 3, origin, np.eye(3))


def load_templates(manifest_path: str | os.PathLike, ids: list[str] | None = None) -> list[Template]:
    """Prepare the complete skulls of a manifest (schema v1) as templates.

    Args:
        manifest_path: a manifest whose cases have ``complete`` files.
        ids: only these skull ids (default: every case with a complete skull).

    Returns:
        One :class:`Template` per skull, in manifest order.

    Raises:
        SkullVAEError: no usable case, an unknown id, or a missing file.
    """
    from skullvae.data.manifest import load_manifest
    from skullvae.io.readers import read_volume

    manifest = load_manifest(manifest_path)
    cases = [c for c in manifest.cases if c.complete is not None]
    if ids is not None:
        known = {c.skull_id: c for c in cases}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise SkullVAEError(f"template id(s) {', '.join(unknown)} not among the complete skulls of {manifest_path} "
                                f"({', '.join(known) or 'none'})")
        cases = [known[i] for i in ids]
    if not cases:
        raise SkullVAEError(f"{manifest_path} has no case with a complete skull to use as a template")
    for c in cases:
        if not Path(c.complete).is_file():
            raise SkullVAEError(f"template file not found: {c.complete}")
    return [prepare_template(read_volume(c.complete), c.skull_id) for c in cases]
