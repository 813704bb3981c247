"""skullvae.latent"""
