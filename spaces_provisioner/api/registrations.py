"""``POST /api/v1/registrations/nudge`` (``{"user_id"}``): the homeserver's module says an account
registered with a token. No secret is needed: the service reads the record back from the
homeserver (``ops.registrations``), so a forged nudge places nobody."""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _
from policies.links import USER_ID

from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.errors import bad_json

routes = web.RouteTableDef()


@routes.post("/api/v1/registrations/nudge")
async def nudge(request: web.Request) -> web.Response:
    user_id = (await read_json(request)).get("user_id")
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise bad_json(_("'user_id' must be a Matrix user id"))
    return reply(await request.app[OPS].registrations.place_registration(user_id))
