"""The journal bridge in an installation: its config, its registration, its process.

``parta init`` writes ``DIR/journal-bridge.yaml`` (the bridge's commented config, from the
package's ``bridge/example-config.yaml``) and ``DIR/journal-registration.yaml`` (the
appservice registration), and lists the registration in Synapse's
``app_service_config_files`` (Matrix Application Service API, "Registration"). Running init
again keeps the tokens, the sources and every other value already in the bridge's config.
``parta run`` starts the bridge after the provisioning service (``start_bridge``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ruamel.yaml import YAML

from policies.state_events import JOURNAL_BRIDGE_LOCALPART

from spaces_provisioner.install.processes import Service, _spawn

CONFIG_FILE = "journal-bridge.yaml"
REGISTRATION_FILE = "journal-registration.yaml"
GENERATED = "This value is generated when generating the registration"


def bridge_config_path(root: Path) -> Path:
    """Where the installation keeps the bridge's config."""
    return Path(root) / CONFIG_FILE


def configure_bridge(root: Path, *, server_name: str, homeserver_url: str, port: int, provisioning_url: str,
                     operator_token: str, database: str, language: str = "ru") -> Path:
    """Write (or bring up to date) the bridge's config and registration; returns the registration's path.

    ``database``: the installation's database (``sqlite:///…`` or a PostgreSQL DSN); the bridge
    keeps its own file next to it, or its tables in the schema ``parta_journal`` of the same
    PostgreSQL database.
    """
    from bridge.config import Config, write_yaml

    root = Path(root)
    path = bridge_config_path(root)
    if not path.exists():
        import pkgutil

        path.write_bytes(pkgutil.get_data("bridge", "example-config.yaml") or b"")
        path.chmod(0o600)
    config = Config(str(path), "pkg://bridge/example-config.yaml")
    config.load()
    config.update(save=False)
    config["homeserver.address"] = homeserver_url
    config["homeserver.domain"] = server_name
    config["appservice.address"] = f"http://127.0.0.1:{port}"
    config["appservice.hostname"] = "127.0.0.1"
    config["appservice.port"] = port
    config["appservice.bot_username"] = JOURNAL_BRIDGE_LOCALPART
    config["appservice.database"] = bridge_database_url(root, database)
    config["provisioning.url"] = provisioning_url
    config["provisioning.token"] = operator_token
    if config["journal.language"] not in ("ru", "en"):
        config["journal.language"] = language
    if config["appservice.as_token"] == GENERATED:
        registration = config.generate_registration()
    else:
        from bridge.config import registration_of

        registration = registration_of(config)
    config.save()
    path.chmod(0o600)
    reg_path = root / REGISTRATION_FILE
    write_yaml(reg_path, registration)
    return reg_path


def bridge_database_url(root: Path, database: str) -> str:
    """The bridge's database URL for mautrix ``async_db``: ``sqlite:DIR/journal-bridge.db``, or the
    installation's PostgreSQL database as a ``postgres://`` URL (``?search_path`` is set by the bridge)."""
    if database.startswith("sqlite"):
        return f"sqlite:{Path(root) / 'journal-bridge.db'}"
    if database.startswith(("postgres://", "postgresql://")):
        return "postgres://" + database.split("://", 1)[1]
    # a key=value DSN: asyncpg wants a URL
    import psycopg2.extensions

    p = psycopg2.extensions.parse_dsn(database)
    auth = p.get("user", "") + (f":{p['password']}" if p.get("password") else "")
    host = p.get("host", "127.0.0.1") + (f":{p['port']}" if p.get("port") else "")
    return f"postgres://{auth + '@' if auth else ''}{host}/{p.get('dbname', '')}"


def pick_port(preferred: int) -> int:
    """``preferred`` when nobody listens there, else any free port (the demo's homeserver and
    provisioning service take P and P+1; the bridge prefers P+2)."""
    import socket

    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port for the journal bridge")


def register_in_synapse(config_path: Path, registration: Path) -> None:
    """List ``registration`` in Synapse's ``app_service_config_files`` (once; comments kept)."""
    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    files = [str(f) for f in (data.get("app_service_config_files") or []) if str(f) != str(registration)]
    data["app_service_config_files"] = files + [str(registration)]
    data.yaml_set_comment_before_after_key(
        "app_service_config_files", before="Parta: the journal bridge (an application service; journal-bridge.yaml)")
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


def bridge_port(root: Path) -> int | None:
    """The port the installation's bridge listens on (None when the installation has no bridge)."""
    path = bridge_config_path(root)
    if not path.exists():
        return None
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    return int((data.get("appservice") or {}).get("port") or 0) or None


def as_token(root: Path) -> str | None:
    """The bridge's appservice token from its registration (None when the installation has none)."""
    path = Path(root) / REGISTRATION_FILE
    if not path.exists():
        return None
    return (YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}).get("as_token")


def start_bridge(root: Path, logs_dir: Path) -> Service | None:
    """Start ``python -m bridge -c DIR/journal-bridge.yaml``; None when the installation has no bridge."""
    port = bridge_port(root)
    if port is None:
        return None
    return _spawn("journal bridge", [sys.executable, "-m", "bridge", "-c", str(bridge_config_path(root))],
                  logs_dir / "journal-bridge.log", f"http://127.0.0.1:{port}/_parta/journal/health")


async def poll_bridge(root: Path, timeout: float = 300) -> dict | None:
    """Ask the installation's running bridge to read every source now (``POST /_parta/journal/poll``);
    returns its summary, or None when the installation has no bridge."""
    import aiohttp

    port, token = bridge_port(root), as_token(root)
    if port is None or token is None:
        return None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, s.post(
            f"http://127.0.0.1:{port}/_parta/journal/poll", headers={"Authorization": f"Bearer {token}"}) as r:
        r.raise_for_status()
        return await r.json()
