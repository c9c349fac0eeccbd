"""Organizations with their state and health (``/console/organizations``), for the operator.

- ``GET  /console/organizations``: each organization's kind, approval, rooms, classes, people,
  accounts and its last reconcile (when, changes, the error if it failed).
- ``POST /console/organizations/{org}/reconcile``: bring its rooms back to the desired state
  (:meth:`Organizations.reconcile`, the API's ``POST /api/v1/organizations/{org}/reconcile``).
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import page
from spaces_provisioner.console.render import redirect, render

routes = web.RouteTableDef()


@routes.get("/console/organizations")
@page()
async def organizations(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    return render(request, "organizations.html", title=_("Organizations"), orgs=request.app[OPS].review.organizations())


@routes.post("/console/organizations/{org}/reconcile")
@page()
async def reconcile(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    org = request.match_info["org"]
    result = await request.app[OPS].orgs.reconcile(org)
    redirect(request, "/console/organizations",
             ok=_("{org}: reconciled, {n} changes").format(org=org, n=result["changes"]))
