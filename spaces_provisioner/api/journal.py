"""``/api/v1/organizations/{org}/journal``: what the journal bridge asks of Parta (the operator token;
the bridge runs next to the service with it).

- ``GET /organizations/{org}/journal``: the directory the bridge routes by (``ops.journal.Journal.directory``)
- ``PUT /organizations/{org}/people/{person}/diary``: the pupil's diary room, made or brought in order
- ``PUT /organizations/{org}/journal/status-room``: the journal status room
"""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.api.auth import require_operator
from spaces_provisioner.api.body import reply
from spaces_provisioner.api.keys import OPS

routes = web.RouteTableDef()


@routes.get("/api/v1/organizations/{org}/journal")
async def journal_directory(request: web.Request) -> web.Response:
    require_operator(request)
    return reply(request.app[OPS].journal.directory(request.match_info["org"]))


@routes.put("/api/v1/organizations/{org}/people/{person}/diary")
async def ensure_diary(request: web.Request) -> web.Response:
    who = require_operator(request)
    return reply(await request.app[OPS].journal.ensure_diary(request.match_info["org"], request.match_info["person"],
                                                             who.name))


@routes.put("/api/v1/organizations/{org}/journal/status-room")
async def ensure_status_room(request: web.Request) -> web.Response:
    who = require_operator(request)
    return reply(await request.app[OPS].journal.ensure_status_room(request.match_info["org"], who.name))
