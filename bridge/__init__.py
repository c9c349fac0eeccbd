"""The journal bridge (a mautrix appservice between the electronic journal and Matrix rooms); not built yet."""
