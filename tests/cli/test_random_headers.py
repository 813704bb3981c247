"""Property (issue 10): whatever the header says, ``complete`` and ``info`` end in a completed case or in
one ``skullvae: error:`` line with exit 2 -- never a traceback, never a signal, never partial output."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
from cli_runner import run_cli  # noqa: E402
from skull_shapes import shell_skull  # noqa: E402

SHAPES = [(40, 48, 36), (48, 56, 44), (64, 64, 56)]


@functools.lru_cache(maxsize=None)
def _shell(shape: tuple[int, int, int]) -> np.ndarray:
    """A shell skull filling ``shape`` (built at the spacing that makes it ~160 mm long)."""
    spacing = 200.0 / max(shape)
    return shell_skull(shape=shape, spacing=(spacing,) * 3)[0].array


def _direction(kind: str, angles, shear: float) -> np.ndarray:
    a, b, c = np.radians(angles)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    rot = rz @ ry @ rx
    if kind == "flip":
        rot = rot @ np.diag([1.0, -1.0, 1.0])
    elif kind == "shear":
        rot = rot @ np.array([[1.0, shear, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return rot


def _values(mask: np.ndarray, dtype: str, nan_fraction: float, rng) -> np.ndarray:
    if dtype == "mask_uint8":
        return mask.astype(np.uint8)
    if dtype == "mask_255":
        return mask.astype(np.uint8) * 255
    if dtype == "labels":
        lab = mask.astype(np.uint8) * 2
        lab[:4, :4, :4] = 1
        lab[-4:, -4:, -4:] = 4
        return lab
    ct = np.where(mask, 1100.0, -1000.0) + rng.normal(0.0, 20.0, mask.shape)
    if dtype == "ct_int16":
        return ct.astype(np.int16)
    out = ct.astype(np.float32 if dtype == "ct_float32" else np.float64)
    if nan_fraction > 0:
        bad = rng.random(mask.shape) < nan_fraction
        out[bad] = rng.choice([np.nan, np.inf, -np.inf], size=int(bad.sum()))
    return out


headers = st.fixed_dictionaries({
    "shape": st.sampled_from(SHAPES),
    # half near the spacing that makes the shell skull-sized, half anything from 3 µm to 60 mm
    "spacing": st.one_of(st.tuples(*[st.floats(0.45, 0.75)] * 3).map(lambda t: ("scale", t)),
                         st.tuples(*[st.floats(-2.5, 1.8)] * 3).map(lambda t: ("wild", tuple(10.0 ** v for v in t)))),
    "direction": st.sampled_from(["identity", "rotation", "flip", "shear"]),
    "angles": st.tuples(*[st.floats(-40, 40)] * 3),
    "shear": st.floats(0.01, 0.8),
    "dtype": st.sampled_from(["mask_uint8", "mask_255", "labels", "ct_int16", "ct_float32", "ct_float64"]),
    "nan_fraction": st.sampled_from([0.0, 0.0, 1e-5, 0.01]),
    "ext": st.sampled_from([".nii.gz", ".nrrd", ".mha"]),
    "mode": st.sampled_from(["mirror", "auto"]),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(header=headers)
def test_any_header_completes_or_fails_in_one_line(header, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("header")
    rng = np.random.default_rng(header["seed"])
    mask = _shell(header["shape"]) != 0
    array = _values(mask, header["dtype"], header["nan_fraction"], rng)
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array, (2, 1, 0))))
    how, values = header["spacing"]
    spacing = tuple(float(v * 400.0 / max(header["shape"])) for v in values) if how == "scale" else values
    image.SetSpacing(spacing)
    if header["direction"] != "identity":
        image.SetDirection(tuple(_direction(header["direction"], header["angles"], header["shear"]).reshape(-1)))
    path = folder / f"case{header['ext']}"
    sitk.WriteImage(image, str(path))
    out = folder / "out"
    for argv in (["info", path], ["complete", path, "-o", out, "--mode", header["mode"]]):
        code, stdout, err = run_cli(argv, capsys)  # an uncaught exception fails the test with its traceback
        event(f"{argv[0]} exit {code}")
        assert "Traceback" not in err
        if code == 0:
            continue
        assert code == 2, (argv, err)
        assert err.startswith("skullvae: error:") and err.count("\n") == 1, (argv, header, err)
        assert stdout == ""
        if argv[0] == "complete":
            assert not out.exists() and sorted(p.name for p in folder.iterdir()) == [path.name]
    if out.exists():
        assert {"implant.stl", "report.json", "preview.png"} <= {p.name for p in out.iterdir()}


def test_sheared_header_exits_with_its_error_not_a_signal(tmp_path):
    """The SIGABRT (exit 134) of issue 10: an early error while the model loaded in a thread (run as a process)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(_shell((48, 56, 44)), (2, 1, 0))))
    image.SetDirection((1, 0.6, 0.3, 0, 1, 0.4, 0, 0, 1))
    path = tmp_path / "sheared.mha"
    sitk.WriteImage(image, str(path))
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "skullvae_cli", "complete", str(path), "-o", str(tmp_path / "o")],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, (proc.returncode, proc.stderr)
        assert proc.stderr.startswith("skullvae: error:") and proc.stderr.count("\n") == 1, proc.stderr
