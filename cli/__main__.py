from skullvae_cli.app import main

main()
