"""``python -m bridge``: run the journal bridge (see ``bridge.program``)."""

from bridge.program import main

main()
