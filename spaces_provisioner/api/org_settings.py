"""``/api/v1/organizations/{org}/settings``: an organization's settings after approval (issue 14),
for its administrator or head (their own Matrix access token) or the operator.

- ``GET``: every changeable setting, its value and its default (``ops.org_settings_change.settings_view``)
- ``PATCH`` ``{name: value, ...}``: validated, stored, audited and applied by reconciling the
  organization (``ops.org_settings_change.change_settings``); 400 ``M_INVALID_PARAM`` names each bad
  setting and changes nothing; 403 ``M_FORBIDDEN`` for anyone else.
"""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.api.auth import actor, require_org_admin
from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.ops.org_settings_change import change_settings, settings_view

routes = web.RouteTableDef()


@routes.get("/api/v1/organizations/{org}/settings")
async def get_settings(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    return reply(settings_view(request.app[OPS].ctx, org))


@routes.patch("/api/v1/organizations/{org}/settings")
async def patch_settings(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    body = await read_json(request, required=True)
    ops = request.app[OPS]
    return reply(await change_settings(ops.ctx, ops.orgs, org, body, who.name))
