"""1:1 calls over TURN: coturn's configuration, Synapse's TURN settings, and coturn's process.

``parta init`` writes ``DIR/turnserver.conf`` (mode 0600: it holds the shared secret) and gives
Synapse the same secret: clients then get short-lived TURN credentials from Synapse's
``GET /_matrix/client/v3/voip/turnServer`` (username ``"<expiry>:<user id>"``, password
base64(HMAC-SHA1(secret, username)): coturn's ``use-auth-secret`` / TURN REST API). ``parta run``
starts ``turnserver -c DIR/turnserver.conf`` when Debian's ``coturn`` is installed
(:func:`start_coturn`) and says so when it is not: calls then connect only where no NAT stands
between the two people.

Sources: Synapse ``docs/setup/turn/coturn.md`` (the coturn settings, the denied peer ranges, the
quotas) and ``config/voip.py`` (``turn_uris``, ``turn_shared_secret``, ``turn_user_lifetime``,
``turn_allow_guests``); coturn 4.6 ``turnserver.conf`` (Debian's ``/etc/turnserver.conf``).

Allowing a peer range (``allowed-peer-ip``): the denied ranges below keep the relay away from the
server's own network. Where the relay must reach a private address (the TURN server's own address
behind NAT, or loopback on a test machine), add ``allowed-peer-ip=ADDRESS`` or ``=FIRST-LAST``
lines to ``DIR/turnserver.conf`` (for loopback also ``allow-loopback-peers``, which coturn checks
first); ``parta init --force`` keeps them (and the secret and the port) and writes the latter itself.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from policies.i18n import _

from spaces_provisioner.install.processes import Service, _spawn

CONF_FILE = "turnserver.conf"
#: The TURN port coturn listens on by default (RFC 8489/8656: 3478 for TURN over UDP and TCP).
DEFAULT_PORT = 3478
#: The relay ports coturn hands out (its own default range).
RELAY_PORTS = (49152, 65535)
#: How long the credentials Synapse hands out stay valid (Synapse's default; coturn checks the expiry).
USER_LIFETIME = "1h"

#: Peers the relay never reaches (Synapse docs/setup/turn/coturn.md): private, loopback,
#: link-local, carrier-grade NAT, documentation and reserved ranges, IPv4 and IPv6.
DENIED_PEERS = (
    "0.0.0.0-0.255.255.255",
    "10.0.0.0-10.255.255.255",
    "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255",
    "169.254.0.0-169.254.255.255",
    "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255",
    "192.0.2.0-192.0.2.255",
    "192.88.99.0-192.88.99.255",
    "192.168.0.0-192.168.255.255",
    "198.18.0.0-198.19.255.255",
    "198.51.100.0-198.51.100.255",
    "203.0.113.0-203.0.113.255",
    "240.0.0.0-255.255.255.255",
    "::1",
    "64:ff9b::-64:ff9b::ffff:ffff",
    "::ffff:0.0.0.0-::ffff:255.255.255.255",
    "100::-100::ffff:ffff:ffff:ffff",
    "2001::-2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
    "2002::-2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
)


@dataclass
class TurnConfig:
    """What ``DIR/turnserver.conf`` says: ``host`` (the name or address clients reach, also the
    realm), ``port`` (TCP and UDP), ``secret`` (shared with Synapse), ``allowed_peers`` (coturn
    ``allowed-peer-ip`` values: an address or ``FIRST-LAST``), ``relay_ports`` (inclusive range),
    ``listening_ip`` (coturn listens and relays on this address only; None: every address it finds)."""

    host: str
    port: int
    secret: str
    allowed_peers: list[str] = field(default_factory=list)
    relay_ports: tuple[int, int] = RELAY_PORTS
    listening_ip: str | None = None

    @property
    def uris(self) -> list[str]:
        """Synapse's ``turn_uris``: TURN over UDP and over TCP (RFC 7065 URIs)."""
        return [f"turn:{self.host}:{self.port}?transport=udp", f"turn:{self.host}:{self.port}?transport=tcp"]


def conf_path(root: Path) -> Path:
    """Where the installation keeps coturn's configuration."""
    return Path(root) / CONF_FILE


def read_turn_config(root: Path) -> TurnConfig | None:
    """The installation's TURN settings from ``DIR/turnserver.conf`` (None when it has none)."""
    path = conf_path(root)
    if not path.exists():
        return None
    values: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*([a-z-]+)\s*=\s*(.*?)\s*$", line)
        if m:
            values.setdefault(m.group(1), []).append(m.group(2))
    try:
        return TurnConfig(host=values["realm"][0], port=int(values["listening-port"][0]),
                          secret=values["static-auth-secret"][0], allowed_peers=values.get("allowed-peer-ip", []),
                          relay_ports=(int(values["min-port"][0]), int(values["max-port"][0])),
                          listening_ip=next(iter(values.get("listening-ip") or []), None))
    except (KeyError, IndexError, ValueError):
        return None


