"""skullvae.metrics"""
