"""Write volumes atomically with exact geometry."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path
from skullvae.io.formats import volume_extension
from skullvae.io.volume import Volume


def write_volume(volume: Volume, path: str | os.PathLike, overwrite: bool = False, compress: bool = True) -> Path:
    """Write ``volume`` to ``path`` (format from the extension), atomically.

    Boolean arrays are stored as uint8. ``.nhdr``/``.mhd`` (detached headers) are
    written with their data file beside them.

    Args:
        volume: the volume to write.
        path: output file; its extension selects the format.
        overwrite: replace an existing file.
        compress: gzip-compress where the format allows it.

    Returns:
        The written path.
    """
    image = volume.to_sitk() if volume.array.dtype != bool else volume.with_array(volume.array.astype(np.uint8)).to_sitk()
    return write_image(image, path, overwrite, compress)


def write_image(image, path: str | os.PathLike, overwrite: bool = False, compress: bool = True) -> Path:
    """Write a ``SimpleITK.Image`` atomically, exactly as :func:`write_volume` writes a volume.

    For callers that assemble the image directly (e.g. by pasting a small box into
    an image), which saves the full-size NumPy copies.

    Args:
        image: a 3D SimpleITK image.
        path: output file; its extension selects the format.
        overwrite: replace an existing file.
        compress: gzip-compress where the format allows it.

    Returns:
        The written path.
    """
    import SimpleITK as sitk

    path = Path(path)
    ext = volume_extension(path)
    if ext in (".nhdr", ".mhd"):
        # Detached header + data file: write both into a temp folder, then move.
        if path.exists() and not overwrite:
            raise SkullVAEError(f"output exists: {path} (pass --overwrite to replace it)")
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tmp-") as tmpdir:
            tmp = Path(tmpdir) / path.name
            sitk.WriteImage(image, str(tmp), useCompression=compress)
            produced = sorted(Path(tmpdir).iterdir(), key=lambda p: p == tmp)  # header last
            for item in produced:
                os.replace(item, path.parent / item.name)
        return path
    with atomic_path(path, overwrite=overwrite) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=compress and ext != ".nii")
    return path
