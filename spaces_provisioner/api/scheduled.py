"""``/api/v1/scheduled-messages``: a person's messages sent later in their own name (MSC4140 delayed
events), with their own Matrix access token (the operator's token is refused: it has no name to post in).

- ``POST /scheduled-messages`` ``{"room_id", "body", "formatted_body"?, "send_at"? | "delay_seconds"?}``:
  ``ops.scheduled.Scheduled.schedule`` (200 ``{"id", "room_id", "send_at", "send_at_local", "delay_ms"}``)
- ``GET /scheduled-messages``: the caller's own pending ones (``Scheduled.list``)
- ``DELETE /scheduled-messages/{id}``: cancel one of the caller's own (``Scheduled.cancel``)
"""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.api.auth import actor
from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS

routes = web.RouteTableDef()


def _bearer(request: web.Request) -> str:
    # actor() has already checked the header and the token with the homeserver
    return request.headers.get("Authorization", "")[7:].strip()


@routes.post("/api/v1/scheduled-messages")
async def schedule(request: web.Request) -> web.Response:
    who = await actor(request)
    body = await read_json(request, required=True)
    return reply(await request.app[OPS].scheduled.schedule(_bearer(request), who.person, body))


@routes.get("/api/v1/scheduled-messages")
async def list_scheduled(request: web.Request) -> web.Response:
    who = await actor(request)
    return reply(await request.app[OPS].scheduled.list(_bearer(request), who.person))


@routes.delete("/api/v1/scheduled-messages/{id}")
async def cancel(request: web.Request) -> web.Response:
    who = await actor(request)
    return reply(await request.app[OPS].scheduled.cancel(_bearer(request), who.person, request.match_info["id"]))
