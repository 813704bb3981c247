"""skullvae.objectives"""
