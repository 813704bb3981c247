"""Orthogonal-slice previews: physical aspect, orientation, overlays, atomic PNG output."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from skullvae.errors import SkullVAEError
from skullvae.io import Volume
from skullvae.viz import render_preview, render_rows, save_figure
from skullvae.viz.preview import _draw_row, _lps_view

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _phantom():
    """Anisotropic (0.5, 0.5, 2 mm) volume: 20 × 30 × 40 mm, a box 'skull' and a ball 'implant'."""
    spacing = (0.5, 0.5, 2.0)
    arr = np.zeros((40, 60, 20), np.uint8)
    arr[5:35, 5:55, 2:18] = 1
    arr[10:30, 10:50, 5:15] = 0
    g = np.meshgrid(*[np.arange(n) * s for n, s in zip(arr.shape, spacing)], indexing="ij")
    ball = ((g[0] - 15) ** 2 + (g[1] - 20) ** 2 + (g[2] - 30) ** 2) <= 16
    vol = Volume(arr, spacing, (-10.0, 5.0, 100.0))
    return vol, vol.with_array(ball.astype(np.uint8))


def test_png_written_atomically(tmp_path):
    vol, ball = _phantom()
    out = render_preview(vol, [("implant", ball)], tmp_path / "p.png", title="phantom")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]
    with pytest.raises(SkullVAEError, match="--overwrite"):
        render_preview(vol, [], tmp_path / "p.png", overwrite=False)
    with pytest.raises(SkullVAEError, match=r"\.png"):
        render_preview(vol, [], tmp_path / "p.jpg")


def test_panels_in_physical_units_and_through_overlay_centroid():
    vol, ball = _phantom()
    fig = Figure()
    axes = fig.subplots(1, 3)
    handles = _draw_row(axes, vol, [("implant", ball)], None, None, None)
    assert list(handles) == [f"implant ({ball.array.sum() * 0.5 * 0.5 * 2.0 / 1000:.1f} ml)"]
    axial, coronal, sagittal = (ax.get_images()[0] for ax in axes)
    # Extents are in mm: 40 × 0.5 = 20 mm wide (L), 60 × 0.5 = 30 mm (P), 20 × 2 = 40 mm (S).
    left, right, bottom, top = axial.get_extent()
    assert right - left == pytest.approx(20.0) and bottom - top == pytest.approx(30.0)  # P grows downward
    left, right, bottom, top = coronal.get_extent()
    assert top - bottom == pytest.approx(40.0)
    left, right, bottom, top = sagittal.get_extent()
    assert right - left == pytest.approx(30.0)
    # Slices pass through the ball centre (L = -10 + 15, P = 5 + 20, S = 100 + 30).
    assert "S = 130.0 mm" in axes[0].get_title()
    assert "P = 25.0 mm" in axes[1].get_title()
    assert "L = 5.0 mm" in axes[2].get_title()
    # The overlay is drawn in the axial panel where the ball is.
    overlay = axes[0].get_images()[1].get_array()
    assert overlay[..., 3].max() > 0


def test_lps_view_undoes_permuted_and_flipped_axes():
    vol, _ = _phantom()
    # Same physical content stored with axes (S, -L, P): direction columns +S, -L, +P.
    direction = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    arr = np.transpose(vol.array, (2, 0, 1))[:, ::-1, :]
    origin = vol.index_to_physical([vol.shape[0] - 1, 0, 0])
    other = Volume(arr, (2.0, 0.5, 0.5), origin, direction)
    idx = (3, 7, 11)
    assert np.allclose(other.index_to_physical(idx), vol.index_to_physical((39 - 7, 11, 3)))
    fn, spacing, start, to_view, oblique = _lps_view(other)
    np.testing.assert_array_equal(fn(other.array), vol.array)
    np.testing.assert_allclose(spacing, vol.spacing)
    np.testing.assert_allclose(start, vol.origin)
    np.testing.assert_allclose(to_view(idx), (39 - 7, 11, 3))
    assert oblique == pytest.approx(0.0)


def test_overlay_errors_and_resampling(tmp_path):
    vol, ball = _phantom()
    with pytest.raises(SkullVAEError, match="empty"):
        render_preview(vol, [("none", vol.with_array(np.zeros(vol.shape, np.uint8)))], tmp_path / "e.png")
    assert not (tmp_path / "e.png").exists()
    far = Volume(ball.array, ball.spacing, (500.0, 500.0, 500.0))
    with pytest.raises(SkullVAEError, match="outside"):
        render_preview(vol, [far], tmp_path / "f.png")
    # The same ball on a finer grid is resampled onto the base grid.
    fine = Volume(np.repeat(ball.array, 4, axis=2), (0.5, 0.5, 0.5), np.asarray(ball.origin) - (0, 0, 0.75))
    render_preview(vol, [fine], tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_ct_window_rows_and_fov(tmp_path):
    vol, ball = _phantom()
    ct = vol.with_array(np.where(vol.array > 0, 1200, -1000).astype(np.int16))
    out = render_rows([("ct", ct, [("ball", ball)]), ("mask", vol)], tmp_path / "rows.png", title="two", fov_mm=60)
    assert out.read_bytes()[:8] == PNG_MAGIC
    fig = Figure()
    axes = fig.subplots(1, 3)
    _draw_row(axes, ct, [], (20, 30, 10), 60.0, "ct")
    assert axes[0].get_images()[0].get_clim() == (-600.0, 1400.0)
    lo, hi = axes[1].get_xlim()
    assert hi - lo == pytest.approx(60.0)
    with pytest.raises(SkullVAEError, match="outside the volume"):
        _draw_row(axes, ct, [], (99, 0, 0), None, None)


def test_save_figure(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "fig.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
