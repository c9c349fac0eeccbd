"""``/api/v1/livekit``: the group calls' token service, the ``livekit_service_url`` of the homeserver's
MatrixRTC transport (``install.matrix_rtc``), answering what Element Call asks lk-jwt-service.

- ``POST /api/v1/livekit/get_token``: ``{room_id, slot_id, openid_token, member: {id,
  claimed_user_id, claimed_device_id}}`` (MSC4195) → ``{url, jwt}``
- ``POST /api/v1/livekit/sfu/get``: ``{room, openid_token, device_id}`` (older clients) → ``{url, jwt}``
- ``OPTIONS`` on both: the browser's CORS preflight (Element Call runs on its own origin)

Anyone may call them: the OpenID token in the body says who calls, and ``ops.calls`` decides.
Refusals are the API's JSON errors (``api.middleware``), with CORS headers so that the browser
lets Element Call read them.
"""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.ops.calls import parse_get_token, parse_sfu_get

routes = web.RouteTableDef()

PREFIX = "/api/v1/livekit/"
#: lk-jwt-service's CORS headers (its ``corsJSON``): any origin may POST JSON; no cookies are involved.
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Accept, Content-Type, Content-Length, Accept-Encoding",
}


@routes.post("/api/v1/livekit/get_token")
async def get_token(request: web.Request) -> web.Response:
    req = parse_get_token(await read_json(request, required=True))
    return reply(await request.app[OPS].calls.token(req))


@routes.post("/api/v1/livekit/sfu/get")
async def sfu_get(request: web.Request) -> web.Response:
    req = parse_sfu_get(await read_json(request, required=True))
    return reply(await request.app[OPS].calls.token(req))


@routes.route("OPTIONS", "/api/v1/livekit/get_token")
@routes.route("OPTIONS", "/api/v1/livekit/sfu/get")
async def preflight(_request: web.Request) -> web.Response:
    return web.Response(status=200)


async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the CORS headers on every answer of the token service, errors included."""
    if request.path.startswith(PREFIX):
        response.headers.update(CORS)
