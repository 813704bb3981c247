"""Volume I/O with exact geometry (NIfTI, NRRD, MetaImage, DICOM series)."""

from skullvae.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from skullvae.io.readers import read_volume
from skullvae.io.volume import Volume
from skullvae.io.writers import write_volume

__all__ = ["Volume", "read_volume", "write_volume", "atomic_path", "atomic_write_bytes", "atomic_write_text"]
