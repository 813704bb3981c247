"""Issue 10: sheared directions, NaN/inf voxels, label maps and truncated files end in one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_runner import run_cli  # noqa: E402
from skull_shapes import shell_skull  # noqa: E402

from skullvae.errors import SkullVAEError
from skullvae.io import Volume, read_volume, write_volume
from skullvae.io.volume import check_direction
from skullvae.preprocessing.intensity import bone_mask, input_kind, label_counts


@pytest.fixture(scope="module")
def shell() -> Volume:
    return shell_skull(shape=(70, 84, 64), spacing=(2.4, 2.4, 2.4))[0]


def _one_line(code: int, err: str, *words: str) -> None:
    assert code == 2 and err.startswith("skullvae: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)


# -- direction -------------------------------------------------------------------------------

def test_rotations_and_reflections_pass_shears_do_not():
    rot = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    check_direction(rot)
    check_direction(np.diag([1.0, -1.0, 1.0]))
    sheared = np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # det 1: the old check let it pass
    with pytest.raises(SkullVAEError, match="not orthonormal.*78.69°"):
        check_direction(sheared)


@pytest.mark.parametrize("ext", [".mha", ".nrrd"])
def test_sheared_header_is_refused_by_every_command(shell, tmp_path, capsys, ext):
    image = shell.to_sitk()
    image.SetDirection((1, 0.6, 0.3, 0, 1, 0.4, 0, 0, 1))
    path = tmp_path / f"sheared{ext}"
    sitk.WriteImage(image, str(path))
    for argv in (["info", path], ["complete", path, "-o", tmp_path / "out"], ["export-stl", path, tmp_path / "a.stl"]):
        code, _, err = run_cli(argv, capsys)
        _one_line(code, err, path.name, "not orthonormal")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# -- NaN and inf -----------------------------------------------------------------------------

def _ct_with_nonfinite(shell: Volume) -> Volume:
    ct = np.where(shell.array > 0, 1200.0, -1000.0).astype(np.float32)
    ct[0, 0, :5] = np.nan
    ct[1, 1, :3] = np.inf
    ct[2, 2, :2] = -np.inf
    return shell.with_array(ct)


@pytest.mark.parametrize("ext", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_nonfinite_ct_is_refused_and_info_counts_it(shell, tmp_path, capsys, ext):
    path = write_volume(_ct_with_nonfinite(shell), tmp_path / f"ct{ext}")
    with pytest.raises(SkullVAEError, match="5 NaN and 5 infinite voxels"):
        read_volume(path)  # ITK reads NIfTI NaN/inf as 0: the file's own data are checked
    code, _, err = run_cli(["complete", path, "-o", tmp_path / "out"], capsys)
    _one_line(code, err, "5 NaN and 5 infinite")
    assert not (tmp_path / "out").exists()
    code, out, err = run_cli(["info", path, "--json"], capsys)
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert summary["nonfinite"] == {"nan": 5, "posinf": 3, "neginf": 2}
    assert summary["min"] == -1000.0 and summary["max"] == 1200.0
    code, out, _ = run_cli(["info", path], capsys)
    assert code == 0 and "5 NaN, 3 +inf, 2 -inf" in out


def test_finite_float_nifti_still_reads(shell, tmp_path):
    ct = shell.with_array(np.where(shell.array > 0, 1200.0, -1000.0).astype(np.float32))
    assert np.array_equal(read_volume(write_volume(ct, tmp_path / "ct.nii.gz")).array, ct.array)


# -- label maps ------------------------------------------------------------------------------

def _labels(shell: Volume) -> Volume:
    lab = shell.array.astype(np.uint8) * 3
    lab[:10, :10, :10] = 1
    lab[-10:, -10:, -10:] = 5
    lab[20:25, 20:25, 20:25] = 2
    return shell.with_array(lab)


def test_label_map_is_named_and_a_label_chooses_the_bone(shell, tmp_path, capsys):
    labels = _labels(shell)
    assert input_kind(labels) == "labels" and set(label_counts(labels)) == {1, 2, 3, 5}
    assert input_kind(shell) == "mask" and label_counts(shell) is None
    path = write_volume(labels, tmp_path / "labels.nii.gz")
    code, _, err = run_cli(["complete", path, "-o", tmp_path / "out"], capsys)
    _one_line(code, err, "label map", "--label N", "3 (")
    assert "no bone found" not in err and "CT (threshold" not in err
    code, _, err = run_cli(["complete", path, "-o", tmp_path / "out", "--label", "4"], capsys)
    _one_line(code, err, "label 4 is not in the input", "1, 2, 3, 5")
    code, out, _ = run_cli(["info", path], capsys)
    assert code == 0 and "label map (4 labels" in out
    code, out, err = run_cli(["complete", path, "-o", tmp_path / "out", "--label", "3", "--mode", "mirror"], capsys)
    assert code == 0, err
    implant = read_volume(tmp_path / "out" / "implant.nii.gz")
    assert implant.array.any() and not (implant.array.astype(bool) & (labels.array == 3)).any()


def test_label_on_a_ct_is_refused():
    ct = Volume(np.random.default_rng(0).integers(-1000, 2000, (30, 30, 30)).astype(np.int16))
    with pytest.raises(SkullVAEError, match="is a CT"):
        bone_mask(ct, label=3)


# -- truncated input: the real error only --------------------------------------------------

def test_truncated_input_prints_no_warning_before_its_error(shell, tmp_path, capsys):
    path = write_volume(shell, tmp_path / "cut.nii.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    code, out, err = run_cli(["complete", path, "-o", tmp_path / "out"], capsys)
    _one_line(code, err, "cut.nii.gz")
    assert "warning" not in err and out == ""
