"""skullvae.data"""