def _port_free(port: int) -> bool:
    """Whether nobody listens on ``port`` over TCP or UDP on any address."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


def pick_turn_port(preferred: int = DEFAULT_PORT) -> int:
    """``preferred`` when it is free over TCP and UDP, else a port the kernel finds free for both."""
    if _port_free(preferred):
        return preferred
    for _attempt in range(50):
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        if _port_free(port):
            return port
    raise OSError("no free port for the TURN server")


def write_coturn_config(root: Path, turn: TurnConfig) -> Path:
    """Write ``DIR/turnserver.conf`` for ``turn`` with mode 0600 (it holds the shared secret); returns its path.

    The relay serves only UDP (``no-tcp-relay``: calls are UDP), never reaches the denied ranges
    (:data:`DENIED_PEERS`) nor multicast, has no admin console (``no-cli``), no TLS listener
    (``no-tls``, ``no-dtls``: TURN credentials are per call; put TURNS behind a certificate if
    wanted), and caps relayed streams per user (4 per video call: 3 calls at once).
    """
    root = Path(root)
    lines = [
        "# coturn for Parta's 1:1 calls, written by `parta init` (Synapse docs/setup/turn/coturn.md).",
        "# `parta init --force` rewrites this file and keeps its secret, its port and its allowed-peer-ip lines.",
        "# The TURN REST API shared with Synapse (turn_shared_secret in homeserver.yaml):",
        "use-auth-secret",
        f"static-auth-secret={turn.secret}",
        f"realm={turn.host}",
        f"listening-port={turn.port}",
        *([f"listening-ip={turn.listening_ip}", f"relay-ip={turn.listening_ip}"] if turn.listening_ip else []),
        "# Behind NAT, name the public address: external-ip=PUBLIC_IP/PRIVATE_IP",
        f"min-port={turn.relay_ports[0]}",
        f"max-port={turn.relay_ports[1]}",
        "# Calls are UDP: no relayed TCP connections to arbitrary hosts",
        "no-tcp-relay",
        "no-multicast-peers",
        "no-cli",
        "no-tls",
        "no-dtls",
        "no-software-attribute",
        "user-quota=12",
        "total-quota=1200",
        "# The relay never reaches the server's own networks (private, loopback, link-local, reserved):",
        *(f"denied-peer-ip={r}" for r in DENIED_PEERS),
        "# Exceptions (a peer the relay may reach although it is in a denied range), e.g. the TURN server's",
        "# own private address behind NAT: allowed-peer-ip=10.0.0.1 (an address or FIRST-LAST)",
        *(f"allowed-peer-ip={p}" for p in turn.allowed_peers),
        # coturn refuses loopback peers before it reads the allowed ranges unless told otherwise
        *(["allow-loopback-peers"] if any(_is_loopback(p) for p in turn.allowed_peers) else []),
        f"pidfile={root / 'coturn.pid'}",
        f"log-file={root / 'logs' / 'coturn.log'}",
        "simple-log",
        f"userdb={root / 'coturn.db'}",
        "",
    ]
    path = conf_path(root)
    (root / "logs").mkdir(exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    path.chmod(0o600)
    return path


def configure_turn(root: Path, config_path: Path, public_baseurl: str, port: int | None = None,
                   allowed_peers: list[str] | None = None) -> TurnConfig:
    """Write coturn's configuration and Synapse's TURN settings; returns what was written.

    An existing ``DIR/turnserver.conf`` keeps its secret, its port (unless ``port`` is given)
    and its allowed peers (plus ``allowed_peers``); otherwise the secret is new (32 random bytes)
    and the port :func:`pick_turn_port`. The host is ``public_baseurl``'s; when it is an IP
    address, coturn listens and relays there only. ``homeserver.yaml`` (which now holds the secret
    too) is made 0600.
    """
    old = read_turn_config(root)
    host = urlsplit(public_baseurl).hostname or "127.0.0.1"
    peers = list(dict.fromkeys([*(old.allowed_peers if old else []), *(allowed_peers or [])]))
    turn = TurnConfig(host=host, port=port or (old.port if old else pick_turn_port()),
                      secret=old.secret if old else secrets.token_urlsafe(32), allowed_peers=peers,
                      listening_ip=host if _is_ip(host) else None)
    write_coturn_config(root, turn)
    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    data["turn_uris"] = turn.uris
    data.yaml_set_comment_before_after_key(
        "turn_uris", before="Parta: 1:1 calls relay through coturn (turnserver.conf; `parta run` starts it)")
    data["turn_shared_secret"] = turn.secret
    data["turn_user_lifetime"] = USER_LIFETIME
    data["turn_allow_guests"] = False
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        y.dump(data, f)
    config_path.chmod(0o600)
    return turn


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(peer_range: str) -> bool:
    """Whether an ``allowed-peer-ip`` value (an address or ``FIRST-LAST``) starts in loopback."""
    try:
        return ipaddress.ip_address(peer_range.split("-", 1)[0].strip()).is_loopback
    except ValueError:
        return False


class TurnService(Service):
    """coturn as a child process; healthy once its TCP listener accepts a connection."""

    port: int = DEFAULT_PORT
    address: str = "127.0.0.1"

    def is_healthy(self) -> bool:
        """True when coturn accepts a TCP connection on its listening port (it has no HTTP endpoint)."""
        try:
            with socket.create_connection((self.address, self.port), timeout=2):
                return True
        except OSError:
            return False


def coturn_binary() -> str | None:
    """The path of coturn's ``turnserver`` (Debian's ``coturn`` package), or None."""
    return shutil.which("turnserver") or shutil.which("turnserver", path="/usr/bin:/usr/sbin:/usr/local/bin")


def start_coturn(root: Path, logs_dir: Path) -> TurnService | None:
    """Start ``turnserver -c DIR/turnserver.conf``; returns without waiting.

    None when the installation has no TURN configuration, or when coturn is not installed: then
    a line on stderr says that calls connect only without NAT, and how to install it.
    """
    turn = read_turn_config(root)
    if turn is None:
        return None
    binary = coturn_binary()
    if binary is None:
        print(_("coturn is not installed (apt install coturn): 1:1 calls connect only where no NAT stands "
                "between the two people"), file=sys.stderr, flush=True)
        return None
    service = _spawn("coturn", [binary, "-c", str(conf_path(root))], logs_dir / "coturn.out", "")
    turn_service = TurnService(service.name, service.process, f"turn:127.0.0.1:{turn.port}", service.log_path)
    turn_service.port = turn.port
    turn_service.address = turn.listening_ip or "127.0.0.1"
    return turn_service
