"""Build a benchmark of REAL skulls with cut-in defects whose ground-truth implants are known.

Three complete (or, for SkullBreak, largely intact) real skulls from ``../shared/data/real``
become binary bone masks; defects are cut into them with fixed seeds, so every case has
its defective skull, its implant (the bone removed) and its complete skull, with
``defective ∪ implant = complete`` and ``defective ∩ implant = ∅``. The result is a
manifest of the layout ``skullvae synth`` writes (every skull in the ``test`` split), so
``skullvae evaluate --data OUT/manifest.json -o EVAL --match-components`` scores it.

Skulls:

* ``msr_double_shell``: ``msr_skull_double_shell.stl``, a decimated, open, non-manifold
  bone surface with outer and inner table, voxelised at ``--spacing`` by
  :func:`skullvae.io.mesh_voxelize.voxelize_double_shell` (mesh mm taken as LPS, identity
  direction; the flat cut 1 mm above its lowest point is capped).
* ``ct_pitch``: ``CT_pitch.nii.gz``, a head phantom in display values, bone = value ≥ 200
  plus the thin vault bone its 2.4 mm slices blur below 200 (see :func:`load_ct_pitch`),
  largest 26-connected piece (drops loose bits; the plastic objects and the plate lie
  below 200), in its own oblique (16.5° pitch) 0.8125 × 0.8125 × 2.397 mm grid.
* ``skullbreak_pt_001``: ``skullbreak_parietotemporal_001.nii.gz`` (0.4 mm, identity),
  which already lacks bone on its +x parietotemporal side; cropped to the bone
  plus 5 mm and resampled (linear, threshold 0.5) to ``--spacing`` unless that is 0.4.

Natural openings (cells of a ray map from the cranial centre, elevation ≥ -15°, that hold
no bone: the existing SkullBreak defect, the frontal opening of the phantom, the phantom's
side cut by the field of view) are recorded in the manifest; every implant must keep
``CLEARANCE_MM`` from them, and the existing SkullBreak defect is also located by
mirroring (bone on the right but not on the left). A placement that fails is retried
with the next seed (``seed = SEED_BASE[skull] + SET_STRIDE · set + attempt``); the seed used is recorded.
``--set K`` (default 0, the benchmark README reports) cuts other defects of the same types into the
same skulls: a tuning set that the reported set never sees.

Defect types: the six of :data:`skullvae.defects.DEFECT_TYPES` (``inject_defect``) and
four large flaps of this script, cut with the same ``defect_region`` cone and
``ellipse`` footprint: ``vertex_flap`` (about 90 mm front-back × 62 mm across, on the
midline; moved back in 5° steps, at most 30°, where the vertex is open),
``bifrontal_flap`` (about 118 × 60 mm across the forehead), ``occipital_flap`` (95 × 65 mm
across the midline behind) and ``hemicraniectomy`` (about 120 × 90 mm on one side, moved
back in 4° steps where the front is open). Sizes are arc lengths on the skull surface.
A type that fits nowhere on a skull within ``MAX_ATTEMPTS`` seeds is left out of that
case (``null`` in its ``files``): on ``skullbreak_pt_001`` the existing defect reaches too
far back for the occipital flap.

Left out: ``vtk_headsq_ct.nii.gz`` (stops at mid-cranium, no vault top) and
``ge_head_ct_dicom/`` (28 slices with 1.1–7.4 mm gaps, no full vault either): neither is
a complete skull from which a ground truth could be cut.

Usage::

    python benchmarks/make_real_benchmark.py OUT [--shared ../shared] [--spacing 0.5] [--overwrite]

Deterministic: two runs give byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from skullvae.data.manifest import SCHEMA_VERSION, write_manifest
from skullvae.defects import DEFECT_TYPES, defect_region, inject_defect, skull_geometry
from skullvae.defects.placement import direction_from_angles, surface_anchor, tangent_frame
from skullvae.defects.shapes import ellipse
from skullvae.errors import SkullVAEError
from skullvae.io import Volume, read_volume, write_volume
from skullvae.io.mesh_voxelize import voxelize_double_shell
from skullvae.preprocessing.crop import crop, nonzero_bbox
from skullvae.preprocessing.separable import resample_aligned

LARGE_TYPES = ("vertex_flap", "bifrontal_flap", "occipital_flap", "hemicraniectomy")
ALL_TYPES = tuple(DEFECT_TYPES) + LARGE_TYPES
SKULL_IDS = ("msr_double_shell", "ct_pitch", "skullbreak_pt_001")
SEED_BASE = {"msr_double_shell": 1000, "ct_pitch": 2000, "skullbreak_pt_001": 3000}
#: Seeds of defect set K start at ``SEED_BASE + SET_STRIDE · K`` (sets never share a seed: < 100 attempts).
SET_STRIDE = 100
MAX_ATTEMPTS = 12
CLEARANCE_MM = 10.0
#: Openings are looked for above this elevation from the cranial centre (below: orbits, base).
OPENING_MIN_ELEVATION_DEG = -15.0
#: Smaller empty patches of the ray map (thin bone at the skull base) are not openings.
OPENING_MIN_CM2 = 1.0
#: CT_pitch: thin bone between 120 and 200 is kept above this elevation, within this outer shell.
PITCH_VAULT_MIN_ELEVATION_DEG = -40.0
PITCH_SHELL_MM = 8.0
LAYOUT = {
    "complete": "complete/{skull_id}.nii.gz",
    "defective": "defective/{defect_type}/{skull_id}.nii.gz",
    "implant": "implant/{defect_type}/{skull_id}.nii.gz",
}
DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"


# ---------------------------------------------------------------- skulls
def largest_piece(mask: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Largest 26-connected piece of ``mask``; also the number of pieces and the second's size."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        raise SkullVAEError("empty bone mask")
    sizes = np.bincount(labels.ravel())[1:]
    order = np.argsort(sizes)[::-1]
    return labels == order[0] + 1, int(n), int(sizes[order[1]]) if n > 1 else 0


def load_msr(real: Path, spacing: float) -> tuple[Volume, dict]:
    """Voxelise the double-shell STL into a bone mask."""
    import trimesh

    path = real / "msr_skull_double_shell.stl"
    mesh = trimesh.load(path, force="mesh")
    cap_z = float(mesh.bounds[0][2]) + 1.0
    vol = voxelize_double_shell(mesh, spacing=spacing, margin_mm=4.0, closing_mm=1.5, cap_z=cap_z, keep_largest=False)
    bone, n, second = largest_piece(vol.array > 0)
    info = {"source_file": path.name, "preparation": (
        f"voxelize_double_shell(spacing={spacing}, margin_mm=4, closing_mm=1.5, cap_z=mesh min z + 1 mm = {cap_z:.2f}); "
        "mesh coordinates taken as LPS mm (face toward -y, vertex +z), identity direction"),
        "components_before_keep_largest": n, "second_component_voxels": second}
    return vol.with_array(bone.astype(np.uint8)), info


def load_ct_pitch(real: Path) -> tuple[Volume, dict]:
    """Bone of the phantom in its own oblique grid, thin vault bone kept by a hysteresis threshold.

    ``>= 200`` leaves out the plastic objects (152–160) but also the thin upper vault, whose
    2.4 mm slices blur it to 120–200: an 86 cm² false opening, and holes over the orbits. So
    above ``PITCH_VAULT_MIN_ELEVATION_DEG`` (elevation from the bone centroid) it also takes the voxels ``>= 120``
    (about half the bone plateau, the partial-volume edge) that connect to ``>= 200`` bone and
    lie within ``PITCH_SHELL_MM`` of the outermost such voxel along their ray from the
    centroid: the shell, not the objects deep inside it.
    """
    path = real / "CT_pitch.nii.gz"
    ct = read_volume(path)
    strict, _, _ = largest_piece(ct.array >= 200)
    from skimage.filters import apply_hysteresis_threshold

    grown = apply_hysteresis_threshold(ct.array.astype(np.float32), 120.0, 199.5)
    centre = ct.index_to_physical(np.argwhere(strict).mean(axis=0)[None])[0]

    def ray_bin_and_radius(mask):  # 2.5° (elevation, azimuth) bin and radius of each voxel
        idx = np.argwhere(mask)
        xyz = ct.index_to_physical(idx) - centre
        r = np.linalg.norm(xyz, axis=1)
        el = np.degrees(np.arcsin(np.clip(xyz[:, 2] / np.maximum(r, 1e-6), -1, 1)))
        az = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
        ray = np.clip(((el + 90) // 2.5).astype(int), 0, 71) * 144 + ((az + 180) // 2.5).astype(int) % 144
        return idx, ray, r, el

    _, ray_all, r_all, _ = ray_bin_and_radius(grown)
    outer = np.zeros(72 * 144)
    np.maximum.at(outer, ray_all, r_all)
    idx, ray, r, el = ray_bin_and_radius(grown & ~strict)
    keep = (el > PITCH_VAULT_MIN_ELEVATION_DEG) & (r >= outer[ray] - PITCH_SHELL_MM)
    added = np.zeros_like(strict)
    added[tuple(idx[keep].T)] = True
    bone, n, second = largest_piece(strict | added)
    info = {"source_file": path.name, "preparation": (
        "bone = value >= 200, plus (above "
        f"{PITCH_VAULT_MIN_ELEVATION_DEG:g} deg elevation from the bone centroid) voxels >= 120 connected to it and within "
        f"{PITCH_SHELL_MM:g} mm of the outermost such voxel on their ray; largest 26-connected piece; native oblique grid"),
        "components_before_keep_largest": n, "second_component_voxels": second,
        "voxels_ge_200": int(strict.sum()), "voxels_added_partial_volume": int((bone & ~strict).sum())}
    return ct.with_array(bone.astype(np.uint8)), info


def load_skullbreak(real: Path, spacing: float) -> tuple[Volume, dict]:
    """Crop the SkullBreak mask to its bone plus 5 mm and resample it to ``spacing``."""
    path = real / "skullbreak_parietotemporal_001.nii.gz"
    vol = read_volume(path)
    src = float(vol.spacing[0])
    if not (np.allclose(vol.spacing, src) and np.allclose(vol.direction, np.eye(3))):
        raise SkullVAEError(f"{path.name}: expected an isotropic identity-direction volume")
    lo, hi = nonzero_bbox(vol.array > 0, margin=int(round(5.0 / src)))
    box = crop(vol, lo, hi)
    box = box.with_array((box.array > 0).astype(np.float32))
    if abs(spacing - src) < 1e-6:
        out, origin = box.array > 0.5, box.origin
    else:  # the same physical box in cells of `spacing`
        n_out = tuple(int(n) for n in np.floor(np.asarray(box.shape) * src / spacing))
        origin = tuple(np.asarray(box.origin) + 0.5 * (spacing - src))
        target = Volume(np.broadcast_to(np.uint8(0), n_out), (spacing,) * 3, origin, np.eye(3))
        out = resample_aligned(box.array, box, target, threshold=0.5)
    bone, n, second = largest_piece(out)
    info = {"source_file": path.name, "preparation": (
        f"crop to the bone + 5 mm (input index {lo.tolist()}..{(hi - 1).tolist()}), "
        + ("kept at 0.4 mm" if abs(spacing - src) < 1e-6 else f"linear resampling {src:g} -> {spacing:g} mm, threshold 0.5")
        + ", largest 26-connected piece; identity direction"),
        "components_before_keep_largest": n, "second_component_voxels": second}
    return Volume(bone.astype(np.uint8), (spacing,) * 3, tuple(origin), np.eye(3)), info


# ------------------------------------------------------------ measurements
def ray_thickness(skull: Volume, geometry, elevations=range(15, 90, 10), azimuths=range(0, 360, 15)) -> np.ndarray:
    """Bone (mm) along each ray from the cranial centre, ``[len(elevations), len(azimuths)]`` (0 = no bone)."""
    step = 0.25 * min(skull.spacing)
    radii = np.arange(20.0, 140.0, step)
    out = []
    for el in elevations:
        for az in azimuths:
            d = direction_from_angles(az, el)
            pts = geometry.centre + radii[:, None] * d
            idx = np.round(skull.physical_to_index(pts)).astype(int)
            ok = np.all((idx >= 0) & (idx < np.array(skull.shape)), axis=1)
            hit = np.zeros(len(radii), bool)
            hit[ok] = skull.array[tuple(idx[ok].T)] > 0
            out.append(hit.sum() * step)
    return np.array(out).reshape(len(elevations), len(azimuths))


def vault_thickness(skull: Volume, geometry) -> dict:
    """Bone thickness along rays from the cranial centre over the vault (elevation 15–85°)."""
    out = ray_thickness(skull, geometry).ravel()
    open_rays = int((out == 0).sum())
    t = out[out > 0]
    return {"rays": len(out), "rays_without_bone": open_rays, "thickness_mm_min": round(float(t.min()), 2),
            "thickness_mm_p5": round(float(np.percentile(t, 5)), 2), "thickness_mm_median": round(float(np.median(t)), 2),
            "thickness_mm_p95": round(float(np.percentile(t, 95)), 2), "thickness_mm_max": round(float(t.max()), 2)}


def _lambert(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lambert azimuthal equal-area map about +z of unit vectors ``(N, 3)`` (areas = solid angles)."""
    k = np.sqrt(2.0 / np.maximum(1.0 + d[:, 2], 1e-9))
    return k * d[:, 0], k * d[:, 1]


