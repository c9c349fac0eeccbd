"""The web console at ``/console/``: the operator's and a school's pages, server-rendered.

Signed in with the person's own Matrix account (``m.login.password`` against the homeserver,
or a Matrix access token; the operator with the operator token); the console session is
bound to that token and revoked with it. Every page works without JavaScript; every form
carries a CSRF token; errors are the API's (:mod:`spaces_provisioner.errors`) in the
person's language (Russian by default, English available; catalog ``console.po``).

Layout (one job per module):

- :mod:`.app`: :func:`~.app.add_console` mounts every page module's routes and the static files.
- :mod:`.session`: the server-side sessions (opaque id in an HttpOnly, SameSite=Strict cookie).
- :mod:`.csrf`: the per-session synchronizer token every form carries.
- :mod:`.auth`: :class:`~.auth.Viewer` (the signed-in person: the API's
  :class:`~spaces_provisioner.api.auth.Actor` plus the session) and the rights checks.
- :mod:`.render`: templates in the person's language; errors as the API's messages.
- :mod:`.pages`: one module per resource; :func:`~.pages.page` wraps a handler.

Adding a page (the full contract is in :mod:`.pages`)::

    # spaces_provisioner/console/pages/classes.py
    routes = web.RouteTableDef()

    @routes.get("/console/org/{org}/classes")
    @page()
    async def classes(request: web.Request, v: Viewer) -> web.Response:
        org = request.match_info["org"]
        v.require_org_admin(org)
        return render(request, v, "classes.html", title=_("Classes"), classes=...)

(any module in ``pages/`` with ``routes`` is mounted by :func:`.app.add_console`).
"""
