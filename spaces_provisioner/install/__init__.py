"""Installation and supervision: ``parta init`` (:mod:`.installation`: Synapse's generated
configuration edited by :mod:`.homeserver_config`, the bot, the registry room) and ``parta run``
(:mod:`.processes`, :mod:`.supervisor`: Synapse and the provisioning service as child processes).

May import :mod:`~spaces_provisioner.homeserver`, :mod:`~spaces_provisioner.reconcile` (the
registry room), the shared contracts and ``policies``.
"""
