"""The module object Synapse instantiates (once per process, on every worker)."""

from __future__ import annotations

from dataclasses import dataclass

from synapse.module_api import ModuleApi
from synapse.module_api.errors import ConfigError


@dataclass(frozen=True)
class ModuleConfig:
    """The module's ``config`` section: the bot's user id and the registry room's alias."""

    bot_user_id: str
    registry_alias: str


class PartaModule:
    """Registers Parta's callbacks with Synapse (Synapse module API, "Writing a module")."""

    def __init__(self, config: ModuleConfig, api: ModuleApi):
        self.config = config
        self.api = api

    @staticmethod
    def parse_config(config: dict) -> ModuleConfig:
        """Validate the ``config`` mapping; raises ConfigError naming the missing key."""
        try:
            return ModuleConfig(bot_user_id=config["bot_user_id"], registry_alias=config["registry_alias"])
        except (KeyError, TypeError) as e:
            raise ConfigError(f"synapse_module.PartaModule: missing setting {e}") from e