@dataclass
class Openings:
    """Cells of a ray map from the cranial centre that hold no bone.

    Attributes:
        points: LPS points covering the openings (on the outer surface and 5 mm below).
        regions: one summary per opening (cells, area cm², centre, elevation range).
        empty: boolean cell grid of the openings kept.
        edges: cell edges of the (square) Lambert grid.
        centre: the cranial centre the rays start from.
    """

    points: np.ndarray
    regions: list
    empty: np.ndarray
    edges: np.ndarray
    centre: np.ndarray

    def along(self, points: np.ndarray, grow_cells: int = 1) -> np.ndarray:
        """Whether each LPS point lies on a ray through an opening (grown by ``grow_cells``)."""
        grid = ndimage.binary_dilation(self.empty, iterations=grow_cells) if grow_cells else self.empty
        q = points - self.centre
        x, y = _lambert(q / np.maximum(np.linalg.norm(q, axis=1), 1e-9)[:, None])
        n = len(self.edges) - 1
        ix, iy = np.digitize(x, self.edges) - 1, np.digitize(y, self.edges) - 1
        ok = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
        out = np.zeros(len(points), dtype=bool)
        out[ok] = grid[ix[ok], iy[ok]]
        return out


def openings(skull: Volume, geometry) -> Openings:
    """Where rays from the cranial centre meet no bone (above ``OPENING_MIN_ELEVATION_DEG``).

    The bone points' directions are binned on a Lambert equal-area map about +z (cells of
    at least 2.5 voxels at the median radius); connected empty cells of at least
    ``OPENING_MIN_CM2`` are openings. Each opening cell is placed at the outer radius of
    the nearest cell with bone.
    """
    q = geometry.points - geometry.centre.astype(np.float32)
    r = np.sqrt(np.einsum("ij,ij->i", q, q))
    d = q / np.maximum(r, 1e-6)[:, None]
    keep = d[:, 2] > -0.9
    x, y = _lambert(d[keep])
    cell = max(0.03, 2.5 * max(skull.spacing) / float(np.median(r)))
    edges = np.arange(-1.9, 1.9 + cell, cell)
    centres = (edges[:-1] + edges[1:]) / 2
    count, _, _ = np.histogram2d(x, y, bins=[edges, edges])
    ix = np.clip(np.digitize(x, edges) - 1, 0, len(centres) - 1)
    iy = np.clip(np.digitize(y, edges) - 1, 0, len(centres) - 1)
    rmax = np.zeros(count.shape)
    np.maximum.at(rmax, (ix, iy), r[keep])
    cx, cy = np.meshgrid(centres, centres, indexing="ij")
    rho2 = cx * cx + cy * cy
    dz = 1.0 - rho2 / 2.0
    empty = (dz >= np.sin(np.radians(OPENING_MIN_ELEVATION_DEG))) & (count == 0)
    _, nearest = ndimage.distance_transform_edt(count == 0, return_indices=True)
    radius = rmax[nearest[0], nearest[1]]
    s = np.sqrt(np.clip(1.0 - rho2 / 4.0, 0, None))
    dirs = np.stack([cx * s, cy * s, dz], axis=-1)
    labels, n = ndimage.label(empty)
    regions, pts = [], []
    kept = np.zeros_like(empty)
    for lab in range(1, n + 1):
        sel = labels == lab
        dd, rr = dirs[sel], radius[sel]
        area = float(sel.sum() * cell * cell * np.median(rr) ** 2 / 100.0)  # the map keeps areas: cell area = solid angle
        if area < OPENING_MIN_CM2:
            continue
        kept |= sel
        mean = dd.mean(axis=0) / np.linalg.norm(dd.mean(axis=0))
        el = np.degrees(np.arcsin(np.clip(dd[:, 2], -1, 1)))
        regions.append({"cells": int(sel.sum()), "area_cm2": round(area, 1),
                        "centre_lps": [round(float(v), 1) for v in geometry.centre + mean * np.median(rr)],
                        "elevation_deg": [round(float(el.min()), 1), round(float(el.max()), 1)]})
        for depth in (0.0, 5.0):
            pts.append(geometry.centre + dd * (rr - depth)[:, None])
    regions.sort(key=lambda g: -g["cells"])
    points = np.concatenate(pts) if pts else np.zeros((0, 3))
    return Openings(points, regions, kept, edges, np.asarray(geometry.centre, dtype=np.float64))


