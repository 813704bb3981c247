"""File-format detection by extension."""

from __future__ import annotations

from pathlib import Path

from skullvae.errors import SkullVAEError

#: Extensions we read and write through SimpleITK, longest first.
VOLUME_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def volume_extension(path: str | Path) -> str:
    """Return the volume extension of ``path`` (e.g. ``".nii.gz"``).

    Raises:
        SkullVAEError: the extension is not a supported volume format.
    """
    name = Path(path).name.lower()
    for ext in VOLUME_EXTENSIONS:
        if name.endswith(ext):
            return ext
    raise SkullVAEError(
        f"unknown volume format: {Path(path).name} (supported: {', '.join(VOLUME_EXTENSIONS)} or a DICOM folder)"
    )


def volume_stem(path: str | Path) -> str:
    """File name without its volume extension (``case_001.nii.gz`` → ``case_001``)."""
    path = Path(path)
    if path.is_dir():
        return path.name
    return path.name[: len(path.name) - len(volume_extension(path))]
