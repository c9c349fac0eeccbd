"""API routes for links, personal codes, class sheets, people and registrations (``/api/v1``).

- ``POST /organizations/{org}/links`` · ``GET /organizations/{org}/links`` · ``DELETE /links/{code}``
- ``POST /links/{code}/redeem`` (a signed-in person)
- ``POST /organizations/{org}/codes`` (``{"class_id"?}``) · ``GET /organizations/{org}/classes/{class}/sheet``
- ``GET /organizations/{org}/people`` · ``PATCH``/``DELETE /organizations/{org}/people/{person}``
- ``POST /registrations/nudge`` (``{"user_id"}``; the homeserver's module calls it; no secret needed:
  the service reads the record back from the homeserver)
"""

from __future__ import annotations

import re

from aiohttp import web

from policies import names
from policies.i18n import _, current_language
from policies.model import FullName
from policies.links import LinkRequestError, check_link_request

from .appkeys import LINKER, PEOPLE, PROVISIONER, SETTINGS
from .auth import actor, require_org_admin
from .linking import Refused
from .provisioner import ProvisioningError

USER_ID = re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$")


def refused(e: Refused) -> ProvisioningError:
    """A policy refusal as an API error (``errcode`` M_FORBIDDEN / M_NOT_FOUND, Parta's reason)."""
    code = "M_NOT_FOUND" if e.status == 404 else "M_FORBIDDEN"
    err = ProvisioningError(e.status, code, e.decision.message(current_language()))
    err.reason = e.decision.reason
    return err


async def read_json(request: web.Request, *, required: bool = False) -> dict:
    """The request's JSON object (``{}`` for no body unless ``required``); 400 for anything else:
    not JSON, nested too deep, not an object, text that is not valid Unicode."""
    if not request.can_read_body and not required:
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise ProvisioningError(400, "M_NOT_JSON", _("The request body is not JSON; send a JSON object"))
    if not isinstance(body, dict):
        raise ProvisioningError(400, "M_BAD_JSON", _("The request body must be a JSON object"))
    return require_utf8(body)


def require_utf8(body: dict) -> dict:
    """Refuse JSON whose strings are not Unicode text (lone surrogates from ``\\ud800`` escapes)."""
    import json

    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ProvisioningError(400, "M_BAD_JSON", _("The request body has text that is not valid Unicode"))
    return body


