"""Parta's Synapse module: thin adapters from Synapse callbacks to ``policies`` decisions.

Configured in homeserver.yaml (``parta init`` writes it)::

    modules:
      - module: synapse_module.PartaModule
        config:
          bot_user_id: "@parta:school.example"
          registry_alias: "#parta.registry:school.example"
"""

from .admin_gate import ClosedAdminApi
from .module import PartaModule

__all__ = ["ClosedAdminApi", "PartaModule"]
