"""Bad input → exactly one ``skullvae: error:`` line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from skullvae.io import Volume, write_volume
from skullvae_cli.app import main

KINDS = ["missing", "unknown_extension", "2d", "4d", "corrupt_gzip", "truncated_gzip", "empty_mask"]


def _make_bad(kind: str, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    if kind == "missing":
        return folder / "nothing_here.nii.gz"
    if kind == "unknown_extension":
        path = folder / "volume.txt"
        path.write_text("1 2 3")
        return path
    if kind == "2d":
        path = folder / "slice.nii"
        sitk.WriteImage(sitk.GetImageFromArray(np.ones((16, 16), np.uint8)), str(path))
        return path
    if kind == "4d":
        path = folder / "series.nii.gz"
        frame = sitk.GetImageFromArray(np.ones((8, 8, 8), np.uint8))
        sitk.WriteImage(sitk.JoinSeries([frame, frame]), str(path))
        return path
    if kind == "corrupt_gzip":
        path = folder / "garbage.nii.gz"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        return path
    if kind == "truncated_gzip":
        path = write_volume(Volume(np.random.default_rng(1).integers(0, 2, (32, 32, 32)).astype(np.uint8)),
                            folder / "cut.nii.gz")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "empty_mask":
        return write_volume(Volume(np.zeros((24, 24, 24), np.uint8)), folder / "empty.nii.gz")
    raise AssertionError(kind)


@pytest.fixture
def good(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "good"
    folder.mkdir()
    skull = np.zeros((24, 24, 24), np.uint8)
    skull[:, :, 10:13] = 1
    implant = np.zeros_like(skull)
    implant[8:16, 8:16, 10:13] = 1
    skull[implant == 1] = 0
    return {"defective": write_volume(Volume(skull), folder / "defective.nii.gz"),
            "implant": write_volume(Volume(implant), folder / "implant.nii.gz")}


def _commands(kind: str, bad: Path, good: dict[str, Path], out: Path) -> list[list]:
    png = out / "preview.png"
    if kind == "empty_mask":  # an empty mask is an error only where it carries meaning
        return [["metrics", good["implant"], bad, "--defective", good["defective"]],
                ["metrics", good["implant"], good["implant"], "--defective", bad],
                ["preview", good["defective"], "--overlay", bad, "-o", png]]
    return [["info", bad],
            ["info", bad, "--json"],
            ["metrics", bad, good["implant"], "--defective", good["defective"]],
            ["metrics", good["implant"], bad, "--defective", good["defective"], "--json"],
            ["preview", bad, "-o", png],
            ["preview", good["defective"], "--overlay", bad, "-o", png]]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_gives_one_error_line(kind, tmp_path, good, capfd):
    bad = _make_bad(kind, tmp_path / "bad")
    out = tmp_path / "out"
    out.mkdir()
    for argv in _commands(kind, bad, good, out):
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in argv])
        stdout, stderr = capfd.readouterr()
        assert exc.value.code == 2, (argv, stderr)
        assert stderr.startswith("skullvae: error:"), (argv, stderr)
        assert stderr.count("\n") == 1 and "Traceback" not in stderr, (argv, stderr)
        assert stdout == ""
        assert list(out.iterdir()) == [], argv  # nothing written, not even a temporary file


@pytest.mark.parametrize("kind", ["corrupt_gzip", "4d"])
def test_console_script_bad_input(kind, tmp_path):
    exe = Path(sys.executable).with_name("skullvae")
    if not exe.exists():
        pytest.skip("console script not installed")
    bad = _make_bad(kind, tmp_path)
    proc = subprocess.run([str(exe), "info", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("skullvae: error:") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_bad_preview_output_path(tmp_path, good, capfd):
    for target in (tmp_path / "p.jpg", tmp_path):
        with pytest.raises(SystemExit) as exc:
            main(["preview", str(good["defective"]), "-o", str(target)])
        _, stderr = capfd.readouterr()
        assert exc.value.code == 2 and stderr.startswith("skullvae: error:") and stderr.count("\n") == 1
    assert not (tmp_path / "p.jpg").exists()
