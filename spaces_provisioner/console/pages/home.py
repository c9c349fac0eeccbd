"""``GET /console/``: what the signed-in person can open (the operator's queue, their schools)."""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import page
from spaces_provisioner.console.render import render

routes = web.RouteTableDef()


@routes.get("/console/")
@page()
async def home(request: web.Request, v: Viewer) -> web.Response:
    ops = request.app[OPS]
    schools = []
    for org in v.orgs():
        try:
            name = ops.orgs.organization(org)["name"]
        except Exception:  # noqa: BLE001 - a membership of a removed organization: show its id
            name = org
        schools.append({"id": org, "name": name, "admin": v.actor.is_org_admin(org),
                        "role": v.actor.person.memberships[org].role.value if v.actor.person else ""})
    pending = sum(1 for a in ops.orgs.list_applications() if a["status"] == "pending") if v.operator else 0
    return render(request, "home.html", title=_("Console"), schools=schools, pending=pending)


@routes.get("/console")
async def no_slash(_request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/console/")
