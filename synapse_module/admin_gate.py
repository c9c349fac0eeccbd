"""The Admin API closed on the listener people use.

Synapse mounts its Admin API (``/_synapse/admin``) on every listener that serves the client API,
so on a server with no reverse proxy in front (the demo, a school testing on loopback) anyone
who can reach the homeserver reaches the Admin API too: unauthenticated endpoints answer
(``/_synapse/admin/v1/server_version``, the shared-secret ``register`` nonce) and every
other one is one stolen token away. ``parta init`` puts this resource at ``/_synapse/admin`` on
the public listener (``listeners[].additional_resources``, which Synapse mounts after its own),
and serves the real Admin API only on a second listener, a Unix socket readable by the
installation's user, where the Parta bot talks to it.

Source: Synapse 1.163 ``synapse/app/homeserver.py`` (``_configure_named_resource``,
``_listener_http``: additional resources replace same-path named ones).
"""

from __future__ import annotations

from typing import Any

from synapse.api.errors import Codes, SynapseError
from synapse.http.server import DirectServeJsonResource


class ClosedAdminApi(DirectServeJsonResource):
    """Answers every request under ``/_synapse/admin`` with 404 ``M_UNRECOGNIZED``."""

    isLeaf = True  # every sub-path lands here

    def __init__(self, config: Any, api: Any):
        super().__init__()

    async def _async_render(self, request: Any) -> tuple[int, Any]:
        raise SynapseError(404, "The Admin API is not served on this listener", Codes.UNRECOGNIZED)
