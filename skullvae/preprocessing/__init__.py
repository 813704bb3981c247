"""skullvae.preprocessing"""
