"""skullvae.defects"""
