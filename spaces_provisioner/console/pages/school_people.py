"""A school's classes and people (issue 14, scope 3): for its administrator and head (and the operator).

- ``GET  /console/org/{org}/people``: teachers waiting for confirmation first, then each class with
  its teachers and pupils, then everyone else; role, confirmation and account state of each.
- ``POST /console/org/{org}/people/edit`` (``person``): one person's page — role, classes, confirm, remove.
- ``POST /console/org/{org}/people/change`` (``person``, ``action`` = ``confirm``/``update``/``remove``,
  ``role``, ``classes``): without ``sure`` the confirmation page with the consequences
  (:func:`spaces_provisioner.ops.consequences.consequences`: rooms left and joined, guardians who
  follow, the account suspended); with ``sure=yes`` the change itself (``ops.people``, the API's
  ``PATCH``/``DELETE /organizations/{org}/people/{person}``), then back to the list.

The person travels in POST bodies only (no names or user ids in a URL). Rights: the API's
``require_org_admin``, and ``ops.people`` checks the rest (``policies.administration``: nobody
changes their own role, only an administrator touches the administrator role).
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _, current_language
from policies.labels import role_title
from policies.model import Role

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import redirect, render
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.ops.consequences import consequences
from spaces_provisioner.ops.school_view import classes_of

routes = web.RouteTableDef()
ROLES = tuple(r.value for r in Role)
ACTIONS = ("confirm", "update", "remove")


def _people_path(org: str) -> str:
    return f"/console/org/{org}/people"


def _state(p: dict) -> str:
    """How a person's account stands, in words."""
    if p["status"] != "active":
        return _("removed (account kept)")
    return _("has an account") if p["user_id"] else _("no account yet")


def _person(request: web.Request, org: str, person_id: str) -> dict:
    """One person of ``org`` as ``ops.people.of_org`` shows them; 404 as the API's when unknown."""
    ops = request.app[OPS]
    person_id = ops.people.find(org, person_id)
    for p in ops.people.of_org(org):
        if p["person_id"] == person_id:
            return p
    raise AssertionError("ops.people.find found a person of_org does not list")  # pragma: no cover


@routes.get("/console/org/{org}/people")
@page()
async def people(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    ops = request.app[OPS]
    name = ops.orgs.organization(org)["name"]
    classes = classes_of(ops.ctx, org)
    everyone = ops.people.of_org(org)
    for p in everyone:
        p["role_title"] = role_title(p["role"])
        p["state"] = _state(p)
    waiting = [p for p in everyone if p["role"] == "teacher" and not p["confirmed"] and p["status"] == "active"]
    by_class = [{**c, "people": [p for p in everyone if c["class_id"] in p["classes"]]} for c in classes]
    others = [p for p in everyone if not p["classes"] and p not in waiting]
    return render(request, "school_people.html", title=_("People of {school}").format(school=name), org=org, admin=True,
                  school=name, waiting=waiting, classes=by_class, others=others)


@routes.post("/console/org/{org}/people/edit")
@page()
async def edit(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    p = _person(request, org, (await form(request)).get("person", ""))
    p["role_title"], p["state"] = role_title(p["role"]), _state(p)
    return render(request, "school_person.html", title=p["name"], org=org, person=p, admin=True,
                  roles=[(r, role_title(r)) for r in ROLES], classes=classes_of(request.app[OPS].ctx, org))


def _wanted(fields: dict[str, str], ticked: list[str]) -> tuple[str, str | None, list[str] | None]:
    """The action, the new role and the new classes a change form asks for; 400 as the API's for others."""
    action = fields.get("action", "")
    if action not in ACTIONS:
        raise ProvisioningError(400, Errcode.BAD_JSON, _("'action' must be one of: {actions}").format(
            actions=", ".join(ACTIONS)))
    role = fields.get("role") or None
    if role is not None and role not in ROLES:
        raise ProvisioningError(400, Errcode.BAD_JSON, _("'role' must be one of admin, head, teacher, student, parent"))
    classes = None
    if action == "update":
        classes = sorted({c for c in ticked if c})
    return action, role, classes


@routes.post("/console/org/{org}/people/change")
@page()
async def change(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    fields = await form(request)
    ticked = [c for c in (await request.post()).getall("classes", []) if isinstance(c, str)]
    action, role, classes = _wanted(fields, ticked)
    ops = request.app[OPS]
    p = _person(request, org, fields.get("person", ""))
    if fields.get("sure") != "yes":
        c = consequences(ops.ctx, org, p["person_id"], current_language(), remove=action == "remove",
                         role=role if action == "update" else None, classes=classes,
                         confirmed=True if action == "confirm" else None)
        titles = {x["class_id"]: x["title"] for x in classes_of(ops.ctx, org)}
        return render(request, "school_change.html", title=_("Check before you change"), org=org, person=p,
                      action=action, role=role, role_title=role_title(role) if role else "",
                      classes=classes or [], class_titles=[titles.get(x, x) for x in classes or []], c=c)
    if action == "remove":
        await ops.people.remove(org, p["person_id"], v.actor.name, by=v.actor.person)
        return redirect(request, _people_path(org), ok=_("{name} was removed from the school").format(name=p["name"]))
    await ops.people.update(org, p["person_id"], v.actor.name, by=v.actor.person,
                            confirmed=True if action == "confirm" else None,
                            role=role if action == "update" else None, classes=classes)
    done = _("{name} is confirmed") if action == "confirm" else _("{name}: changes saved")
    return redirect(request, _people_path(org), ok=done.format(name=p["name"]))
