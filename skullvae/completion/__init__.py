"""skullvae.completion"""