def mirror_hole(skull: Volume, geometry, found: Openings) -> tuple[np.ndarray, dict]:
    """The existing defect by mirroring: bone on the other side but none here (identity direction).

    Voxels of the sagittally mirrored skull (about the bounding-box midline) farther than
    2 mm from any bone, opened by a 1 mm ball, that lie on a ray through an opening of
    ``found``: mirroring alone also flags the skull's own asymmetry, the ray map alone
    does not give the missing bone's depth.

    Returns:
        ``(points, summary)``: LPS points of the missing bone and its volume and centre.
    """
    if len(found.points) == 0:
        return np.zeros((0, 3)), {"volume_cm3": 0.0}
    a = skull.array > 0
    s = skull.spacing[0]
    lo = np.clip(np.floor(skull.physical_to_index(found.points.min(axis=0) - 20.0)).astype(int), 0, None)
    hi = np.minimum(np.ceil(skull.physical_to_index(found.points.max(axis=0) + 20.0)).astype(int) + 1, a.shape)
    box = tuple(slice(l, h) for l, h in zip(lo, hi))
    # x -> 2 m - x  <=>  i -> c - i with c = 2 (m - ox) / s
    c = int(round(2 * (geometry.midline_x - skull.origin[0]) / s))
    src = c - np.arange(lo[0], hi[0])
    ok = (src >= 0) & (src < a.shape[0])
    mirrored = np.zeros(a[box].shape, dtype=bool)
    mirrored[ok] = a[src[ok], box[1], box[2]]
    r = int(round(2.0 / s))
    ball = np.add.outer(np.add.outer(np.arange(-r, r + 1) ** 2, np.arange(-r, r + 1) ** 2), np.arange(-r, r + 1) ** 2) <= r * r
    missing = mirrored & ~ndimage.binary_dilation(a[box], structure=ball)
    missing = ndimage.binary_opening(missing, structure=ball[::2, ::2, ::2])
    ijk = np.argwhere(missing) + lo
    pts = skull.index_to_physical(ijk)
    pts = pts[found.along(pts)]
    info = {"volume_cm3": round(float(len(pts) * np.prod(skull.spacing) / 1000), 1),
            "centre_lps": [round(float(v), 1) for v in pts.mean(axis=0)] if len(pts) else None}
    return pts, info


