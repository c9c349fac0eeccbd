"""A school's links and code sheets (issue 14, scope 3), and the school's home page.

- ``GET  /console/org/{org}/``: the school's sections; a teacher's own classes.
- ``GET  /console/org/{org}/links``: the links with their uses and expiry (all of them for the
  administration, a teacher's own: ``ops.links.of_org``), a form to create one.
- ``POST /console/org/{org}/links/create`` (``role``, ``class_id``, ``room``, ``uses_allowed``,
  ``expires_days``): ``ops.links.create`` as ``POST /api/v1/organizations/{org}/links``.
- ``POST /console/org/{org}/links/revoke`` (``code``): ``ops.links.revoke`` (the code in the body).
- ``GET  /console/org/{org}/classes/{class}/sheet``: the printable code sheet of a class
  (``web.sheets.class_sheet_html`` through the API's module: the same cards as the API's
  :func:`~spaces_provisioner.api.links.sheet_entries`: the administration, or the class's own teacher).
- ``GET  /console/sheet.css``: the sheet's stylesheet (the console's CSP allows no inline style).

Rights are the API's: :func:`~spaces_provisioner.api.links.require_participant`, the ``ops.links``
checks (``policies.links.may_create_link``: a teacher issues links for own classes only) and
:func:`~spaces_provisioner.api.links.may_print_codes`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from policies.i18n import _, current_language
from policies.labels import role_title
from policies.links import check_link_request

from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.api.links import class_sheet_html, require_participant, sheet_css, sheet_entries
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import redirect, render
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.ops.school_view import classes_of

routes = web.RouteTableDef()
#: Roles a link registers, in the form's order ("" = a chat invite only).
LINK_ROLES = ("student", "parent", "teacher", "head", "admin")


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC") if ms else "—"


def _my_classes(request: web.Request, v: Viewer, org: str) -> list[dict]:
    """The classes this person may issue links for and print: all for the administration, own for a teacher."""
    everything = classes_of(request.app[OPS].ctx, org)
    if v.actor.is_org_admin(org):
        return everything
    m = v.actor.person.memberships.get(org) if v.actor.person else None
    mine = m.classes if m is not None and m.cap_role == "teacher" else frozenset()
    return [c for c in everything if c["class_id"] in mine]


@routes.get("/console/org/{org}/")
@page()
async def school_home(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    name = request.app[OPS].orgs.organization(org)["name"]
    require_participant(v.actor, org)
    return render(request, "school_home.html", title=name, org=org, admin=v.actor.is_org_admin(org),
                  classes=_my_classes(request, v, org))


@routes.get("/console/org/{org}/links")
@page()
async def links(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    ops = request.app[OPS]
    name = ops.orgs.organization(org)["name"]
    require_participant(v.actor, org)
    titles = {c["class_id"]: c["title"] for c in classes_of(ops.ctx, org)}
    rows = []
    for link in reversed(ops.links.of_org(org, v.actor.person)):
        if link["person_id"]:  # personal codes are on the class sheets
            continue
        expired = bool(link["expires_at"]) and link["expires_at"] < datetime.now(UTC).timestamp() * 1000
        rows.append({**link, "role_title": role_title(link["role"]) if link["role"] else _("chat invite"),
                     "class_title": titles.get(link["class_id"] or "", link["class_id"] or "—"),
                     "expires": _when(link["expires_at"]), "expired": expired,
                     "uses_text": f"{link['uses']} / {link['uses_allowed'] or '∞'}"})
    return render(request, "school_links.html", title=_("Links of {school}").format(school=name), org=org,
                  admin=v.actor.is_org_admin(org), links=rows, classes=_my_classes(request, v, org),
                  roles=[(r, role_title(r)) for r in LINK_ROLES])


def _whole(fields: dict[str, str], key: str, scale: int = 1) -> int | None:
    """A whole number field (empty: None); 400 as the API's for anything else."""
    value = fields.get(key, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _("'{key}' must be a whole number").format(key=key))
    return int(value) * scale


@routes.post("/console/org/{org}/links/create")
@page()
async def create(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    fields = await form(request)
    body: dict[str, object] = {"role": fields.get("role") or None, "class_id": fields.get("class_id") or None,
                               "rooms": [fields["room"].strip()] if fields.get("room", "").strip() else [],
                               "uses_allowed": _whole(fields, "uses_allowed"),
                               "expires_in_s": _whole(fields, "expires_days", 86400)}
    link = await request.app[OPS].links.create(org, check_link_request(body), v.actor.person, v.actor.name)
    return redirect(request, f"/console/org/{org}/links",
                    ok=_("Link created: {code} — {url}").format(code=link["code"], url=link["url"]))


@routes.post("/console/org/{org}/links/revoke")
@page()
async def revoke(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    code = (await form(request)).get("code", "")
    await request.app[OPS].links.revoke(code, v.actor.person, v.actor.name)
    return redirect(request, f"/console/org/{org}/links", ok=_("Link {code} revoked").format(code=code))


@routes.get("/console/org/{org}/classes/{class_id}/sheet")
@page()
async def sheet(request: web.Request, v: Viewer) -> web.Response:
    org, class_id = request.match_info["org"], request.match_info["class_id"]
    title, entries = await sheet_entries(request.app[OPS], v.actor, org, class_id)
    # the console's Content-Security-Policy allows only its own stylesheets: the sheet's CSS from /console/sheet.css
    return web.Response(text=class_sheet_html(title, entries, homeserver=request.app[SETTINGS].homeserver_url,
                                              language=current_language(), stylesheet="/console/sheet.css"),
                        content_type="text/html")


@routes.get("/console/sheet.css")
async def sheet_stylesheet(_request: web.Request) -> web.Response:
    return web.Response(text=sheet_css(), content_type="text/css", headers={"Cache-Control": "max-age=3600"})
