"""Generate a Synapse configuration with Parta's settings (``parta init``).

Synapse writes its own ``homeserver.yaml`` (``--generate-config``); this module then
edits it with ruamel.yaml in round-trip mode, so Synapse's comments stay, and adds
Parta's settings from :data:`PARTA_SETTINGS` (privacy, registration by token only,
no federation) plus the module, listeners and database.

Sources: Synapse "Configuration Manual" (config_documentation.md) for every key;
docs/ARCHITECTURE.md "Synapse facts" for why each one is set.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import psycopg2.extensions
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from policies import federation
from policies.i18n import N_, translations
from policies.state_events import REGISTRY_ALIAS_LOCALPART, PartaEventTypes, journal_bridge_user_id

BOT_LOCALPART = "parta"
#: Synapse's server-notices user: Parta's system notices to one person (the quiet-hours notice in a
#: direct chat, where the bot is no member). Nobody logs in as it; Synapse refuses to register it.
NOTICES_LOCALPART = "parta-notices"
NOTICES_ROOM_NAME = N_("Parta notices")


def server_notices(language: str = "ru") -> dict:
    """Synapse's ``server_notices`` section: Parta's system user and the room's localised name."""
    return {"system_mxid_localpart": NOTICES_LOCALPART, "system_mxid_display_name": "Parta",
            "room_name": translations(language).gettext(NOTICES_ROOM_NAME)}

#: Parta's settings added to every generated homeserver.yaml (key → value, comment).
PARTA_SETTINGS: list[tuple[str, object, str | None]] = [
    # Privacy: people find and look up only the people they share a school with.
    ("user_directory", {"enabled": True, "search_all_users": False, "exclude_remote_users": True,
                        "prefer_local_users": True},
     "Parta: the directory shows only people who share a room; the module narrows it to one's schools"),
    ("require_auth_for_profile_requests", True, "Parta: no anonymous profile look-ups"),
    ("limit_profile_requests_to_users_who_share_rooms", True,
     "Parta: profiles only of people one shares a room with"),
    ("include_profile_data_on_invite", False, "Parta: invites carry no name or avatar"),
    ("allow_profile_lookup_over_federation", False, "Parta: no profile look-ups from other servers"),
    ("enable_set_displayname", False, "Parta: display names are set by the server from the roster"),
    ("enable_set_avatar_url", False,
     "Parta: no avatars chosen by people: a picture is free content shown to every pupil one shares a room with"),
    ("allow_per_room_profiles", False, "Parta: one name everywhere, so nobody can imitate a badge in a room"),
    ("enable_3pid_lookup", False, "Parta: nobody is found by e-mail or phone number"),
    ("enable_3pid_changes", False, "Parta: contact details are the school's business, not the account's"),
    ("room_list_publication_rules", [{"action": "deny"}], "Parta: no room is ever published in the room directory"),
    ("allow_public_rooms_without_auth", False, "Parta: nothing of a school is visible to strangers"),
    ("allow_public_rooms_over_federation", False, "Parta: nor to other servers"),
    # Registration: only by a token (a Parta registration link).
    ("enable_registration", True, "Parta: registration is open only to holders of a registration token"),
    ("registration_requires_token", True, "Parta: every registration needs a Parta link (a registration token)"),
    # Federation: off unless the operator decides otherwise.
    ("federation_domain_whitelist", [], "Parta: federation is off (an empty list blocks every server)"),
    ("trusted_key_servers", [], "Parta: no key servers, since there is no federation"),
    ("suppress_key_server_warning", True, None),
    ("presence", {"enabled": False},
     "Parta: no presence: a status message would be free text to everyone one shares a room with"),
    ("encryption_enabled_by_default_for_room_type", DoubleQuotedScalarString("off"),
     "Parta: school rooms are not encrypted by default so that the school can moderate (docs/ARCHITECTURE.md)"),
]


class InitError(RuntimeError):
    """``parta init`` cannot proceed; the message says why and what to do."""


def _yaml() -> YAML:
    y = YAML()  # round-trip: keeps Synapse's comments
    y.preserve_quotes = True
    y.width = 4096
    return y


