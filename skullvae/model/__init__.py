"""skullvae.model"""
