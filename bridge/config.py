"""The bridge's configuration: a commented YAML file, updated and validated the mautrix way.

``bridge/example-config.yaml`` (shipped in the package) is the base: keys missing from an
older file are added with their comments, the user's values are kept
(``mautrix.util.config.BaseFileConfig.update``). :meth:`Config.generate_registration` writes
the appservice registration (Matrix Application Service API, "Registration").
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from mautrix.util.config import (
    BaseFileConfig,
    BaseValidatableConfig,
    ConfigUpdateHelper,
    ForbiddenDefault,
)
from ruamel.yaml import YAML

GENERATED = "This value is generated when generating the registration"


class Config(BaseFileConfig, BaseValidatableConfig):
    """The bridge's config file; values are read as ``config["journal.poll_interval"]``."""

    def do_update(self, helper: ConfigUpdateHelper) -> None:
        """Copy the user's values over the base (mautrix ``ConfigUpdateHelper``)."""
        copy = helper.copy
        for key in ("homeserver.address", "homeserver.domain",
                    "appservice.address", "appservice.hostname", "appservice.port", "appservice.database",
                    "appservice.id", "appservice.bot_username", "appservice.as_token", "appservice.hs_token",
                    "provisioning.url", "provisioning.token",
                    "journal.poll_interval", "journal.max_backoff", "journal.absent_polls_to_cancel",
                    "journal.failure_notice_after", "journal.digest_hour", "journal.reminder_minutes",
                    "journal.language", "sources", "logging"):
            copy(key)

    @property
    def forbidden_defaults(self) -> list[ForbiddenDefault]:
        """Values that must not stay as shipped (the bridge refuses to start with them)."""
        return [ForbiddenDefault("appservice.as_token", GENERATED,
                                 "generate the registration first: python -m bridge -c CONFIG -g -r REGISTRATION"),
                ForbiddenDefault("homeserver.domain", "example.org", "set homeserver.domain to your server name")]

    @property
    def bot_user_id(self) -> str:
        """``@bot_username:domain``: the bridge's user."""
        return f"@{self['appservice.bot_username']}:{self['homeserver.domain']}"

    def generate_registration(self) -> dict[str, Any]:
        """New ``as_token``/``hs_token`` in the config and the registration that goes with them.

        The bridge's only user is exclusive to it; it claims no aliases or rooms
        (Application Service API, "Registration": ``namespaces``). Not rate limited: a
        morning's homework for a whole school is posted at once.
        """
        self["appservice.as_token"] = secrets.token_urlsafe(48)
        self["appservice.hs_token"] = secrets.token_urlsafe(48)
        return registration_of(self)


def registration_of(config: Config) -> dict[str, Any]:
    """The registration for the config's current tokens."""
    bot = config["appservice.bot_username"]
    return {
        "id": config["appservice.id"],
        "url": config["appservice.address"],
        "as_token": config["appservice.as_token"],
        "hs_token": config["appservice.hs_token"],
        "sender_localpart": bot,
        "namespaces": {"users": [{"exclusive": True, "regex": re.escape(f"@{bot}:{config['homeserver.domain']}")}],
                       "aliases": [], "rooms": []},
        "rate_limited": False,
    }


def write_yaml(path: Path, data: dict) -> None:
    """Write ``data`` as YAML, readable only by the owner (it holds tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        YAML().dump(data, f)
    path.chmod(0o600)
