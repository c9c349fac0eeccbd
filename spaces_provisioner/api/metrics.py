"""``GET /metrics``: the provisioning service's Prometheus metrics (:mod:`spaces_provisioner.ops.metrics`).

In Prometheus's text format (``text/plain; version=0.0.4``). Only for the operator's token
(``Authorization: Bearer``, Prometheus's ``authorization: {credentials_file: ...}``), and outside
``/api/v1``: config/nginx.conf proxies only ``/api/v1/`` and ``/register`` to the service and answers
404 for every other path, so the metrics are read on the service's own listener, never through the
public proxy. The gauges of queues read the database at each scrape.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from spaces_provisioner.api.auth import require_operator
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.ops.metrics import exposition

routes = web.RouteTableDef()


@routes.get("/metrics")
async def prometheus_metrics(request: web.Request) -> web.Response:
    """The metrics' text; 401 ``M_UNKNOWN_TOKEN`` without the operator token."""
    require_operator(request)
    return web.Response(body=exposition(request.app[OPS]), headers={"Content-Type": CONTENT_TYPE_LATEST})
