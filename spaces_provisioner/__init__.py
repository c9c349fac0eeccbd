"""Parta's provisioning service, reconciler and command line.

Layers, each a sub-package; a layer imports only the layers above it in this list (and
``policies``, which imports nothing of the project)::

    settings, errors, changes   shared contracts: parta.yaml, the error model, the change record
    db/                          the service's own database: tables (schema) and shared queries
    homeserver/                  talking to Synapse: the bot's client, calls made for a person, mail
    roster/                      reading rosters (OneRoster, SDS) and generating a demo school
    reconcile/                   desired state (database + room templates) → Matrix state; registry room
    ops/                         operations on schools; the only way to the database from above
    api/   web/                  HTTP: the provisioning API (/api/v1) and people's pages (/register)
    install/                     parta init (homeserver configuration, bot) and parta run (processes)
    cli/                         the ``parta`` command line and ``parta demo``

docs/ARCHITECTURE.md tells the data flow, the registration sequence and where each kind of
state lives.
"""
