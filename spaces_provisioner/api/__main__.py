from spaces_provisioner.api.app import main

main()
