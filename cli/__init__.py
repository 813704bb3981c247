"""The ``skullvae`` command-line interface (installed as ``skullvae_cli``)."""
