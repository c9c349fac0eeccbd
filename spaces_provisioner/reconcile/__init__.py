"""Reconciling: the desired state of an organization (the database rendered through
``policies.templates``) written onto the homeserver as the bot, only where it differs
(:mod:`.reconciler`); the registry room the Synapse module reads (:mod:`.registry`).

May import :mod:`~spaces_provisioner.db`, :mod:`~spaces_provisioner.homeserver`, the shared
contracts and ``policies``.
"""