# ---------------------------------------------------------------- defects
def _arc_to_plane(rho: float, half_arc: float) -> float:
    """Tangent-plane half size whose gnomonic cone covers ``half_arc`` mm of arc at radius ``rho``."""
    return float(rho * np.tan(min(half_arc / rho, 1.2)))


def large_plan(kind: str, rng: np.random.Generator, attempt: int) -> tuple[np.ndarray, float, float, dict]:
    """Direction and arc sizes (across e1, along e2 of the tangent frame) of a large flap."""
    if kind == "vertex_flap":
        tilt = min(5.0 * attempt, 30.0) + rng.uniform(-4.0, 4.0)  # toward posterior when the vertex is open
        direction = np.array([rng.uniform(-0.03, 0.03), np.sin(np.radians(tilt)), np.cos(np.radians(tilt))])
        across, along = rng.uniform(58.0, 66.0), rng.uniform(85.0, 95.0)
        plan = {"posterior_tilt_deg": round(float(tilt), 1)}
    elif kind == "bifrontal_flap":
        el = rng.uniform(38.0, 46.0) + 4.0 * attempt
        direction = direction_from_angles(-90.0 + rng.uniform(-4.0, 4.0), min(el, 70.0))
        across, along = rng.uniform(112.0, 124.0), rng.uniform(55.0, 65.0)
        plan = {"elevation_deg": round(float(min(el, 70.0)), 1)}
    elif kind == "occipital_flap":
        el = rng.uniform(18.0, 30.0) + 3.0 * attempt
        direction = direction_from_angles(90.0 + rng.uniform(-4.0, 4.0), min(el, 60.0))
        across, along = rng.uniform(90.0, 100.0), rng.uniform(60.0, 70.0)
        plan = {"elevation_deg": round(float(min(el, 60.0)), 1)}
    elif kind == "hemicraniectomy":
        side = 1.0 if (attempt + int(rng.integers(0, 2))) % 2 == 0 else -1.0
        back = min(4.0 * attempt, 40.0)  # moved back in steps when the front is open
        azimuth = (0.0 if side > 0 else 180.0) + side * (back - rng.uniform(5.0, 15.0))  # a little anterior of the ear
        direction = direction_from_angles(azimuth, rng.uniform(20.0, 30.0))
        across, along = rng.uniform(115.0, 125.0), rng.uniform(85.0, 95.0)
        plan = {"side": "left" if side > 0 else "right", "azimuth_deg": round(float(azimuth), 1)}
    else:
        raise SkullVAEError(f"unknown large defect type {kind!r}")
    plan.update(arc_mm=[round(float(across), 1), round(float(along), 1)])
    return direction / np.linalg.norm(direction), across, along, plan


