"""Template skulls: deformation, thickness change, manifest loading, the data-set mix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from skullvae.errors import SkullVAEError
from skullvae.io.writers import write_volume
from skullvae.phantoms import synth_skull, synthesize_dataset
from skullvae.phantoms import templates as templates_module
from skullvae.phantoms.templates import deform_template, load_templates, prepare_template


@pytest.fixture(scope="module")
def template():
    return prepare_template(synth_skull(21, 96, 2.4), "skull_a")


def _dice(a, b):
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_deformed_skulls_are_deterministic_similar_and_varied(template):
    a = deform_template(template, 1, 96, 2.4)
    b = deform_template(template, 1, 96, 2.4)
    c = deform_template(template, 2, 96, 2.4)
    assert a.array.dtype == np.uint8 and a.shape == (96, 96, 96) and np.allclose(a.direction, np.eye(3))
    assert np.array_equal(a.array, b.array)
    src = template.volume.array < 0
    ratio = a.array.sum() * 2.4**3 / (src.sum() * np.prod(template.volume.spacing))
    assert 0.75 < ratio < 1.35
    # the same skull moved by a few mm: the shells overlap once grown by 2 voxels (4.8 mm), not exactly
    ga, gc = (ndimage.binary_dilation(v.array > 0, iterations=2) for v in (a, c))
    assert 0.6 < _dice(ga, gc) < 0.99
    assert not np.array_equal(a.array, c.array)
    idx = np.flatnonzero(a.array.any(axis=(1, 2)))
    assert abs((idx[0] + idx[-1]) / 2 - 47.5) <= 1.0  # centred like synth_skull


def _no_motion(monkeypatch, change_mm):
    """Identity map and a constant thickness change."""
    monkeypatch.setattr(templates_module, "SCALE_RANGE", (1.0, 1.0))

    def field(rng, axes, ctrl, amplitude):
        shape = tuple(len(a) for a in axes)
        value = change_mm if ctrl == templates_module.THICKNESS_CTRL_MM else 0.0
        return np.full(shape, value, dtype=np.float32)

    monkeypatch.setattr(templates_module, "smooth_field", field)


def _ray_radii(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outer and inner bone radius (voxels) along vault rays from the grid centre."""
    centre = (np.array(mask.shape) - 1) / 2.0
    steps = np.arange(0.0, mask.shape[0] / 2 - 1, 0.25)
    outer, inner = [], []
    for el in np.radians(np.arange(30, 85, 10)):
        for az in np.radians(np.arange(0, 360, 15)):
            d = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
            idx = np.round(centre + steps[:, None] * d).astype(int)
            hit = mask[tuple(idx.T)]
            outer.append(steps[hit].max() if hit.any() else np.nan)
            inner.append(steps[hit].min() if hit.any() else np.nan)
    return np.array(outer), np.array(inner)


@pytest.mark.parametrize("change", [1.2, -0.9])
def test_thickness_change_moves_the_inner_table_only(template, monkeypatch, change):
    _no_motion(monkeypatch, 0.0)
    same = deform_template(template, 3, 128, 1.6, max_rotation_deg=0.0).array > 0
    _no_motion(monkeypatch, change)
    changed = deform_template(template, 3, 128, 1.6, max_rotation_deg=0.0).array > 0
    out0, in0 = _ray_radii(same)
    out1, in1 = _ray_radii(changed)
    assert np.nanmean(np.abs(out1 - out0)) * 1.6 < 0.35  # the outer table stays (mm)
    moved = np.nanmean(in0 - in1) * 1.6  # > 0: the inner table moved toward the centre
    assert moved == pytest.approx(change, abs=0.5)
    if change > 0:
        assert changed.sum() > 1.05 * same.sum()
    else:
        assert changed.sum() < 0.95 * same.sum()


def test_templates_from_a_manifest_and_the_dataset_mix(tmp_path):
    src = synthesize_dataset(tmp_path / "src", 1, 5, shape=64, spacing=3.2, defect_types=("skullfix",), progress=False)
    found = load_templates(src)
    assert [t.name for t in found] == ["skull_000"]
    with pytest.raises(SkullVAEError, match="not among"):
        load_templates(src, ["nobody"])
    out = synthesize_dataset(tmp_path / "mix", 4, 0, shape=64, spacing=3.2, defect_types=("skullfix",), progress=False,
                             templates=found, template_fraction=0.5)
    cases = json.loads(out.read_text())["cases"]
    sources = [c["source"] for c in cases]
    assert sources.count("template:skull_000") == 2 and sources.count("synthetic:smooth") == 2


def test_an_empty_template_is_refused(tmp_path):
    vol = synth_skull(0, 64, 3.2)
    write_volume(vol.with_array(np.zeros_like(vol.array)), tmp_path / "e.nii.gz")
    with pytest.raises(SkullVAEError, match="no bone"):
        prepare_template(vol.with_array(np.zeros_like(vol.array)))
