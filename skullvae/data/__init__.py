"""skullvae.data: data manifests and skull-level splits."""

from skullvae.data.manifest import Case, Manifest, load_manifest, new_manifest, write_manifest
from skullvae.data.splits import split_by_skull

__all__ = ["Case", "Manifest", "load_manifest", "new_manifest", "split_by_skull", "write_manifest"]
