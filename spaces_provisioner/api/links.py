"""``/api/v1`` links, personal codes and class sheets (the operator, or a person with their own token).

- ``POST /organizations/{org}/links`` · ``GET /organizations/{org}/links`` · ``DELETE /links/{code}``
- ``POST /links/{code}/redeem`` (a signed-in person)
- ``POST /organizations/{org}/codes`` (``{"class_id"?}``) · ``GET /organizations/{org}/classes/{class}/sheet``
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _, current_language
from policies.links import check_link_request

from spaces_provisioner.api.auth import Actor, actor
from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json, not_found
from spaces_provisioner.ops import Operations
from spaces_provisioner.web.sheets import SheetEntry, class_sheet_html, class_sheet_pdf, sheet_css

#: For the console's sheet page (which may not import :mod:`spaces_provisioner.web` itself).
__all__ = ["class_sheet_html", "may_print_codes", "require_participant", "sheet_css", "sheet_entries"]

routes = web.RouteTableDef()


@routes.post("/api/v1/organizations/{org}/links")
async def create_link(request: web.Request) -> web.Response:
    who = await actor(request)
    req = check_link_request(await read_json(request))
    link = await request.app[OPS].links.create(request.match_info["org"], req, who.person, who.name)
    return reply(link, status=201)


@routes.get("/api/v1/organizations/{org}/links")
async def list_links(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    request.app[OPS].orgs.organization(org)
    require_participant(who, org)
    return reply({"links": request.app[OPS].links.of_org(org, who.person)})


@routes.delete("/api/v1/links/{code}")
async def revoke_link(request: web.Request) -> web.Response:
    who = await actor(request)
    return reply(await request.app[OPS].links.revoke(request.match_info["code"], who.person, who.name))


@routes.post("/api/v1/links/{code}/redeem")
async def redeem_link(request: web.Request) -> web.Response:
    who = await actor(request)
    if who.person is None:
        raise ProvisioningError(403, Errcode.FORBIDDEN, _("A link is redeemed by a person signed in with their "
                                                          "own Matrix account, not with the operator token"))
    return reply(await request.app[OPS].registrations.redeem(request.match_info["code"],
                                                                         who.person.user_id))


def require_participant(who: Actor, org: str) -> None:
    """Raises 403 ``M_FORBIDDEN`` unless the caller is the operator or a participant of ``org`` (any role)."""
    if who.person is not None and org not in who.person.memberships:
        raise ProvisioningError(403, Errcode.FORBIDDEN, _("You are not a participant of this organization"))


def may_print_codes(who: Actor, org: str, class_id: str | None) -> tuple[str, ...]:
    """Whose codes the caller may print: everyone's for the administration, students' and
    parents' of own classes for a confirmed teacher; raises 403 otherwise."""
    if who.is_org_admin(org):
        return ("student", "parent", "teacher")
    m = who.person.memberships.get(org) if who.person else None
    if m is not None and m.cap_role == "teacher" and class_id is not None and class_id in m.classes:
        return ("student", "parent")
    raise ProvisioningError(403, Errcode.FORBIDDEN, _("Personal codes of a class are for the school's "
                                                      "administration and the class's teachers"))


@routes.post("/api/v1/organizations/{org}/codes")
async def personal_codes(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    class_id = (await read_json(request)).get("class_id")
    if class_id is not None and not isinstance(class_id, str):
        raise bad_json(_("'class_id' must be text"))
    roles = may_print_codes(who, org, class_id)
    return reply({"codes": await request.app[OPS].links.personal_codes(org, class_id, who.name, roles)})


async def sheet_entries(ops: Operations, who: Actor, org: str, class_id: str) -> tuple[str, list[SheetEntry]]:
    """A class sheet's title and cards (the personal codes the caller may print, created once);
    raises 403 as :func:`may_print_codes`, 404 for an unknown class or a class with nobody left to register.
    The API's sheet and the console's print the same."""
    roles = may_print_codes(who, org, class_id)
    codes = await ops.links.personal_codes(org, class_id, who.name, roles)
    title = ops.links.class_title(org, class_id)
    if title is None:
        raise not_found(_("Organization {org} has no class {cls}").format(org=org, cls=class_id))
    entries = [SheetEntry(name=c["name"], role=c["role"], code=c["code"], url=c["url"], note=c["note"])
               for c in codes]
    if not entries:
        raise not_found(_("Everyone of class {cls} already has an account: there are no codes to print").format(
            cls=title))
    return title, entries


@routes.get("/api/v1/organizations/{org}/classes/{class_id}/sheet")
async def class_sheet(request: web.Request) -> web.Response:
    who = await actor(request)
    org, class_id = request.match_info["org"], request.match_info["class_id"]
    may_print_codes(who, org, class_id)
    fmt = request.query.get("format", "html")
    if fmt not in ("html", "pdf"):
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _("'format' must be html or pdf"))
    title, entries = await sheet_entries(request.app[OPS], who, org, class_id)
    homeserver = request.app[SETTINGS].homeserver_url
    lang = current_language()
    if fmt == "pdf":
        return web.Response(body=class_sheet_pdf(title, entries, homeserver=homeserver, language=lang),
                            content_type="application/pdf")
    return web.Response(text=class_sheet_html(title, entries, homeserver=homeserver, language=lang),
                        content_type="text/html")
