"""The operator's queue of applications (``/console/applications``).

- ``GET  /console/applications``: every application, pending first.
- ``GET  /console/applications/{id}``: one application in full, what validation finds in it,
  its refusal; the approve and refuse forms.
- ``POST /console/applications/{id}/approve``: :meth:`Organizations.approve` (the API's
  ``POST /api/v1/applications/{id}/approve``); the page shows the new accounts' one-time passwords.
- ``POST /console/applications/{id}/reject``: :meth:`Review.reject` with the form's ``reason``.

The operator only (:meth:`Viewer.require_operator`, the API's rule for ``/api/v1/applications``).
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import api_error, redirect, render

routes = web.RouteTableDef()

_ORDER = {"pending": 0, "rejected": 1, "approved": 2}


@routes.get("/console/applications")
@page()
async def queue(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    apps = sorted(request.app[OPS].orgs.list_applications(),
                  key=lambda a: (_ORDER.get(a["status"], 3), -a["updated_at"]))
    return render(request, "applications.html", title=_("Applications"), apps=apps)


@routes.get("/console/applications/{id}")
@page()
async def one(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    return render(request, "application.html", title=_("Application {id}").format(id=request.match_info["id"]),
                  app=request.app[OPS].review.application(request.match_info["id"]), error=None, reason="")


@routes.post("/console/applications/{id}/approve")
@page()
async def approve(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    app_id = request.match_info["id"]
    result = await request.app[OPS].orgs.approve(app_id, v.actor.name)
    # the new accounts' passwords are shown once, on this answer only (never kept in the session)
    return render(request, "approved.html", title=_("Application {id} approved").format(id=app_id), result=result)


@routes.post("/console/applications/{id}/reject")
@page()
async def reject(request: web.Request, v: Viewer) -> web.Response:
    v.require_operator()
    app_id = request.match_info["id"]
    reason = (await form(request)).get("reason", "")
    ops = request.app[OPS]
    try:
        await ops.review.reject(app_id, reason, v.actor.name)
    except Exception as e:
        err = api_error(e)
        if err is None or err.status == 404:
            raise
        return render(request, "application.html", err.status, title=_("Application {id}").format(id=app_id),
                      app=ops.review.application(app_id), error=err, reason=reason)
    redirect(request, "/console/applications", ok=_("Application {id} refused").format(id=app_id))
