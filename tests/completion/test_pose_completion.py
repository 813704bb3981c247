"""``complete`` on a skull stored upside down or face-back: completed upright, outputs on the input grid."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from skullvae.completion.pipeline import CompletionOptions, complete_case
from skullvae.defects import inject_defect
from skullvae.io.readers import read_volume
from skullvae.io.volume import Volume
from skullvae.io.writers import write_volume
from skullvae.phantoms import synth_skull
from skullvae.preprocessing.pose import NOTE

OPTS = CompletionOptions(mode="mirror")  # no model needed; the pose and rim steps run as in auto


class _Notes(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        if record.levelno == NOTE:
            self.lines.append(record.getMessage())


def _stored(volume: Volume, axes) -> Volume:
    array = volume.array
    for axis in axes:
        array = np.flip(array, axis)
    return Volume(np.ascontiguousarray(array), volume.spacing, volume.origin, volume.direction)


def _complete(defective: Volume, axes, folder):
    """Complete ``defective`` stored flipped along ``axes``: (implant flipped back, report, stderr notes)."""
    src = folder / "case.nii.gz"
    write_volume(_stored(defective, axes), src)
    notes = _Notes()
    logger = logging.getLogger("skullvae")
    logger.addHandler(notes)
    try:
        report = complete_case(src, folder / "out", OPTS)
    finally:
        logger.removeHandler(notes)
    implant = read_volume(folder / "out" / "implant.nii.gz")
    assert implant.shape == defective.shape  # the input's own grid and header
    np.testing.assert_allclose(implant.origin, defective.origin)
    np.testing.assert_allclose(implant.direction, defective.direction)
    # the STL lies in the input's patient space, where the report's implant box is
    import trimesh

    bounds = trimesh.load(folder / "out" / "implant.stl").bounds
    lo, hi = np.asarray(report["implant"]["bbox_mm"])
    assert np.all(bounds[0] > lo - 2.0) and np.all(bounds[1] < hi + 2.0)
    saved = json.loads((folder / "out" / "report.json").read_text())
    assert saved["pose"]["detected"] == report["pose"]["detected"]
    return _stored(implant, axes).array > 0, report, notes.lines


def _dice(a, b) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


@pytest.fixture(scope="module")
def upright(tmp_path_factory):
    """A defective synthetic skull (1.6 mm), its true implant, and its completion stored upright."""
    skull = synth_skull(3, 144, 1.6)
    defective, truth = inject_defect(skull, "parietotemporal", 3)
    implant, report, notes = _complete(defective, (), tmp_path_factory.mktemp("upright"))
    return defective, truth.array > 0, implant, report, notes


def test_upright_skull_is_not_corrected(upright):
    _, truth, implant, report, notes = upright
    assert report["pose"]["detected"] == "upright" and report["pose"]["correction"] is None
    assert notes == []
    assert _dice(implant, truth) > 0.8


@pytest.mark.parametrize("pose, axes", [("upside_down", (2,)),
                                        pytest.param("face_back", (1,), marks=pytest.mark.slow)])
def test_flipped_skull_is_completed_upright(upright, tmp_path, pose, axes):
    defective, truth, expected, _, _ = upright
    implant, report, notes = _complete(defective, axes, tmp_path)
    assert report["pose"]["detected"] == pose
    assert report["pose"]["correction"]["flipped_axes"] == ["S" if axes == (2,) else "P"]
    assert len(notes) == 1 and notes[0].startswith("the scan is stored ") and "input grid" in notes[0]
    # voxel for voxel the implant of the same skull stored upright
    assert np.array_equal(implant, expected)
    assert _dice(implant, truth) > 0.8