def cut_large(skull: Volume, geometry, kind: str, seed: int, attempt: int) -> tuple[np.ndarray | None, dict]:
    """Flat bone indices of one large flap (its largest 26-connected piece) and its plan."""
    rng = np.random.default_rng([int(seed), 100 + LARGE_TYPES.index(kind)])
    direction, across, along, plan = large_plan(kind, rng, attempt)
    rho = surface_anchor(geometry, direction)
    if rho is None:
        return None, plan
    e1, e2, w = tangent_frame(direction)
    # ellipse(): semi_u along e1, semi_v along e2; e1 is left-right on top and front, front-back on the side
    footprint = ellipse(rng, _arc_to_plane(rho, across / 2), _arc_to_plane(rho, along / 2), wobble_mm=4.0)
    inside = defect_region(geometry, direction, footprint)
    if inside is None or not inside.any():
        return None, plan
    ijk = np.stack(np.unravel_index(geometry.flat_index[inside], skull.shape), axis=1)
    lo = ijk.min(axis=0)
    crop = np.zeros(tuple(ijk.max(axis=0) - lo + 1), dtype=bool)
    crop[tuple((ijk - lo).T)] = True
    piece, _, _ = largest_piece(crop)
    return np.ravel_multi_index(tuple((np.argwhere(piece) + lo).T), skull.shape), plan


