"""The ``parta`` command line (:mod:`.main`), reading application files (:mod:`.application_file`)
and ``parta demo`` (:mod:`.demo`, with its school B in ``demo_data/``).

The top layer: may import every other layer; talks to a running service through
:mod:`spaces_provisioner.api.client`.
"""

from spaces_provisioner.cli.main import main

__all__ = ["main"]
