"""skullvae.implant"""
