"""``/api/v1/organizations/{org}/people``: the school's administration manages its people.

- ``GET    /organizations/{org}/people`` (``?role=``)
- ``PATCH  /organizations/{org}/people/{person}`` (``{"confirmed"?, "role"?, "classes"?,
  "family_name"?, "given_name"?, "middle_name"?}``; ``person``: a person id or a user id)
- ``DELETE /organizations/{org}/people/{person}``
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.auth import actor, require_org_admin
from spaces_provisioner.api.body import optional_bool, read_full_name, read_json, reply
from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.errors import bad_json

routes = web.RouteTableDef()


@routes.get("/api/v1/organizations/{org}/people")
async def list_people(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    return reply({"people": request.app[OPS].people.of_org(org, request.query.get("role"))})


@routes.patch("/api/v1/organizations/{org}/people/{person}")
async def update_person(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    body = await read_json(request)
    confirmed, role, classes = optional_bool(body, "confirmed"), body.get("role"), body.get("classes")
    if role is not None and not isinstance(role, str):
        raise bad_json(_("'role' must be one of admin, head, teacher, student, parent"))
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise bad_json(_("'classes' must be a list of class ids"))
    status = body.get("status")
    if status is not None and status != "active":
        raise bad_json(_("'status' can only be \"active\" (to bring a removed person back); remove a person "
                         "with DELETE"))
    name = None
    if any(k in body for k in ("family_name", "given_name", "middle_name")):
        name = read_full_name(body, badge=request.app[SETTINGS].badge)
    people = request.app[OPS].people
    person_id = people.find(org, request.match_info["person"])
    return reply(await people.update(org, person_id, who.name, confirmed=confirmed, role=role,
                                     classes=classes, name=name, reinstate=status == "active", by=who.person))


@routes.delete("/api/v1/organizations/{org}/people/{person}")
async def remove_person(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    people = request.app[OPS].people
    return reply(await people.remove(org, people.find(org, request.match_info["person"]), who.name, by=who.person))
