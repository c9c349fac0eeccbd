"""``/api/v1/users/{user}/office-hours``: a teacher's office hours (quiet hours), with the caller's own
Matrix access token (the teacher, someone of the teacher's school; the administration to change
someone else's) or the operator's.

- ``GET /users/{user}/office-hours``: ``ops.office_hours.OfficeHoursOps.get``
- ``PUT /users/{user}/office-hours`` ``{"days": [1..7], "from": "HH:MM", "to": "HH:MM"}`` or ``{}``
  (the school's default): ``ops.office_hours.OfficeHoursOps.set``
"""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.api.auth import actor
from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS

routes = web.RouteTableDef()


@routes.get("/api/v1/users/{user}/office-hours")
async def get_office_hours(request: web.Request) -> web.Response:
    who = await actor(request)
    return reply(await request.app[OPS].office_hours.get(request.match_info["user"], who.person))


@routes.put("/api/v1/users/{user}/office-hours")
async def set_office_hours(request: web.Request) -> web.Response:
    who = await actor(request)
    body = await read_json(request, required=True)
    return reply(await request.app[OPS].office_hours.set(request.match_info["user"], body, who.person))
