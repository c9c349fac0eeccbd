"""``parta init``: create an installation directory (homeserver config, bot, provisioning config).

An installation directory holds Synapse's ``homeserver.yaml`` (with Parta's settings),
its signing key, log config and SQLite database, the provisioning service's
``parta.yaml`` and database, and ``logs/``. Running init on an existing installation
changes nothing unless ``force`` is given; ``force`` regenerates the configuration
files but keeps the databases, keys and secrets.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from pathlib import Path

from mautrix.api import Method
from ruamel.yaml import YAML

from policies.i18n import gettext_

from spaces_provisioner.homeserver.bot import BotClient, MatrixRequestError, register_with_shared_secret
from spaces_provisioner.homeserver.config_file import read_synapse_config
from spaces_provisioner.install import homeserver_config as hc
from spaces_provisioner.install.journal_bridge import bridge_port as bridge_port_of
from spaces_provisioner.install.journal_bridge import configure_bridge, register_in_synapse
from spaces_provisioner.install.matrix_rtc import configure_livekit, configure_matrix_rtc
from spaces_provisioner.install.processes import start_synapse
from spaces_provisioner.install.turn import configure_turn
from spaces_provisioner.install.uploads import configure_uploads
from spaces_provisioner.reconcile.registry import ensure_registry
from spaces_provisioner.settings import SETTINGS_FILE, Settings


class AlreadyInitialized(Exception):
    """The directory already holds an installation and ``--force`` was not given."""


SECRET_KEYS = ("registration_shared_secret", "macaroon_secret_key", "form_secret")


def init_installation(root: Path, server_name: str, *, postgres_dsn: str | None = None,
                      port: int = 8008, provisioning_port: int | None = None,
                      public_baseurl: str | None = None, force: bool = False,
                      language: str = "ru", behind_proxy: bool = False,
                      bridge_port: int | None = None, turn_port: int | None = None,
                      livekit_url: str | None = None, clamd: str | None = None,
                      scan_unavailable: str = "refuse", federate_with: list[str] | None = None) -> Settings:
    """Create (or with ``force`` regenerate) the installation in ``root``; returns its Settings.

    Starts Synapse once to create the Parta bot (server admin, exempt from rate limits)
    and the registry room, then stops it. Raises AlreadyInitialized, InitError,
    StartError. ``behind_proxy``: a reverse proxy sets ``X-Forwarded-For`` (trusted only then).
    ``bridge_port``: where the journal bridge listens (default: the provisioning port + 1); its
    config and registration are written too (``install.journal_bridge``). ``turn_port``: coturn's
    (default: kept, else 3478 when free); ``livekit_url``: the group calls' SFU (default: kept, else
    ``matrix_rtc.default_livekit_url``); coturn's config, the TURN and MatrixRTC settings and the LiveKit
    keys are written too (``install.turn``, ``install.matrix_rtc``). ``clamd``: the virus scanner's address
    for uploads (``unix:/path`` or ``tcp:host:port``; default: kept from the old configuration, else
    none) and ``scan_unavailable`` (``refuse``/``accept``), with ``max_upload_size`` (``install.uploads``).
    ``public_baseurl``: where clients reach the homeserver, given to them by ``/.well-known/matrix/client``
    (Matrix spec, Client-Server API, "Server Discovery"); default ``https://SERVER_NAME/`` behind a
    proxy (the proxy answers the well-known there, config/nginx.conf), else the loopback listener.
    ``federate_with``: the partner servers network rooms federate with (default none: no federation;
    ``homeserver_config.federation_settings``).
    """
    root = Path(root).resolve()
    if (root / SETTINGS_FILE).exists() and not force:
        raise AlreadyInitialized(str(root))
    root.mkdir(parents=True, exist_ok=True)
    close_to_others(root)
    old_settings = Settings.load(root) if (root / SETTINGS_FILE).exists() else None
    config_path = root / "homeserver.yaml"
    old_secrets = {}
    if config_path.exists():
        old = read_synapse_config(config_path) or {}
        old_secrets = {k: old[k] for k in SECRET_KEYS if old.get(k)}
        shutil.move(config_path, root / "homeserver.yaml.bak")
    hc.generate_synapse_config(root, server_name)
    homeserver_url = f"http://127.0.0.1:{port}"
    if public_baseurl is None:
        public_baseurl = f"https://{server_name}/" if behind_proxy else homeserver_url + "/"
    provisioning_port = provisioning_port or port + 1
    nudge_secret = (old_settings.nudge_secret if old_settings else None) or secrets.token_urlsafe(32)
    hc.edit_synapse_config(config_path, root=root, port=port, server_name=server_name,
                           postgres_dsn=postgres_dsn, public_baseurl=public_baseurl or homeserver_url + "/",
                           provisioning_url=f"http://127.0.0.1:{provisioning_port}", nudge_secret=nudge_secret,
                           behind_proxy=behind_proxy, language=language, federate_with=federate_with)
    if old_secrets:
        y = YAML()
        data = y.load(config_path.read_text(encoding="utf-8"))
        data.update(old_secrets)
        with config_path.open("w", encoding="utf-8") as f:
            y.dump(data, f)
    settings = Settings(
        root=root, server_name=server_name, homeserver_url=homeserver_url,
        homeserver_config=config_path,
        database=postgres_dsn or f"sqlite:///{root / 'parta.db'}",
        provisioning_host="127.0.0.1", provisioning_port=provisioning_port,
        operator_token=old_settings.operator_token if old_settings else secrets.token_urlsafe(32),
        bot_user_id=f"@{hc.BOT_LOCALPART}:{server_name}",
        bot_access_token=old_settings.bot_access_token if old_settings else "",
        language=language, admin_socket=root / hc.ADMIN_SOCKET, nudge_secret=nudge_secret,
    )
    configure_turn(root, config_path, public_baseurl or homeserver_url + "/", port=turn_port)
    configure_livekit(settings, public_baseurl or homeserver_url + "/", livekit_url, old_settings)
    configure_matrix_rtc(settings)
    configure_uploads(config_path, clamd=clamd, scan_unavailable=scan_unavailable,
                      keep_from=root / "homeserver.yaml.bak" if force else None)
    old_bridge_port = bridge_port_of(root)
    registration = configure_bridge(
        root, server_name=server_name, homeserver_url=homeserver_url,
        port=bridge_port or old_bridge_port or provisioning_port + 1, provisioning_url=settings.provisioning_url,
        operator_token=settings.operator_token, database=settings.database, language=language)
    register_in_synapse(config_path, registration)
    _fast_background_updates(config_path, True)
    synapse = start_synapse(config_path, homeserver_url, settings.logs_dir)
    try:
        synapse.wait_healthy()
        shared_secret = read_synapse_config(config_path)["registration_shared_secret"]
        settings.bot_access_token = asyncio.run(_bootstrap_bot(settings, shared_secret))
    finally:
        synapse.stop()
        _fast_background_updates(config_path, False)
    settings.save()
    return settings


def close_to_others(root: Path) -> None:
    """Make the installation directory the owner's only (0700): it holds Synapse's, the service's
    and the journal bridge's databases (every pupil's grades), tokens and logs, which Synapse and
    SQLite create with the default umask, readable by every local user."""
    root.chmod(0o700)


async def _name_bridge(bot: BotClient, settings: Settings) -> None:
    """Create the journal bridge's account (an appservice user: only its own token may register it)
    and give it its name; profiles are the server's, so the bot sets the name (Admin API)."""
    from spaces_provisioner.install.journal_bridge import as_token

    token = as_token(settings.root)
    if token is None:
        return
    as_client = BotClient(settings.homeserver_url, token, settings.journal_bridge_user_id)
    try:
        await as_client.request(Method.POST, "/_matrix/client/v3/register",
                                {"type": "m.login.application_service",
                                 "username": settings.journal_bridge_user_id[1:].split(":", 1)[0]})
    except MatrixRequestError as e:
        if e.errcode != "M_USER_IN_USE":
            raise
    finally:
        await as_client.close()
    await bot.put_user(settings.journal_bridge_user_id, {"displayname": gettext_("School journal",
                                                                                 settings.language)})


