"""Two real Parta installations federating over TLS on loopback (issue 13), for test_federation.py.

Each installation is made by ``parta init`` (``init_installation``) on free ports with the other as
its partner (``federate_with``). Server names are IP literals with a port, ``127.0.0.1:PORT``: the
Server-Server API then needs no DNS, SRV or well-known look-up (Matrix spec, Server-Server API,
"Resolving server names", step 1; Synapse's ``matrix_federation_agent``), and nothing touches
/etc/hosts. The test-only additions to the generated configuration: a TLS listener on that port
serving ``federation`` and ``keys`` with a certificate of the tests' own CA (``trustme``, IP SAN
127.0.0.1), that CA as Synapse's ``federation_custom_ca_list``, loopback allowed as a federation
destination (``federation_ip_range_blacklist: []``; Synapse refuses private addresses by default), relaxed rate
limits. In production the reverse proxy terminates TLS (config/nginx.conf).

Optionally a third installation that is nobody's partner (``outsider_server``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from ruamel.yaml import YAML

from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.supervisor import running
from spaces_provisioner.settings import Settings

from ..conftest import PG_ADMIN_DSN, _pg, relax_rate_limits
from ..processes import free_port


@dataclass
class Server:
    """One federating installation: its settings and its TLS federation port."""

    settings: Settings
    federation_port: int

    @property
    def name(self) -> str:
        return self.settings.server_name


def database(stack: ExitStack) -> str | None:
    """A fresh PostgreSQL database when PARTA_TEST_DB=postgres (dropped at the end), else None (SQLite)."""
    if os.environ.get("PARTA_TEST_DB", "sqlite") != "postgres":
        return None
    name = f"parta_fed_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {name} LOCALE 'C' TEMPLATE template0 ENCODING 'UTF8'")
    stack.callback(_pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={name}")


def make_server(root: Path, ca: trustme.CA, port: int, partners: list[str], stack: ExitStack) -> Server:
    """``parta init`` an installation named ``127.0.0.1:port`` federating with ``partners``, plus the
    test-only TLS federation listener on ``port`` (see the module docstring)."""
    name = f"127.0.0.1:{port}"
    settings = init_installation(root, name, postgres_dsn=database(stack), port=free_port(),
                                 provisioning_port=free_port(), bridge_port=free_port(), turn_port=free_port(),
                                 federate_with=partners)
    relax_rate_limits(settings.homeserver_config)
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(root / "federation.key"))
    cert.cert_chain_pems[0].write_to_path(str(root / "federation.crt"))
    ca.cert_pem.write_to_path(str(root / "test-ca.pem"))
    y = YAML()
    data = y.load(settings.homeserver_config.read_text(encoding="utf-8"))
    data["tls_certificate_path"] = str(root / "federation.crt")
    data["tls_private_key_path"] = str(root / "federation.key")
    data["federation_custom_ca_list"] = [str(root / "test-ca.pem")]
    data["federation_verify_certificates"] = True
    # Synapse blocks private addresses as federation destinations, IP literals in server names
    # included (BlocklistingAgentWrapper takes no allowlist): this installation's partners are on loopback
    data["federation_ip_range_blacklist"] = []
    data["listeners"].append({"port": port, "tls": True, "type": "http", "bind_addresses": ["127.0.0.1"],
                              "resources": [{"names": ["federation", "keys"], "compress": False}]})
    with settings.homeserver_config.open("w", encoding="utf-8") as f:
        y.dump(data, f)
    return Server(settings, port)


@contextmanager
def federated_servers(base: Path, third: bool = False) -> Iterator[list[Server]]:
    """Two running installations A and B, each the other's partner (and, with ``third``, a running
    C that allow-lists A but is not A's partner); stopped at the end."""
    ca = trustme.CA()
    ports = [free_port(), free_port(), free_port()]
    names = [f"127.0.0.1:{p}" for p in ports]
    partners = [[names[1]], [names[0]], [names[0]]]
    with ExitStack() as stack:
        servers = [make_server(base / f"server-{i}", ca, ports[i], partners[i], stack)
                   for i in range(3 if third else 2)]
        for s in servers:
            stack.enter_context(running(s.settings))
        yield servers
