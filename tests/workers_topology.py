"""Test fixtures' side of the worker topology (``PARTA_TEST_TOPOLOGY=workers``; issue 13).

:func:`make_workers` turns a test installation (PostgreSQL) into Synapse's worker topology with
``spaces_provisioner.install.workers.write_worker_topology``: its own Redis (Debian's redis-server,
started by ``parta run``'s supervisor on a free port) and nginx (Debian's) on a free port, which
becomes the installation's ``homeserver_url``: every test client then goes through nginx to the
worker the routing names.
"""

from __future__ import annotations

import os

from spaces_provisioner.install.workers import Topology, write_worker_topology
from spaces_provisioner.settings import Settings

from .debian import ensure_package
from .processes import free_port

#: ``PARTA_TEST_TOPOLOGY=workers``: the session's installation runs as Synapse workers behind nginx.
TOPOLOGY = os.environ.get("PARTA_TEST_TOPOLOGY", "single")


def workers_wanted() -> bool:
    """Whether the session fixtures build the worker topology."""
    return TOPOLOGY == "workers"


def make_workers(settings: Settings) -> Topology:
    """Write the worker topology into the (stopped) test installation; Redis and nginx on free ports."""
    ensure_package("nginx", "nginx")
    ensure_package("redis-server", "redis-server")
    return write_worker_topology(settings, redis_port=free_port(), start_redis=True, nginx_port=free_port())