def _fast_background_updates(config_path: Path, on: bool) -> None:
    """While init bootstraps a new database, let Synapse run its ~56 first background
    updates back to back (``background_updates.sleep_enabled: false``) instead of one a
    second; the setting is removed again afterwards."""
    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    if on:
        data["background_updates"] = {"sleep_enabled": False}
    else:
        data.pop("background_updates", None)
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


async def _bootstrap_bot(settings: Settings, shared_secret: str) -> str:
    """Create the bot (or keep the existing one) and the registry room; returns the bot's token."""
    token = settings.bot_access_token
    if not token:
        try:
            r = await register_with_shared_secret(settings.homeserver_url, shared_secret, hc.BOT_LOCALPART,
                                                  secrets.token_urlsafe(32), admin=True, displayname="Parta",
                                                  unix_socket=settings.admin_socket)
        except MatrixRequestError as e:
            if e.errcode == "M_USER_IN_USE":
                raise hc.InitError(
                    f"the homeserver's database already has {settings.bot_user_id} but {SETTINGS_FILE} "
                    "with its access token is gone; start from an empty directory (and database)") from e
            raise
        token = r["access_token"]
    bot = BotClient(settings.homeserver_url, token, settings.bot_user_id, unix_socket=settings.admin_socket)
    try:
        await bot.exempt_from_ratelimit(settings.bot_user_id)
        await ensure_registry(bot, settings.server_name)
        await _name_bridge(bot, settings)
        # leave a database whose first background updates (user directory...) are done
        await bot.wait_for_background_updates()
    finally:
        await bot.close()
    return token
