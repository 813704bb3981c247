"""The anatomical pose detector: upright, upside down, face-back, from the anatomy alone."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from skullvae.io.volume import Volume
from skullvae.phantoms import synth_skull
from skullvae.preprocessing.pose import detect_pose, log_note

POSES = {"upright": (), "upside_down": (2,), "face_back": (1,), "upside_down_face_back": (1, 2)}


def stored(volume: Volume, axes) -> Volume:
    """``volume``'s voxels flipped along ``axes`` under the same header (a scan stored wrongly)."""
    array = volume.array
    for axis in axes:
        array = np.flip(array, axis)
    return Volume(np.ascontiguousarray(array), volume.spacing, volume.origin, volume.direction)


@pytest.fixture(scope="module")
def skull() -> Volume:
    return synth_skull(3, 144, 1.6)


@pytest.mark.parametrize("truth", list(POSES))
def test_pose_is_read_from_the_anatomy(skull, truth):
    pose = detect_pose(stored(skull, POSES[truth]))
    assert pose.detected == truth
    assert pose.corrected == (truth != "upright")
    assert pose.evidence["mirror_axis"] == "L"
    assert (pose.note() is None) == (truth == "upright")


def test_calvarium_without_face_keeps_the_stored_front(skull):
    """A calvarium has a dome but no face: the vertex is found, the front is kept as stored."""
    array = skull.array.copy()
    z = np.nonzero(array.any(axis=(0, 1)))[0]
    array[:, :, : int(z.min() + 0.55 * (z.max() - z.min()))] = 0
    pose = detect_pose(stored(Volume(array, skull.spacing, skull.origin, skull.direction), (2,)))
    assert pose.detected == "upside_down"
    assert pose.evidence["vertex"] == "-S" and pose.evidence["face"] == "unknown"


def test_correction_is_exact_and_reversible(skull):
    scan = stored(skull, (1, 2))
    pose = detect_pose(scan)
    upright = pose.apply(scan)
    assert upright.array is scan.array  # the voxels are untouched
    # every voxel lands where the upright skull has it
    idx = np.argwhere(scan.array)[::97]
    original = (np.asarray(scan.shape) - 1) * [0, 1, 1] + idx * [1, -1, -1]
    np.testing.assert_allclose(upright.index_to_physical(idx), skull.index_to_physical(original), atol=1e-9)
    np.testing.assert_allclose(pose.restore_points(upright.index_to_physical(idx)), scan.index_to_physical(idx),
                               atol=1e-9)
    back = pose.restore(upright)
    np.testing.assert_allclose(back.origin, scan.origin, atol=1e-9)
    np.testing.assert_allclose(back.direction, scan.direction, atol=1e-12)
    report = pose.to_dict()
    assert report["detected"] == "upside_down_face_back" and report["correction"]["flipped_axes"] == ["P", "S"]


def test_skull_lying_on_its_side_is_not_flipped(skull, caplog):
    """Left-right along S: the mirror plane is not normal to L, so no sign of P or S is trusted; a warning says so."""
    side = Volume(np.ascontiguousarray(np.transpose(skull.array, (2, 1, 0))), skull.spacing, skull.origin)
    pose = detect_pose(side)
    assert pose.evidence["mirror_axis"] == "S"
    assert not pose.corrected and "kept" in pose.evidence
    with caplog.at_level(logging.WARNING, logger="skullvae"):
        log_note(pose)
    assert [r.levelno for r in caplog.records] == [logging.WARNING] and "lying on its side" in caplog.text


@pytest.mark.real_data
def test_real_scans(real_data):
    """headsq is stored neck toward +S; CT_pitch is upright (the SkullBreak sample, upright too, is checked by
    tests/completion/test_real_skullbreak.py)."""
    from skullvae.io.readers import read_volume
    from skullvae.preprocessing.pipeline import load_mask

    found, masks = {}, {}
    for name, threshold in (("vtk_headsq_ct.nii.gz", 300), ("CT_pitch.nii.gz", 200)):
        case = load_mask(read_volume(real_data / name), threshold)
        found[name] = detect_pose(case.cropped_mask(), case.mask)
        masks[name] = case.mask
    headsq = found["vtk_headsq_ct.nii.gz"]
    assert headsq.detected == "upside_down"
    assert headsq.evidence["vertex"] == "-S" and headsq.evidence["face"] == "-P"
    assert found["CT_pitch.nii.gz"].detected == "upright"
    # the flip is about the input grid's centre: the upright grid covers the same box of patient space
    from skullvae.preprocessing.crop import box_corners

    mask = masks["vtk_headsq_ct.nii.gz"]
    corners = box_corners(np.zeros(3), np.asarray(mask.shape) - 1)
    before, after = mask.index_to_physical(corners), headsq.apply(mask).index_to_physical(corners)
    np.testing.assert_allclose(np.sort(before, axis=0), np.sort(after, axis=0), atol=1e-9)