def distance_to(skull: Volume, points: np.ndarray) -> np.ndarray | None:
    """Distance (mm, float32) of every voxel centre from the voxels holding ``points``; None without points."""
    idx = np.round(skull.physical_to_index(points)).astype(int)
    idx = idx[np.all((idx >= 0) & (idx < np.array(skull.shape)), axis=1)]
    if len(idx) == 0:
        return None
    seeds = np.ones(skull.shape, dtype=bool)
    seeds[tuple(idx.T)] = False
    return ndimage.distance_transform_edt(seeds, sampling=skull.spacing).astype(np.float32)


def place(skull: Volume, geometry, kind: str, skull_id: str, forbidden: np.ndarray | None, seed_set: int = 0) -> dict:
    """First seed whose implant keeps ``CLEARANCE_MM`` from the openings (``seed`` None when none does).

    ``forbidden`` is :func:`distance_to` the openings (None: the skull has none).
    """
    voxel_mm3 = float(np.prod(skull.spacing))
    tried = []
    for attempt in range(MAX_ATTEMPTS):
        seed = SEED_BASE[skull_id] + SET_STRIDE * seed_set + attempt
        plan: dict = {}
        if kind in DEFECT_TYPES:
            try:
                _, implant = inject_defect(skull, kind, seed)
            except SkullVAEError as exc:
                tried.append(f"seed {seed}: {exc}")
                continue
            flat = np.flatnonzero(implant.array.reshape(-1))
        else:
            flat, plan = cut_large(skull, geometry, kind, seed, attempt)
            if flat is None or flat.size * voxel_mm3 < 5000.0:
                tried.append(f"seed {seed}: implant under 5 cm3")
                continue
        pts = skull.index_to_physical(np.stack(np.unravel_index(flat, skull.shape), axis=1))
        gap = float(forbidden.reshape(-1)[flat].min()) if forbidden is not None else None
        if gap is not None and gap < CLEARANCE_MM:
            tried.append(f"seed {seed}: {gap:.1f} mm from an opening")
            continue
        return {"seed": seed, "attempt": attempt, "flat": flat, "plan": plan, "gap_mm": gap, "rejected": tried,
                "implant_cm3": flat.size * voxel_mm3 / 1000.0, "centre_lps": pts.mean(axis=0)}
    return {"seed": None, "rejected": tried}


