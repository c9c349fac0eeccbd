"""Cross-school network rooms (``/console/network``), for the operator.

- ``GET  /console/network``: the rooms made so far (name, schools, members).
- ``POST /console/network``: a new room for the confirmed staff of the chosen schools
  (:meth:`Organizations.create_network_room`, the API's ``POST /api/v1/network-rooms``).
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import page
from spaces_provisioner.console.render import redirect, render
from spaces_provisioner.errors import bad_json

routes = web.RouteTableDef()


@routes.get("/console/network")
@page()
async def network(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    ops = request.app[OPS]
    return render(request, "network.html", title=_("Network rooms"), rooms=await ops.review.network_rooms(),
                  orgs=ops.orgs.list_organizations())


@routes.post("/console/network")
@page()
async def create(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    data = await request.post()
    name = str(data.get("name", "")).strip()
    orgs = sorted({str(o) for o in data.getall("org", []) if isinstance(o, str)})
    if not name or not orgs:
        raise bad_json(_("Give the room a name and choose at least one school"))
    await request.app[OPS].orgs.create_network_room(name, orgs, v.actor.name)
    redirect(request, "/console/network", ok=_("Room {name} created").format(name=name))