def generate_synapse_config(root: Path, server_name: str) -> Path:
    """Run Synapse's own ``--generate-config`` in ``root``; returns the homeserver.yaml path.

    Raises InitError with Synapse's output when generation fails.
    """
    config_path = root / "homeserver.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "synapse.app.homeserver", "--server-name", server_name,
         "--config-path", str(config_path), "--data-directory", str(root),
         "--generate-config", "--report-stats=no"],
        cwd=root, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise InitError(f"Synapse could not generate its configuration:\n{proc.stderr.strip()}")
    return config_path


def database_section(postgres_dsn: str | None, root: Path) -> dict:
    """Synapse's ``database`` section: SQLite in ``root`` by default, else psycopg2 args from the DSN.

    Raises InitError for a DSN psycopg2 cannot parse.
    """
    if not postgres_dsn:
        return {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}}
    try:
        args = psycopg2.extensions.parse_dsn(postgres_dsn)
    except psycopg2.ProgrammingError as e:
        raise InitError(f"--postgres {postgres_dsn!r}: not a PostgreSQL connection string ({e})") from e
    if "dbname" in args:
        args["database"] = args.pop("dbname")
    args.update({"cp_min": 2, "cp_max": 10})
    return {"name": "psycopg2", "args": args}


#: The Unix socket where only the installation's user reaches the Admin API (relative to DIR).
ADMIN_SOCKET = "synapse-admin.sock"
#: Longest Unix socket path the kernel takes (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107


def listeners(port: int, admin_socket: Path, behind_proxy: bool, federating: bool = False) -> list[dict]:
    """Synapse's listeners: the one people use, and the bot's Unix socket with the Admin API.

    The public listener binds to loopback, serves the client API without federation, trusts
    ``X-Forwarded-For`` only when a reverse proxy is in front (``behind_proxy``; else anyone could
    pick the address Synapse's per-address rate limits count), and answers nothing under
    ``/_synapse/admin`` (``synapse_module.ClosedAdminApi``). ``federating`` (partner servers were
    allow-listed, :func:`federation_settings`): it serves the Server-Server API and the server's keys
    too (``federation``, ``keys``), for the reverse proxy's TLS port (config/nginx.conf). Raises InitError
    for a socket path longer than the kernel allows.
    """
    if len(str(admin_socket).encode()) > MAX_SOCKET_PATH:
        raise InitError(f"{admin_socket}: the path is too long for a Unix socket ({MAX_SOCKET_PATH} bytes at most); "
                        "create the installation in a directory with a shorter path")
    return [
        {"port": port, "tls": False, "type": "http", "x_forwarded": behind_proxy,
         "bind_addresses": ["127.0.0.1"],
         # openid: only /_matrix/federation/v1/openid/userinfo (the group calls' token service checks
         # people's OpenID tokens there); no other federation path is served
         "resources": [{"names": ["client", "federation", "keys"] if federating else ["client", "openid"],
                        "compress": False}],
         "additional_resources": {"/_synapse/admin": {"module": "synapse_module.ClosedAdminApi"}}},
        {"path": str(admin_socket), "mode": 0o600, "type": "http",
         "resources": [{"names": ["client"], "compress": False}]},
    ]


def check_partner(server_name: str, partner: str) -> str:
    """One partner server name as written in ``federation_domain_whitelist``; raises InitError naming
    the bad name and the fix (Matrix spec, Appendices, "Server Name": ``host[:port]``)."""
    from synapse.util.stringutils import parse_and_validate_server_name

    name = partner.strip()
    try:
        parse_and_validate_server_name(name)
    except ValueError as e:
        raise InitError(f"--federate-with {partner!r}: not a Matrix server name ({e}); write it as the partner's "
                        "users have it after the colon, e.g. school2.example") from e
    if name == server_name:
        raise InitError(f"--federate-with {partner!r}: that is this server's own name; list the partner servers")
    return name


def federation_settings(partners: list[str]) -> list[tuple[str, object, str]]:
    """The settings that open federation to ``partners`` only (Synapse "Configuration Manual":
    ``federation_domain_whitelist``, ``serve_server_wellknown``, ``room_prejoin_state``, ``trusted_key_servers``).

    Every other server is refused by Synapse before any module sees its request. The invite's stripped
    state carries Parta's room description (``org.parta.room``), so that the invited person's server
    admits invitations into network rooms only (``synapse_module``'s ``federated_user_may_invite``).
    Keys are fetched from each partner directly (no notary: its answer would vouch for servers we do not know).
    """
    return [
        ("federation_domain_whitelist", list(partners),
         "Parta: federation only with these partner servers (parta init --federate-with); "
         "only cross-school network rooms federate"),
        ("serve_server_wellknown", True,
         "Parta: /.well-known/matrix/server sends partners to port 443 (the reverse proxy, config/nginx.conf)"),
        ("room_prejoin_state", {"additional_event_types": [PartaEventTypes.ROOM]},
         "Parta: invitations carry the room's Parta description, which the invited person's server checks"),
        ("trusted_key_servers", [], "Parta: partners' keys are fetched from the partners themselves"),
    ]


