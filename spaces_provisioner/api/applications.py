"""``/api/v1/applications``: organizations' applications (the operator only).

- ``GET  /api/v1/applications`` → ``{"applications": [{"id", "status", "full_name", "updated_at"}]}``
- ``POST /api/v1/applications`` (the application as JSON; see ``policies/data/application.schema.json``)
- ``POST /api/v1/applications/{id}/approve`` → the organization, its new accounts, the changes
- ``POST /api/v1/applications/{id}/reject`` (``{"reason"}``) → ``{"id", "status": "rejected", "changes", "details"}``
"""

from __future__ import annotations

from aiohttp import web

from policies.application import load_schema, parse_application
from policies.i18n import _

from spaces_provisioner.api.auth import require_operator
from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.errors import bad_json

routes = web.RouteTableDef()


@routes.get("/api/v1/applications")
async def list_applications(request: web.Request) -> web.Response:
    require_operator(request)
    return reply({"applications": request.app[OPS].orgs.list_applications()})


@routes.post("/api/v1/applications")
async def post_application(request: web.Request) -> web.Response:
    who = require_operator(request)
    app = parse_application(await read_json(request, required=True), load_schema())
    return reply(await request.app[OPS].orgs.apply_application(app, who.name))


@routes.post("/api/v1/applications/{id}/approve")
async def approve_application(request: web.Request) -> web.Response:
    who = require_operator(request)
    return reply(await request.app[OPS].orgs.approve(request.match_info["id"], who.name))


@routes.post("/api/v1/applications/{id}/reject")
async def reject_application(request: web.Request) -> web.Response:
    who = require_operator(request)
    reason = (await read_json(request, required=True)).get("reason")
    if not isinstance(reason, str):
        raise bad_json(_("Give 'reason' as text: why the application is refused"))
    return reply(await request.app[OPS].review.reject(request.match_info["id"], reason, who.name))
