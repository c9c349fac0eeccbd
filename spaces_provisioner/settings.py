"""Parta's own settings file, ``DIR/parta.yaml``, written by ``parta init``.

Shape (YAML mapping)::

    server_name: school.example         # the homeserver's server_name
    homeserver_url: http://127.0.0.1:8008
    homeserver_config: homeserver.yaml  # relative to DIR
    database: sqlite:///DIR/parta.db     # or postgresql://... (tables in schema "parta_provisioning")
    provisioning: {host: 127.0.0.1, port: 8009, operator_token: "..."}
    bot: {user_id: "@parta:school.example", access_token: "..."}
    language: ru                         # default language of room names and messages
    badge: " ✓"                          # the mark a confirmed teacher's display name carries
    public_url: https://school.example   # optional: where people open links (behind a proxy)
    homeserver_admin_socket: synapse-admin.sock  # the bot's Unix socket with the Admin API (relative to DIR)
    nudge_secret: "..."                  # the Synapse module's token for POST /api/v1/registrations/nudge
    journal_bridge_user_id: "@parta_journal:school.example"  # optional; the journal bridge's account
    livekit: {url: "wss://school.example/livekit/sfu", api_key: "...", api_secret: "..."}  # group calls' SFU

The file holds secrets (the bot's access token, the operator token): it is written
with mode 0600 and never belongs in a repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from policies.i18n import gettext_
from policies.names import BADGE_DEFAULT
from policies.state_events import journal_bridge_user_id

SETTINGS_FILE = "parta.yaml"


class SettingsError(RuntimeError):
    """The settings file is missing or unusable; the message says how to fix it."""


@dataclass
class Settings:
    """Parsed ``parta.yaml`` of one Parta installation directory ``root``."""

    root: Path
    server_name: str
    homeserver_url: str
    homeserver_config: Path
    database: str
    provisioning_host: str
    provisioning_port: int
    operator_token: str
    bot_user_id: str
    bot_access_token: str
    language: str = "ru"
    public_url_override: str | None = None
    badge: str = BADGE_DEFAULT
    admin_socket: Path | None = None
    nudge_secret: str | None = None
    #: The journal bridge's user id (``journal_bridge_user_id`` in parta.yaml; empty: the default
    #: ``@parta_journal:{server_name}``). The Synapse module's config key of the same name must agree.
    journal_bridge_user_id: str = ""
    #: The LiveKit SFU of group calls (``livekit.url``, a ws/wss URL) and the key and secret that sign
    #: its tokens (``livekit.api_key``, ``livekit.api_secret``; the SFU's ``keys``). Empty: no group calls.
    livekit_url: str = ""
    livekit_api_key: str = ""
    livekit_api_secret: str = ""

    def __post_init__(self) -> None:
        if not self.journal_bridge_user_id:
            self.journal_bridge_user_id = journal_bridge_user_id(self.server_name)

    @property
    def public_url(self) -> str:
        """Where people open registration and invite links (``public_url`` in parta.yaml, else
        the provisioning service's own address)."""
        return (self.public_url_override or self.provisioning_url).rstrip("/")

    @property
    def provisioning_url(self) -> str:
        """Base URL of the provisioning service, e.g. ``http://127.0.0.1:8009``."""
        return f"http://{self.provisioning_host}:{self.provisioning_port}"

    @property
    def logs_dir(self) -> Path:
        """Where ``parta run`` writes both services' logs."""
        return self.root / "logs"

    @classmethod
    def load(cls, root: Path) -> Settings:
        """Read ``root/parta.yaml``; raises SettingsError naming the file when absent or broken."""
        root = Path(root).resolve()
        path = root / SETTINGS_FILE
        if not path.exists():
            raise SettingsError(gettext_(
                "{path}: not found. Name the installation with -d DIR or PARTA_DIR (the demo's is "
                "demo-data: -d demo-data), or create one with `parta init {root} --server-name NAME`"
            ).format(path=path, root=root))
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        try:
            prov = data["provisioning"]
            bot = data["bot"]
            return cls(
                root=root,
                server_name=data["server_name"],
                homeserver_url=data["homeserver_url"].rstrip("/"),
                homeserver_config=root / data.get("homeserver_config", "homeserver.yaml"),
                database=data["database"],
                provisioning_host=prov.get("host", "127.0.0.1"),
                provisioning_port=int(prov["port"]),
                operator_token=prov["operator_token"],
                bot_user_id=bot["user_id"],
                bot_access_token=bot.get("access_token") or "",
                language=data.get("language", "ru"),
                public_url_override=data.get("public_url"),
                badge=data.get("badge", BADGE_DEFAULT),
                # an installation from before these settings: the Admin API on the public listener,
                # anonymous nudges (they still change nothing: the service reads the record back)
                admin_socket=root / data["homeserver_admin_socket"] if data.get("homeserver_admin_socket") else None,
                nudge_secret=data.get("nudge_secret"),
                # absent in files written before the journal bridge: the default
                journal_bridge_user_id=data.get("journal_bridge_user_id") or "",
                # absent in files written before group calls: none until `parta init --force`
                livekit_url=(data.get("livekit") or {}).get("url") or "",
                livekit_api_key=(data.get("livekit") or {}).get("api_key") or "",
                livekit_api_secret=(data.get("livekit") or {}).get("api_secret") or "",
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SettingsError(
                f"{path}: missing or invalid setting {e}; re-create it with `parta init --force`") from e

    def to_yaml_data(self) -> dict:
        """The mapping written to ``parta.yaml``."""
        return {
            "server_name": self.server_name,
            "homeserver_url": self.homeserver_url,
            "homeserver_config": os.path.relpath(self.homeserver_config, self.root),
            "database": self.database,
            "provisioning": {
                "host": self.provisioning_host,
                "port": self.provisioning_port,
                "operator_token": self.operator_token,
            },
            "bot": {"user_id": self.bot_user_id, "access_token": self.bot_access_token},
            "language": self.language,
            "badge": self.badge,
            **({"public_url": self.public_url_override} if self.public_url_override else {}),
            **({"homeserver_admin_socket": os.path.relpath(self.admin_socket, self.root)} if self.admin_socket else {}),
            **({"nudge_secret": self.nudge_secret} if self.nudge_secret else {}),
            "journal_bridge_user_id": self.journal_bridge_user_id,
            **({"livekit": {"url": self.livekit_url, "api_key": self.livekit_api_key,
                            "api_secret": self.livekit_api_secret}} if self.livekit_api_key else {}),
        }

    def save(self) -> None:
        """Write ``parta.yaml`` with mode 0600 (it holds secrets)."""
        path = self.root / SETTINGS_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            YAML().dump(self.to_yaml_data(), f)
