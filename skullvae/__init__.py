"""skullvae: automatic cranial implant design with a two-stage MONAI 3D VAE.

Pipeline (one sub-package per step):
``io`` → ``preprocessing`` → ``phantoms`` / ``defects`` → ``data`` → ``model`` →
``objectives`` → ``training`` → ``latent`` → ``completion`` → ``implant`` → ``metrics``;
``viz`` renders PNGs for people.
"""

from skullvae.errors import SkullVAEError
from skullvae.io.volume import Volume

__version__ = "0.1.0"
__all__ = ["SkullVAEError", "Volume", "__version__"]
