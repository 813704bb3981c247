"""The real SkullBreak parietotemporal case, end to end with the default mode (auto → mirror here)."""

import json

import numpy as np
import pytest
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree

from skullvae.completion.pipeline import CompletionOptions, complete_case
from skullvae.io import read_volume


@pytest.mark.real_data
def test_real_parietotemporal_defect_is_filled(real_data, tmp_path):
    src = real_data / "skullbreak_parietotemporal_001.nii.gz"
    out = tmp_path / "real"
    report = complete_case(src, out, CompletionOptions())  # the default mode, auto
    # the bundled synthetic model does not know this real skull: auto says so and uses mirror
    assert report["requested_mode"] == "auto" and report["mode"] == "mirror"
    assert report["completion"]["fallback"]["input_fit_dice"] < 0.7
    assert report["pose"]["detected"] == "upright"  # no orientation in its header, upright by its anatomy
    bone = read_volume(src)
    implant = read_volume(out / "implant.nii.gz")
    completed = read_volume(out / "completed.nii.gz")
    for vol in (implant, completed):  # exact input geometry
        assert vol.shape == bone.shape and vol.spacing == bone.spacing
        assert vol.origin == bone.origin and np.array_equal(vol.direction, bone.direction)
    imp = implant.array.astype(bool)
    skull = bone.array.astype(bool)
    assert not (imp & skull).any()
    # touches the rim, all of it on the defect's (high i) side of the skull's mid-plane
    lo, hi = report["implant"]["bbox_index"]
    box = tuple(slice(max(a - 2, 0), b + 3) for a, b in zip(lo, hi))
    assert (ndimage.binary_dilation(imp[box]) & skull[box]).sum() > 1000
    bone_i = np.flatnonzero(skull.any(axis=(1, 2)))
    assert lo[0] > (bone_i[0] + bone_i[-1]) / 2
    # in the parietotemporal hole (located by inspection: i > 330, j 250-420, k 80-260)
    centre = np.argwhere(imp[box]).mean(axis=0) + [s.start for s in box]
    assert centre[0] > 330 and 250 < centre[1] < 440 and 60 < centre[2] < 280
    assert 12 < report["implant"]["volume_cm3"] < 90
    # one implant, meeting the rim (issue 8: median rim gap <= 0.5 mm, 95th percentile <= 2 mm)
    assert len(report["defects"]) == 1
    assert report["rim_gap_mm"]["median"] <= 0.5 and report["rim_gap_mm"]["p95"] <= 2.0
    # the STL is watertight and sits on the implant voxels in physical LPS mm
    mesh = trimesh.load(out / "implant.stl")
    assert mesh.is_watertight
    voxels = implant.index_to_physical(np.argwhere(imp[box]) + [s.start for s in box])
    dist, _ = cKDTree(voxels).query(mesh.vertices[::7])
    assert dist.max() < 1.5 * max(bone.spacing)
    assert abs(mesh.volume / 1000 - report["implant"]["volume_cm3"]) < 0.05 * report["implant"]["volume_cm3"]
    assert json.loads((out / "report.json").read_text())["mesh"]["watertight"] is True
