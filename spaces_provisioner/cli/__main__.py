import sys

from spaces_provisioner.cli.main import main

sys.exit(main())
