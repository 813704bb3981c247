"""The skull's anatomical pose: is a scan stored upright, upside down or face-back?

A header can be wrong or missing (headsq: neck toward +S under an identity header),
and everything after preprocessing assumes the patient axes of an upright skull: the
model grid keeps the vault below the highest bone, the rim step calls the lowest
directions the open skull base. :func:`detect_pose` reads the pose from the anatomy
on a 3 mm copy of the mask, in the scan's patient axes (L, P, S):

* **the skull base and face**: bone *deep inside* the skull's hull (more than
  :data:`INTERIOR_DEPTH_MM` from its surface: the cranial fossae, orbits, sphenoid,
  petrous ridges, palate, mandible and spine) lies below and in front of the centre
  of the cranial cavity (the largest bone-free ball inside the hull); the vault is a
  shell on the hull's surface, so it adds nothing there;
* **the vertex**: without such bone (a calvarium), the dome is the end whose rays from
  the cavity centre all meet bone; the base end is open (foramen magnum, the crop).
  Alone this cue would be fooled by a scan whose vault top is cut off (headsq), so it
  only counts as far as there is too little base bone to decide;
* **the mirror plane**: the skull is most nearly mirror-symmetric across a plane
  normal to L. If another axis clearly is, the head lies on its side and nothing is
  corrected (with a warning).

The correction is a flip of the P and/or S axes in the voxel-to-physical mapping
(:meth:`Pose.apply`): the voxels are untouched, so results on the corrected grid are
results on the input grid, and :meth:`Pose.restore` maps any geometry (an implant
box, a mesh's volume) back exactly. Left and right cannot be told apart from a nearly
symmetric skull, so the L axis is kept as stored. ``benchmarks/pose_detection.py``
measures it: every vertex and face right on whole synthetic skulls, with defects and
with 10° jitter, in all four poses; a calvarium's front is left undecided (kept).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from skullvae.io.volume import Volume
from skullvae.preprocessing.crop import box_corners, nonzero_bbox
from skullvae.preprocessing.model_grid import GridFrame, to_grid

logger = logging.getLogger(__name__)

#: Working voxel size (mm): the pose needs only the skull's coarse anatomy.
POSE_VOXEL_MM = 3.0
#: Bone fraction of a working voxel counted as bone (thin vault bone fills a third of one).
BONE_FRACTION = 0.3
#: Fewer bone voxels than this on the working grid decide nothing.
MIN_BONE_VOXELS = 200
#: Bone farther than this inside the hull is the skull base, face or spine (mm).
INTERIOR_DEPTH_MM = 15.0
#: Interior voxels for the base/face cue to have its full weight (the rest goes to the dome cue).
FULL_WEIGHT_VOXELS = 30
#: Rays from the cavity centre end here (mm).
RAY_MM = 110.0
#: A sign is decided when its score (−1 … 1, scaled offsets) is beyond this; else it is kept.
DECIDE = 0.3
#: The head lies on its side when another axis's mirror Dice beats L's by more than this (a
#: skull lying on its side: 0.89 vs 0.52; real upright skulls: L first by ≥ 0.13; a plain
#: ellipsoidal shell, as symmetric front to back as left to right: 1.00 vs 0.95).
SIDEWAYS_MARGIN = 0.1
#: The log level of the one-line pose note (above warnings, so the CLI shows it as ``note``).
NOTE = logging.WARNING + 1
logging.addLevelName(NOTE, "note")

_POSES = {(False, False): "upright", (False, True): "upside_down", (True, False): "face_back",
          (True, True): "upside_down_face_back"}


@dataclass(frozen=True)
class Pose:
    """The detected pose and its correction: flips of patient axes about a fixed centre.

    Args:
        flips: ``(L, P, S)``: which patient axes the correction reverses (L never).
        centre: the point the flips are about (LPS mm; the input grid's centre).
        evidence: the measurements behind the decision.
    """

    flips: tuple[bool, bool, bool] = (False, False, False)
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    evidence: dict = field(default_factory=dict)

    @property
    def detected(self) -> str:
        """``upright``, ``upside_down``, ``face_back`` or ``upside_down_face_back``."""
        return _POSES[(self.flips[1], self.flips[2])]

    @property
    def corrected(self) -> bool:
        """Whether the correction changes anything."""
        return any(self.flips)

    @property
    def matrix(self) -> np.ndarray:
        """The correction in patient space: ``p_upright = M (p - centre) + centre``."""
        return np.diag([-1.0 if f else 1.0 for f in self.flips])

    def apply(self, volume: Volume) -> Volume:
        """``volume`` (same array, not copied) with the corrected, upright geometry."""
        return self._moved(volume, self.matrix)

    def restore(self, volume: Volume) -> Volume:
        """The inverse of :meth:`apply`: corrected geometry → the input's patient space."""
        return self._moved(volume, self.matrix.T)

    def restore_points(self, points: np.ndarray) -> np.ndarray:
        """Points ``(N, 3)`` in the upright patient space → the input's patient space (LPS mm)."""
        c = np.asarray(self.centre, dtype=np.float64)
        return (np.asarray(points, dtype=np.float64) - c) @ self.matrix + c  # (M^T (p - c))^T = (p - c)^T M

    def _moved(self, volume: Volume, m: np.ndarray) -> Volume:
        if not self.corrected:
            return volume
        c = np.asarray(self.centre, dtype=np.float64)
        origin = m @ (np.asarray(volume.origin, dtype=np.float64) - c) + c
        return Volume(volume.array, volume.spacing, origin, m @ np.asarray(volume.direction, dtype=np.float64))

    def to_dict(self) -> dict:
        """The ``report.json`` entry."""
        axes = [name for name, f in zip("LPS", self.flips) if f]
        return {"detected": self.detected,
                "correction": {"flipped_axes": axes, "matrix": self.matrix.tolist(),
                               "about_mm": [round(float(v), 3) for v in self.centre]} if axes else None,
                "evidence": self.evidence}

    def note(self) -> str | None:
        """The one-line stderr note (None when the scan is upright)."""
        if not self.corrected:
            return None
        what = {"upside_down": "upside down (vertex toward -S)", "face_back": "face-back (face toward +P)",
                "upside_down_face_back": "upside down and face-back (vertex toward -S, face toward +P)"}[self.detected]
        return f"the scan is stored {what}; completing it turned upright, outputs are on the input grid"


def grid_centre(volume: Volume) -> np.ndarray:
    """Patient position (LPS mm) of the centre of ``volume``'s index box."""
    half = (np.asarray(volume.shape, dtype=np.float64) - 1.0) / 2.0
    return volume.index_to_physical(half[None, :])[0]


def detect_pose(mask: Volume, reference: Volume | None = None) -> Pose:
    """Detect how a skull is stored from its anatomy (see the module docstring).

    Args:
        mask: bone mask with geometry, best cropped to the bone (its whole box is sampled).
        reference: the full input grid, whose centre the flips are about (default ``mask``).

    Returns:
        The :class:`Pose` (upright when the anatomy does not decide).
    """
    frame = _working_frame(mask)
    bone = to_grid(mask, frame) >= BONE_FRACTION
    centre = tuple(float(v) for v in grid_centre(reference if reference is not None else mask))
    box = nonzero_bbox(bone, margin=1)
    if box is None or np.count_nonzero(bone) < MIN_BONE_VOXELS:
        return Pose(centre=centre, evidence={"vertex": "unknown", "face": "unknown",
                                             "kept": f"too little bone on the {POSE_VOXEL_MM:g} mm grid"})
    lo, hi = box
    bone = bone[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    cues = _cues(bone, POSE_VOXEL_MM)
    sym = _mirror_axis(bone)
    # Scores > 0 mean "as stored": inferior (S) and anterior (P) bone is where it belongs.
    weight = min(1.0, cues["base_voxels"] / FULL_WEIGHT_VOXELS)
    offset = np.asarray(cues["base_offset"])
    score_s = weight * float(np.clip(-offset[2], -1, 1)) + (1 - weight) * cues["dome_closure"]
    score_p = weight * float(np.clip(-offset[1], -1, 1))
    flip_s, flip_p = score_s < -DECIDE, score_p < -DECIDE
    sideways = sym["dice"][sym["axis"]] > sym["dice"]["L"] + SIDEWAYS_MARGIN
    evidence = {
        "vertex": "unknown" if abs(score_s) <= DECIDE else ("-S" if flip_s else "+S"),
        "face": "unknown" if abs(score_p) <= DECIDE else ("+P" if flip_p else "-P"),
        "score_s": round(score_s, 3), "score_p": round(score_p, 3),
        "base_offset": [round(float(v), 3) for v in offset],
        "base_voxels": cues["base_voxels"], "dome_closure": round(cues["dome_closure"], 3),
        "cavity_centre_mm": [round(float(v), 1) for v in  # the working grid's axes are L, P, S
                             frame.origin_mm + POSE_VOXEL_MM * (np.asarray(cues["cavity_index"]) + lo)],
        "cavity_radius_mm": round(cues["cavity_radius_mm"], 1),
        "mirror_dice": sym["dice"], "mirror_axis": sym["axis"],
        "voxel_mm": POSE_VOXEL_MM,
    }
    if sideways:
        evidence["kept"] = f"the skull is most nearly mirror-symmetric across a plane normal to {sym['axis']}, not L"
        flip_s = flip_p = False
    return Pose((False, bool(flip_p), bool(flip_s)), centre, evidence)


def _working_frame(mask: Volume, margin_mm: float = 2 * POSE_VOXEL_MM) -> GridFrame:
    """A :data:`POSE_VOXEL_MM` grid in patient axes (L, P, S) over ``mask``'s whole box."""
    corners = mask.index_to_physical(box_corners(np.zeros(3, int), np.asarray(mask.shape) - 1))
    lo, hi = corners.min(axis=0) - margin_mm, corners.max(axis=0) + margin_mm
    grid = tuple(int(np.ceil((h - l) / POSE_VOXEL_MM)) + 1 for l, h in zip(lo, hi))
    return GridFrame((lo + hi) / 2.0, POSE_VOXEL_MM, grid, np.eye(3))  # type: ignore[arg-type]


def _enclosed(bone: np.ndarray) -> np.ndarray:
    """Voxels with bone on both sides along at least one axis, and the bone: the skull's hull.

    Unlike the convex hull it costs a few array passes, and a defect or an open skull
    base leaves the cavity inside (bone in front and behind still encloses it).
    """
    hull = bone.copy()
    for axis in range(3):
        ahead = np.maximum.accumulate(bone, axis=axis)
        behind = np.flip(np.maximum.accumulate(np.flip(bone, axis), axis=axis), axis)
        hull |= ahead & behind
    return hull


def _distance(inside: np.ndarray) -> np.ndarray:
    """Distance (voxels) of every ``inside`` voxel to the nearest outside one, the border outside."""
    return ndimage.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1, 1:-1]


def _cues(bone: np.ndarray, voxel_mm: float) -> dict:
    """The base/face offset and the dome closure of a bone grid in patient axes.

    Returns:
        ``base_offset``: mean position of the interior bone (skull base, face) minus the
        cavity centre, over the cavity radius (upright: negative P and S); ``base_voxels``:
        how many voxels it is; ``dome_closure``: share of rays from the centre within 45°
        of +S that meet bone minus that of −S; ``cavity_index`` and ``cavity_radius_mm``.
    """
    hull = _enclosed(bone)
    cavity = _distance(hull & ~bone)
    centre = np.array(np.unravel_index(int(np.argmax(cavity)), bone.shape), dtype=np.float64)
    radius = max(float(cavity.max()), 1.0)
    interior = np.argwhere(bone & (_distance(hull) * voxel_mm > INTERIOR_DEPTH_MM))
    offset = (interior.mean(axis=0) - centre) / radius if len(interior) else np.zeros(3)
    return {"base_offset": offset, "base_voxels": int(len(interior)),
            "dome_closure": _closure(bone, centre, voxel_mm), "cavity_index": centre,
            "cavity_radius_mm": radius * voxel_mm}


def _directions(n: int = 400) -> np.ndarray:
    """``n`` nearly even unit vectors (a Fibonacci sphere)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * i / n)
    azimuth = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=1)


def _closure(bone: np.ndarray, centre: np.ndarray, voxel_mm: float) -> float:
    """Share of rays within 45° of +S that meet bone, minus the same toward −S."""
    dirs = _directions()
    steps = np.arange(1, int(RAY_MM / voxel_mm) + 1, dtype=np.float64)
    idx = np.rint(centre[None, None, :] + dirs[:, None, :] * steps[None, :, None]).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < np.asarray(bone.shape)), axis=2)
    idx = np.clip(idx, 0, np.asarray(bone.shape) - 1)
    hit = (bone[idx[..., 0], idx[..., 1], idx[..., 2]] & inside).any(axis=1)
    cone = np.cos(np.radians(45.0))
    return float(hit[dirs[:, 2] > cone].mean() - hit[dirs[:, 2] < -cone].mean())


def _mirror_axis(bone: np.ndarray, max_shift: int = 4) -> dict:
    """The patient axis across whose normal plane the bone is most symmetric (Dice of bone and mirror)."""
    total = int(bone.sum())
    dice = {}
    for axis, name in enumerate("LPS"):
        idx = np.nonzero(bone.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        flipped = np.flip(bone, axis)
        shift0 = int(idx.min() + idx.max() - (bone.shape[axis] - 1))  # mirror about the bone's mid-extent
        best = 0.0
        for shift in range(shift0 - max_shift, shift0 + max_shift + 1):
            overlap = int(np.count_nonzero(np.roll(flipped, shift, axis=axis) & bone))
            best = max(best, 2.0 * overlap / max(2 * total, 1))
        dice[name] = round(best, 3)
    return {"axis": max(dice, key=dice.get), "dice": dice}


def log_note(pose: Pose) -> None:
    """Say on stderr (one ``note`` line) what was corrected, or warn that the pose could not be read."""
    message = pose.note()
    if message is not None:
        logger.log(NOTE, message)
    elif "mirror-symmetric" in pose.evidence.get("kept", ""):
        logger.warning("%s: the head may be stored lying on its side; it is completed as stored (--pose keep "
                       "silences this)", pose.evidence["kept"])