def module_federation(partners: list[str]) -> dict:
    """The module's ``federation`` section (``policies.federation.FederationConfig``): the same partner
    list as Synapse's ``federation_domain_whitelist`` (:func:`federation_settings`), written by the same
    ``parta init`` from the same checked list, so the two never disagree. Written also when empty: the
    module then refuses federation explicitly (and without the section it fails closed too)."""
    return {"partners": list(partners)}


def edit_synapse_config(config_path: Path, *, root: Path, port: int, server_name: str,
                        postgres_dsn: str | None, public_baseurl: str,
                        provisioning_url: str | None = None, nudge_secret: str | None = None,
                        behind_proxy: bool = False, language: str = "ru",
                        federate_with: list[str] | None = None) -> None:
    """Add Parta's settings to a generated homeserver.yaml, in place (comments kept).

    Listeners as :func:`listeners` says; the module ``synapse_module.PartaModule`` is configured
    with the bot's user id, the registry alias, and where (and with which secret) to nudge the
    provisioning service; server notices from Parta's system user (:func:`server_notices`, in
    ``language``). ``federate_with``: partner servers, written into Synapse's settings
    (:func:`federation_settings`) and the module's ``federation`` section (:func:`module_federation`);
    none: no federation. The module's config is written whole each time (``--force`` included), so an
    earlier installation gets the section and both lists match. Raises InitError.
    """
    partners = [check_partner(server_name, p) for p in federate_with or []]
    y = _yaml()
    data: CommentedMap = y.load(config_path.read_text(encoding="utf-8"))
    data["public_baseurl"] = public_baseurl
    data["listeners"] = listeners(port, root / ADMIN_SOCKET, behind_proxy, federating=bool(partners))
    data.yaml_set_comment_before_after_key(
        "listeners", before="Parta: people's listener on loopback, client API (and federation only with "
        "partners, parta init --federate-with), no Admin API "
        "(put a reverse proxy in front for production: parta init --behind-proxy); the Admin API only on the "
        "bot's Unix socket")
    data["database"] = database_section(postgres_dsn, root)
    for key, value, comment in PARTA_SETTINGS + (federation_settings(partners) if partners else []):
        data[key] = copy.deepcopy(value)
        if comment:
            data.yaml_set_comment_before_after_key(key, before=comment)
    data["server_notices"] = server_notices(language)
    data.yaml_set_comment_before_after_key(
        "server_notices", before="Parta: its system notices to one person (quiet hours in a direct chat)")
    data["modules"] = [{
        "module": "synapse_module.PartaModule",
        "config": {
            "bot_user_id": f"@{BOT_LOCALPART}:{server_name}",
            "registry_alias": f"#{REGISTRY_ALIAS_LOCALPART}:{server_name}",
            "journal_bridge_user_id": journal_bridge_user_id(server_name),
            **({"provisioning_url": provisioning_url} if provisioning_url else {}),
            **({"nudge_secret": nudge_secret} if nudge_secret else {}),
            federation.CONFIG_KEY: module_federation(partners),
        },
    }]
    data.yaml_set_comment_before_after_key(
        "modules", before="Parta: the module that enforces the school rules on every request")
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)
    _point_log_config_to(root, data["log_config"], logs / "homeserver.log")


def _point_log_config_to(root: Path, log_config: str, log_file: Path) -> None:
    """Make Synapse's generated log config write into ``log_file`` (it defaults to the cwd)."""
    path = Path(log_config)
    y = _yaml()
    data = y.load(path.read_text(encoding="utf-8"))
    handler = data.get("handlers", {}).get("file")
    if handler is not None:
        handler["filename"] = str(log_file)
    with path.open("w", encoding="utf-8") as f:
        y.dump(data, f)
