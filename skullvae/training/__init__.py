"""skullvae.training"""