async def create_link(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    try:
        req = check_link_request(await read_json(request))
    except LinkRequestError as e:
        raise ProvisioningError(400, "M_BAD_JSON", e.decision.message(current_language()))
    try:
        link = await request.app[LINKER].create(org, req, who.person, who.name)
    except Refused as e:
        raise refused(e)
    return web.json_response(link, status=201)


async def list_links(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    with request.app[PROVISIONER].store.begin() as tx:
        request.app[PROVISIONER]._org_row(tx, org)
    if not who.operator and org not in who.person.memberships:
        raise ProvisioningError(403, "M_FORBIDDEN", _("You are not a participant of this organization"))
    return web.json_response({"links": request.app[LINKER].list(org, who.person)})


async def revoke_link(request: web.Request) -> web.Response:
    who = await actor(request)
    try:
        return web.json_response(await request.app[LINKER].revoke(request.match_info["code"], who.person, who.name))
    except Refused as e:
        raise refused(e)


async def redeem_link(request: web.Request) -> web.Response:
    who = await actor(request)
    if who.operator:
        raise ProvisioningError(403, "M_FORBIDDEN", _("A link is redeemed by a person signed in with their "
                                                      "own Matrix account, not with the operator token"))
    try:
        return web.json_response(await request.app[LINKER].redeem(request.match_info["code"], who.person.user_id))
    except Refused as e:
        raise refused(e)


def _may_print_codes(who, org: str, class_id: str | None) -> tuple[str, ...]:
    """Whose codes the caller may print: everyone's for the administration, students' and
    parents' of own classes for a confirmed teacher; raises 403 otherwise."""
    if who.is_org_admin(org):
        return ("student", "parent", "teacher")
    m = who.person.memberships.get(org) if who.person else None
    if m is not None and m.cap_role == "teacher" and class_id is not None and class_id in m.classes:
        return ("student", "parent")
    raise ProvisioningError(403, "M_FORBIDDEN", _("Personal codes of a class are for the school's administration "
                                                  "and the class's teachers"))


async def personal_codes(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    body = await read_json(request)
    class_id = body.get("class_id")
    if class_id is not None and not isinstance(class_id, str):
        raise ProvisioningError(400, "M_BAD_JSON", _("'class_id' must be text"))
    roles = _may_print_codes(who, org, class_id)
    codes = await request.app[LINKER].personal_codes(org, class_id, who.name, roles)
    return web.json_response({"codes": codes})


async def class_sheet(request: web.Request) -> web.Response:
    from .sheets import SheetEntry, class_sheet_html, class_sheet_pdf

    who = await actor(request)
    org, class_id = request.match_info["org"], request.match_info["class_id"]
    roles = _may_print_codes(who, org, class_id)
    fmt = request.query.get("format", "html")
    if fmt not in ("html", "pdf"):
        raise ProvisioningError(400, "M_INVALID_PARAM", _("'format' must be html or pdf"))
    codes = await request.app[LINKER].personal_codes(org, class_id, who.name, roles)
    with request.app[PROVISIONER].store.begin() as tx:
        import sqlalchemy as sa

        from . import store as st
        title = tx.execute(sa.select(st.classes.c.title).where(
            st.classes.c.org_id == org, st.classes.c.class_id == class_id)).scalar()
    if title is None:
        raise ProvisioningError(404, "M_NOT_FOUND", _("Organization {org} has no class {cls}").format(
            org=org, cls=class_id))
    entries = [SheetEntry(name=c["name"], role=c["role"], code=c["code"], url=c["url"], note=c["note"])
               for c in codes]
    homeserver = request.app[SETTINGS].homeserver_url
    lang = current_language()
    if fmt == "pdf":
        return web.Response(body=class_sheet_pdf(title, entries, homeserver=homeserver, language=lang),
                            content_type="application/pdf")
    return web.Response(text=class_sheet_html(title, entries, homeserver=homeserver, language=lang),
                        content_type="text/html")


async def list_people(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    return web.json_response({"people": request.app[PEOPLE].list(org, request.query.get("role"))})


async def update_person(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    body = await read_json(request)
    confirmed, role, classes = body.get("confirmed"), body.get("role"), body.get("classes")
    if confirmed is not None and not isinstance(confirmed, bool):
        raise ProvisioningError(400, "M_BAD_JSON", _("'confirmed' must be true or false"))
    if role is not None and not isinstance(role, str):
        raise ProvisioningError(400, "M_BAD_JSON", _("'role' must be one of admin, head, teacher, student, parent"))
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise ProvisioningError(400, "M_BAD_JSON", _("'classes' must be a list of class ids"))
    name = None
    if any(k in body for k in ("family_name", "given_name", "middle_name")):
        parts = [body.get(k) or "" for k in ("family_name", "given_name", "middle_name")]
        if not all(isinstance(p, str) for p in parts) or not parts[0].strip() or not parts[1].strip():
            raise ProvisioningError(400, "M_BAD_JSON", _("Give 'family_name' and 'given_name' as non-empty text"))
        try:
            cleaned = [names.clean_name_part(p) if p.strip() else "" for p in parts]
            for part in cleaned:
                names.check_not_badge(part, request.app[SETTINGS].badge)
        except names.NameRefused as e:
            raise ProvisioningError(400, "M_BAD_JSON", e.message(current_language()), reason=e.reason)
        name = FullName(*cleaned)
    people = request.app[PEOPLE]
    person_id = people.find(org, request.match_info["person"])
    return web.json_response(await people.update(org, person_id, who.name, confirmed=confirmed, role=role,
                                                 classes=classes, name=name))


async def remove_person(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    people = request.app[PEOPLE]
    return web.json_response(await people.remove(org, people.find(org, request.match_info["person"]), who.name))


async def nudge(request: web.Request) -> web.Response:
    body = await read_json(request)
    user_id = body.get("user_id")
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise ProvisioningError(400, "M_BAD_JSON", _("'user_id' must be a Matrix user id"))
    return web.json_response(await request.app[LINKER].place_registration(user_id))


def add_routes(app: web.Application) -> None:
    """Register this module's routes on the service's application."""
    r = app.router
    r.add_post("/api/v1/organizations/{org}/links", create_link)
    r.add_get("/api/v1/organizations/{org}/links", list_links)
    r.add_delete("/api/v1/links/{code}", revoke_link)
    r.add_post("/api/v1/links/{code}/redeem", redeem_link)
    r.add_post("/api/v1/organizations/{org}/codes", personal_codes)
    r.add_get("/api/v1/organizations/{org}/classes/{class_id}/sheet", class_sheet)
    r.add_get("/api/v1/organizations/{org}/people", list_people)
    r.add_patch("/api/v1/organizations/{org}/people/{person}", update_person)
    r.add_delete("/api/v1/organizations/{org}/people/{person}", remove_person)
    r.add_post("/api/v1/registrations/nudge", nudge)
