"""What the benchmarks share (a bench imports no test code): Synapse's rate limits relaxed for many
clients at once, free ports, fresh PostgreSQL databases.

Used by ``bench/load.py`` and ``bench/module_overhead.py`` (and, through it, ``bench/join_floor.py``),
which import it by name: a bench runs as a script, with ``bench/`` first on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
from ruamel.yaml import YAML

#: Synapse's rate limits, out of the way: the benches measure work, not Synapse's throttling.
RELAXED = {"per_second": 100000, "burst_count": 100000}
#: The cheapest password hash Synapse accepts: account creation is setup, not what is measured.
CHEAP_BCRYPT_ROUNDS = 4


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relax_config(config_path: Path, with_parta: bool, bcrypt_rounds: int | None = None) -> None:
    """A bench's changes to a homeserver.yaml written by ``parta init``: relaxed rate limits
    (:data:`RELAXED`), ``bcrypt_rounds`` when given, and for vanilla (``with_parta`` False) no
    ``modules`` (Parta's module); everything else as written."""
    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    for key in ("rc_message", "rc_registration", "rc_room_creation", "rc_joins_per_room"):
        data[key] = RELAXED
    data["rc_login"] = {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED}
    data["rc_joins"] = {"local": RELAXED, "remote": RELAXED}
    if bcrypt_rounds is not None:
        data["bcrypt_rounds"] = bcrypt_rounds
    if not with_parta:
        data.pop("modules", None)
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


def pg_execute(admin_dsn: str, sql: str) -> None:
    """Run one statement outside a transaction (``CREATE DATABASE`` needs that) as ``admin_dsn``."""
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def pg_database(admin_dsn: str, prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database (C collation, as Synapse requires) on the server of ``admin_dsn``
    (whose ``dbname`` is ``postgres``); yields its DSN; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg_execute(admin_dsn, f"CREATE DATABASE {name} LOCALE 'C' TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield admin_dsn.replace("dbname=postgres", f"dbname={name}")
    finally:
        pg_execute(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
