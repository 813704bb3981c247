"""skullvae.viz"""
