"""skullvae.phantoms"""
