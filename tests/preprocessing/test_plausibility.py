"""Issue 10: a bone that is not the size of a human skull is refused (or warned about) before big allocations."""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_runner import run_cli  # noqa: E402
from skull_shapes import shell_skull  # noqa: E402

from skullvae.errors import SkullVAEError
from skullvae.io import Volume, write_volume
from skullvae.preprocessing.pipeline import load_mask
from skullvae.preprocessing.plausibility import (MAX_EXTENT_MM, MIN_EXTENT_MM, check_skull_extent,
                                                 robust_extent_mm)


def _shell(spacing_mm: float) -> Volume:
    """The 160 mm shell skull (built at 2.4 mm) with its header's spacing replaced."""
    defective, _, _ = shell_skull(shape=(70, 84, 64), spacing=(2.4, 2.4, 2.4))
    return Volume(defective.array, (spacing_mm,) * 3, defective.origin, defective.direction)


@pytest.mark.parametrize("spacing, verdict", [(2.4, "ok"), (1.2, "small"), (4.5, "large")])
def test_plausible_sizes_complete_the_grey_zone_warns(spacing, verdict, caplog):
    with caplog.at_level(logging.WARNING, logger="skullvae"):
        case = load_mask(_shell(spacing))
    assert case.info["extent"]["verdict"] == verdict
    largest = max(case.info["extent"]["extent_mm"])
    assert MIN_EXTENT_MM <= largest <= MAX_EXTENT_MM
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warned) == (verdict != "ok")
    if warned:
        assert f"it says spacing {spacing:g} × {spacing:g} × {spacing:g} mm" in warned[0]


@pytest.mark.parametrize("spacing, word", [(0.5, "too small"), (7.0, "too large"), (50.0, "too large"),
                                           (0.01, "too small")])
def test_implausible_sizes_are_refused_with_the_numbers_and_the_cause(spacing, word):
    with pytest.raises(SkullVAEError) as exc:
        load_mask(_shell(spacing))
    text = str(exc.value)
    assert word in text and "spacing may have been lost from the header" in text
    assert f"{spacing:g} × {spacing:g} × {spacing:g} mm" in text


def test_extent_limits():
    assert check_skull_extent([0, 0, 0], [100, 80, 70], (2.0, 2.0, 2.0))["verdict"] == "ok"  # 200 mm
    with pytest.raises(SkullVAEError, match="too large"):
        check_skull_extent([0, 0, 0], [201, 10, 10], (2.0, 2.0, 2.0))
    with pytest.raises(SkullVAEError, match="too small"):
        check_skull_extent([0, 0, 0], [29, 29, 29], (2.0, 2.0, 2.0))


def test_robust_extent_ignores_a_few_specks():
    mask = np.zeros((100, 100, 100), bool)
    mask[20:60, 20:60, 20:60] = True
    mask[99, 99, 99] = mask[0, 0, 0] = True  # far-away specks
    assert np.allclose(robust_extent_mm(mask, (1.0, 2.0, 3.0)), [40.0, 80.0, 120.0], atol=3.0)


def test_cli_refuses_a_lost_spacing_in_one_line(tmp_path, capsys):
    path = write_volume(_shell(10.0), tmp_path / "lost.nii.gz")
    code, out, err = run_cli(["complete", path, "-o", tmp_path / "out"], capsys)
    assert code == 2 and err.startswith("skullvae: error: the bone is") and err.count("\n") == 1
    assert "10 × 10 × 10 mm" in err and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lost.nii.gz"]


@pytest.mark.real_data
@pytest.mark.parametrize("spacing", [pytest.param(1.0, marks=pytest.mark.slow), 50.0])
def test_real_skull_with_a_lost_spacing_is_refused_fast_and_small(real_data, tmp_path, spacing):
    """The real 512³ SkullBreak mask re-headed at 1 mm and 50 mm: exit 2 within 4 GB (was: 1246 cm³ / killed)."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(real_data / "skullbreak_parietotemporal_001.nii.gz"))
    image.SetSpacing((spacing,) * 3)
    path = tmp_path / "lost.nii.gz"
    sitk.WriteImage(image, str(path))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "skullvae_cli", "complete", str(path), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "too large for a human skull" in proc.stderr and f"{spacing:g} × {spacing:g} × {spacing:g} mm" in proc.stderr
    assert max(peak_kb, before) < 4 * 1024 * 1024  # kB: the largest child so far stayed under 4 GB
    assert not (tmp_path / "out").exists()