# ------------------------------------------------------------------ main
def build(out: Path, real: Path, spacing: float, overwrite: bool, seed_set: int = 0) -> list[tuple]:
    """Write every skull, defect and the manifest under ``out``; returns the case table rows."""
    started = time.perf_counter()
    loaders = {"msr_double_shell": lambda: load_msr(real, spacing), "ct_pitch": lambda: load_ct_pitch(real),
               "skullbreak_pt_001": lambda: load_skullbreak(real, spacing)}
    cases, rows = [], []
    for skull_id in SKULL_IDS:
        t0 = time.perf_counter()
        skull, info = loaders[skull_id]()
        geometry = skull_geometry(skull)
        info["thickness"] = vault_thickness(skull, geometry)
        found = openings(skull, geometry)
        info["openings"] = found.regions
        hole_pts = found.points
        if skull_id == "skullbreak_pt_001":
            mirror_pts, info["existing_defect_by_mirroring"] = mirror_hole(skull, geometry, found)
            hole_pts = np.concatenate([hole_pts, mirror_pts])
        forbidden = distance_to(skull, hole_pts) if len(hole_pts) else None
        info.update(shape=list(skull.shape), spacing_mm=[round(v, 6) for v in skull.spacing],
                    bone_cm3=round(float(skull.array.sum() * np.prod(skull.spacing) / 1000), 1))
        write_volume(skull, out / LAYOUT["complete"].format(skull_id=skull_id), overwrite=overwrite)
        files: dict = {"defective": {}, "implant": {}}
        defects: dict = {}
        for kind in ALL_TYPES:
            got = place(skull, geometry, kind, skull_id, forbidden, seed_set)
            if got["seed"] is None:
                files["defective"][kind] = files["implant"][kind] = None
                defects[kind] = {"placed": False, "rejected": got["rejected"]}
                rows.append((skull_id, kind, None, None, None))
                continue
            implant = np.zeros(skull.shape, dtype=np.uint8)
            implant.reshape(-1)[got["flat"]] = 1
            defective = skull.array.copy()
            defective.reshape(-1)[got["flat"]] = 0
            assert not (defective & implant).any() and np.array_equal(defective | implant, skull.array)
            write_volume(skull.with_array(defective), out / LAYOUT["defective"].format(defect_type=kind, skull_id=skull_id), overwrite=overwrite)
            write_volume(skull.with_array(implant), out / LAYOUT["implant"].format(defect_type=kind, skull_id=skull_id), overwrite=overwrite)
            defects[kind] = {"seed": got["seed"], "implant_cm3": round(got["implant_cm3"], 2),
                             "implant_centre_lps": [round(float(v), 1) for v in got["centre_lps"]],
                             "min_distance_to_opening_mm": None if got["gap_mm"] is None else round(got["gap_mm"], 1),
                             **({"plan": got["plan"]} if got["plan"] else {}),
                             **({"rejected_seeds": got["rejected"]} if got["rejected"] else {})}
            rows.append((skull_id, kind, got["seed"], got["implant_cm3"], got["gap_mm"]))
        if not files["defective"]:
            files = {}
        case = {"skull_id": skull_id, "split": "test", **({"files": files} if files else {}), **info, "defects": defects}
        cases.append(case)
        print(f"{skull_id}: {skull.shape} at {skull.spacing[0]:.4g} mm, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    data = {
        "schema_version": SCHEMA_VERSION,
        "name": "real_benchmark",
        "description": ("Real skulls (a voxelised CT bone surface, a CT head phantom, a SkullBreak skull) with defects cut "
                        "in by benchmarks/make_real_benchmark.py; ground-truth implants are the bone removed. All test."),
        "layout": dict(LAYOUT),
        "defect_types": list(ALL_TYPES),
        "spacing_mm": [None, None, None],
        "shape": [None, None, None],
        "source": "../shared/data/real (see its README.md): msr_skull_double_shell.stl, CT_pitch.nii.gz, skullbreak_parietotemporal_001.nii.gz",
        "licence": ("derived data; msr_skull_double_shell.stl: MIT (vfmatzkin/mesh-skull-reconstruction), probably CQ500 "
                    "(CC BY-NC-SA 4.0); CT_pitch.nii.gz: BSD-2-Clause (niivue/niivue-demo-images); "
                    "skullbreak_parietotemporal_001.nii.gz: SkullBreak CC BY 4.0, from CQ500 CC BY-NC-SA 4.0"),
        "citation": "Kodym et al., Data in Brief 35:106902 (2021) for SkullBreak; skullvae benchmarks/make_real_benchmark.py",
        "notes": (f"spacing {spacing} mm except ct_pitch (native oblique 0.8125 x 0.8125 x 2.397 mm); implants keep "
                  f"{CLEARANCE_MM:g} mm from natural openings (cases[].openings; ct_pitch's thin bone is kept by a hysteresis "
                  "threshold, see its preparation; skullbreak_pt_001 has its own "
                  "parietotemporal defect on the +x side); seeds per case in cases[].defects; defect set "
                  f"{seed_set}{' (the reported benchmark)' if seed_set == 0 else ' (a tuning set)'}"),
        "splits": {"fixed": ["test"]},
        "cases": cases,
    }
    write_manifest(data, out / "manifest.json", overwrite=overwrite)
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder (manifest.json and NIfTI masks)")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder holding data/real (default ../shared)")
    parser.add_argument("--spacing", type=float, default=0.5, help="voxel size (mm) of the STL and SkullBreak skulls")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    parser.add_argument("--set", type=int, default=0, dest="seed_set",
                        help="defect set: 0 (default) is the reported benchmark, 1, 2, ... other defects for tuning")
    args = parser.parse_args(argv)
    real = args.shared / "data" / "real"
    needed = ("msr_skull_double_shell.stl", "CT_pitch.nii.gz", "skullbreak_parietotemporal_001.nii.gz")
    if not real.is_dir() or not all((real / f).is_file() for f in needed):
        missing = [f for f in needed if not (real / f).is_file()]
        print(f"make_real_benchmark: error: real data not found: {real} lacks {', '.join(missing)} "
              "(pass --shared to the folder that holds data/real)", file=sys.stderr)
        return 2
    if not 0.2 <= args.spacing <= 2.0:
        print(f"make_real_benchmark: error: --spacing must be 0.2-2 mm, got {args.spacing}", file=sys.stderr)
        return 2
    if args.out.is_dir() and any(args.out.iterdir()) and not args.overwrite:
        print(f"make_real_benchmark: error: output folder is not empty: {args.out} (pass --overwrite)", file=sys.stderr)
        return 2
    if args.seed_set < 0:
        print(f"make_real_benchmark: error: --set must be ≥ 0, got {args.seed_set}", file=sys.stderr)
        return 2
    rows = build(args.out, real, args.spacing, args.overwrite, args.seed_set)
    print(f"\n{'skull':<20} {'defect type':<16} {'seed':>5} {'implant cm3':>12} {'to opening mm':>14}")
    for skull_id, kind, seed, cm3, gap in rows:
        if seed is None:
            print(f"{skull_id:<20} {kind:<16} {'-':>5} {'not placed':>12} {'':>14}")
        else:
            print(f"{skull_id:<20} {kind:<16} {seed:>5} {cm3:>12.1f} {'-' if gap is None else f'{gap:.1f}':>14}")
    print(f"\n{sum(r[2] is not None for r in rows)} cases; manifest: {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main, __file__)
