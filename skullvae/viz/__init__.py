"""PNG renderings for people: orthogonal-slice previews with coloured overlays."""

from skullvae.viz.preview import render_preview, render_rows, save_figure

__all__ = ["render_preview", "render_rows", "save_figure"]
