"""Benchmark: the anatomical pose detector (``skullvae/preprocessing/pose.py``) on real and synthetic skulls.

Usage: ``python benchmarks/pose_detection.py [--n 6] [--seed 0] [--real ../shared/data/real]``

Prints what the detector says about every real scan in ``--real`` (with its time) and about
it turned into the other three poses (by its header, and by its voxels), then,
for ``--n`` synthetic skulls at 1.6 mm in five variants (whole skull; a defect cut in;
10° pose jitter; a calvarium cut at 55 % of the height; a SkullBreak-like cut at 30 %,
below the orbits) each stored in four poses (upright, upside down = S flipped,
face-back = P flipped, both), how often the detected pose is the true one. An axis
the anatomy does not decide is kept as stored (counted as ``kept``); ``wrong`` is a
confident wrong answer. Last, a pitch sweep: up to 3 synthetic and 3 real skulls in the
four poses (header flips), each turned about L by −40…40°: how many of the four are right.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

POSES = {"upright": (), "upside_down": (2,), "face_back": (1,), "upside_down_face_back": (1, 2)}
REAL = {"skullbreak_parietotemporal_001.nii.gz": 300, "vtk_headsq_ct.nii.gz": 300, "CT_pitch.nii.gz": 200,
        "ge_head_ct_dicom": 300}


def _flipped(volume, axes):
    from skullvae.io.volume import Volume

    array = volume.array
    for axis in axes:
        array = np.flip(array, axis)
    return Volume(np.ascontiguousarray(array), volume.spacing, volume.origin, volume.direction)


def _cut(volume, fraction):
    """The skull with the bone below ``fraction`` of its height removed."""
    from skullvae.io.volume import Volume

    z = np.nonzero(volume.array.any(axis=(0, 1)))[0]
    array = volume.array.copy()
    array[:, :, : int(z.min() + fraction * (z.max() - z.min()))] = 0
    return Volume(array, volume.spacing, volume.origin, volume.direction)


def _variants(seed: int) -> dict:
    from skullvae.defects import DEFECT_TYPES, inject_defect
    from skullvae.phantoms import synth_skull

    skull = synth_skull(seed, 144, 1.6)
    defect_type = DEFECT_TYPES[seed % len(DEFECT_TYPES)]
    return {"whole": skull, f"defect ({defect_type})": inject_defect(skull, defect_type, seed)[0],
            "jitter 10°": synth_skull(seed, 160, 1.6, max_rotation_deg=10.0),
            "calvarium": _cut(skull, 0.55), "cut below orbits": _cut(skull, 0.30)}


def _real(folder: Path) -> None:
    """Each real scan as stored, then turned into the three other poses: by its header (the patient
    axes flipped about the grid centre: a wrong S or P sign) and by its voxels (flipped along the
    index axes under the same header: for an oblique scan this also tilts the skull by twice the
    header's obliquity)."""
    from skullvae.io.readers import read_volume
    from skullvae.preprocessing.pipeline import load_mask
    from skullvae.preprocessing.pose import Pose, detect_pose, grid_centre

    print("| real scan | detected as stored | vertex | face | score S / P | time (s) | header flipped: S / P / both "
          "| voxels flipped: k / j / both |\n|---|---|---|---|---|---|---|---|")
    for name, threshold in REAL.items():
        if not (folder / name).exists():
            continue
        case = load_mask(read_volume(folder / name), threshold)
        mask = case.cropped_mask()
        start = time.perf_counter()
        pose = detect_pose(mask, case.mask)
        seconds = time.perf_counter() - start
        ev = pose.evidence
        centre = tuple(grid_centre(mask))
        header = [detect_pose(Pose((False, p, s), centre).apply(mask)).detected
                  for p, s in ((False, True), (True, False), (True, True))]
        voxels = [detect_pose(_flipped(mask, axes)).detected for axes in ((2,), (1,), (1, 2))]
        print(f"| {name} | {pose.detected} | {ev['vertex']} | {ev['face']} | {ev['score_s']:.2f} / {ev['score_p']:.2f} "
              f"| {seconds:.3f} | {' / '.join(header)} | {' / '.join(voxels)} |")


def _pitched(mask, degrees: float):
    """``mask`` turned about L by ``degrees`` (header only; positive: chin down) about its grid centre."""
    from skullvae.io.volume import Volume
    from skullvae.preprocessing.pose import grid_centre

    t = np.radians(degrees)
    turn = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    centre = grid_centre(mask)
    return Volume(mask.array, mask.spacing, turn @ (np.asarray(mask.origin) - centre) + centre, turn @ mask.direction)


def _pitch_sweep(folder: Path, seeds: range, pitches=(-40, -30, -20, -10, 0, 10, 20, 30, 40)) -> None:
    """Correct / wrong answers of the four header poses of each skull, pitched about L by each angle."""
    from skullvae.io.readers import read_volume
    from skullvae.phantoms import synth_skull
    from skullvae.preprocessing.pipeline import load_mask
    from skullvae.preprocessing.pose import Pose, detect_pose, grid_centre

    skulls = {f"synthetic {seed}": (synth_skull(seed, 144, 1.6), (False, False)) for seed in seeds}
    for name in ("skullbreak_parietotemporal_001.nii.gz", "vtk_headsq_ct.nii.gz", "CT_pitch.nii.gz"):
        if (folder / name).exists():
            case = load_mask(read_volume(folder / name), REAL[name])
            skulls[name.split(".")[0]] = (case.cropped_mask(), (False, "headsq" in name))
    print("\n| pitch | " + " | ".join(skulls) + " |\n" + "|---" * (len(skulls) + 1) + "|")
    for degrees in pitches:
        cells = []
        for mask, (p0, s0) in skulls.values():
            right = wrong = 0
            for p, s in ((False, False), (False, True), (True, False), (True, True)):
                pose = detect_pose(Pose((False, p, s), tuple(grid_centre(mask))).apply(_pitched(mask, degrees)))
                truth_p, truth_s = p != p0, s != s0
                right += pose.flips[1:] == (truth_p, truth_s)
                wrong += (pose.evidence["vertex"] == ("+S" if truth_s else "-S")
                          or pose.evidence["face"] == ("-P" if truth_p else "+P"))
            cells.append(f"{right}/4" + (f" ({wrong} wrong)" if wrong else ""))
        print(f"| {degrees:+d}° | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "real")
    args = parser.parse_args()
    from skullvae.preprocessing.pose import detect_pose

    if args.real.is_dir():
        _real(args.real)
    outcome: dict[str, Counter] = defaultdict(Counter)
    times = []
    for seed in range(args.seed, args.seed + args.n):
        for variant, volume in _variants(seed).items():
            for truth, axes in POSES.items():
                start = time.perf_counter()
                pose = detect_pose(_flipped(volume, axes))
                times.append(time.perf_counter() - start)
                wrong_s = pose.evidence["vertex"] == ("+S" if 2 in axes else "-S")
                wrong_p = pose.evidence["face"] == ("-P" if 1 in axes else "+P")
                result = "correct" if pose.detected == truth else ("wrong" if wrong_s or wrong_p else "kept")
                outcome[variant.split(" (")[0]][result] += 1
                if result != "correct":
                    print(f"  seed {seed} {variant} stored {truth}: detected {pose.detected} "
                          f"(vertex {pose.evidence['vertex']}, face {pose.evidence['face']})")
    print(f"\n{args.n} synthetic skulls × 4 poses per variant\n\n| variant | correct | kept (undecided) | wrong |\n"
          "|---|---|---|---|")
    for variant, counts in outcome.items():
        total = sum(counts.values())
        print(f"| {variant} | {counts['correct']}/{total} | {counts['kept']} | {counts['wrong']} |")
    if times:
        print(f"\ndetection time per case: median {np.median(times):.3f} s, max {max(times):.3f} s")
    _pitch_sweep(args.real, range(args.seed, args.seed + min(args.n, 3)))


if __name__ == "__main__":
    main()
