"""skullvae: automatic cranial implant design with a two-stage MONAI 3D VAE.

Pipeline (one sub-package per step):
``io`` → ``preprocessing`` → ``phantoms`` / ``defects`` → ``data`` → ``model`` →
``objectives`` → ``training`` → ``latent`` → ``completion`` → ``implant`` → ``metrics``;
``viz`` renders PNGs for people.
"""

import os

# ONNX Runtime (>= 1.29) starts a telemetry client when imported: it writes a device id under
# XDG_CACHE_HOME (~/.cache) and may try to send events. A medical tool that must run offline
# and on read-only file systems wants neither (a value already in the environment is kept).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from skullvae.errors import SkullVAEError  # noqa: E402
from skullvae.io.volume import Volume  # noqa: E402

__version__ = "0.1.0"
__all__ = ["SkullVAEError", "Volume", "__version__"]
