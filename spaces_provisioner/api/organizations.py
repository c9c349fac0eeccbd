"""``/api/v1/organizations``, rosters, accounts and network rooms (the operator only; a roster import
also the organization's own administrator or head, issue 14).

- ``GET  /api/v1/organizations`` · ``GET /api/v1/organizations/{org}``
- ``POST /api/v1/organizations/{org}/reconcile``
- ``POST /api/v1/organizations/{org}/roster`` (a zip of the roster's CSV files;
  ``?dry_run=true``, ``?confirm_mass_removal=true``)
- ``POST /api/v1/organizations/{org}/people/{person}/account`` (``{"confirmed": bool}`` optional)
- ``POST /api/v1/accounts`` (an account in no organization: ``{"family_name", "given_name"}``)
- ``POST /api/v1/network-rooms`` (a cross-school room: ``{"name", "orgs": [org ids]}``)
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.auth import actor, require_operator, require_org_admin
from spaces_provisioner.api.body import optional_bool, read_full_name, read_json, reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json
from spaces_provisioner.roster import CLASS_LIST, FORMATS, load_roster

#: A school year's label: "2025/26".
YEAR = re.compile(r"^\d{4}/\d{2}$")

routes = web.RouteTableDef()


@routes.get("/api/v1/organizations")
async def list_organizations(request: web.Request) -> web.Response:
    require_operator(request)
    return reply({"organizations": request.app[OPS].orgs.list_organizations()})


@routes.get("/api/v1/organizations/{org}")
async def get_organization(request: web.Request) -> web.Response:
    require_operator(request)
    return reply(request.app[OPS].orgs.organization(request.match_info["org"]))


@routes.post("/api/v1/organizations/{org}/reconcile")
async def reconcile_organization(request: web.Request) -> web.Response:
    require_operator(request)
    return reply(await request.app[OPS].orgs.reconcile(request.match_info["org"]))


@routes.post("/api/v1/organizations/{org}/roster")
async def post_roster(request: web.Request) -> web.Response:
    # issue 14: importing its own roster is among the school's own actions (the console offers it too);
    # another school's administrator is refused here, before the body is read
    who = await actor(request)
    org = request.match_info["org"]
    require_org_admin(who, org)
    request.app[OPS].orgs.organization(org)  # 404 before reading a large body
    data = await request.read()
    if not data:
        raise ProvisioningError(400, Errcode.INVALID_ROSTER,
                                _("The request has no roster; send the roster's CSV files as one zip"))
    fmt = request.query.get("format") or None
    if fmt is not None and fmt not in FORMATS + (CLASS_LIST,):
        raise ProvisioningError(400, Errcode.INVALID_ROSTER, _("Unknown roster format {format}; use one of: {formats}")
                                .format(format=fmt, formats=", ".join(FORMATS + (CLASS_LIST,))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.zip"
        path.write_bytes(data)
        roster = await asyncio.to_thread(load_roster, path, fmt)
    flags = {k: request.query.get(k, "false").lower() in ("1", "true", "yes") for k in ("dry_run",
                                                                                     "confirm_mass_removal")}
    # who.person: the head or administrator changes people only as row 90 lets them (the operator: None)
    return reply(await request.app[OPS].rosters.import_roster(org, roster, who.name, by=who.person, **flags))


@routes.post("/api/v1/organizations/{org}/rollover")
async def post_rollover(request: web.Request) -> web.Response:
    """The new school year; the body is empty, or the new year's roster as a zip (like ``.../roster``)."""
    who = require_operator(request)
    org = request.match_info["org"]
    request.app[OPS].orgs.organization(org)
    data = await request.read()
    roster = None
    if data:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "roster.zip"
            path.write_bytes(data)
            roster = await asyncio.to_thread(load_roster, path, request.query.get("format") or None)
    year = request.query.get("year") or None
    if year is not None and not YEAR.match(year):
        raise bad_json(_("'year' must look like 2025/26"))
    dry_run = request.query.get("dry_run", "false").lower() in ("1", "true", "yes")
    return reply(await request.app[OPS].rollover.rollover(org, who.name, roster, year=year, dry_run=dry_run))


@routes.post("/api/v1/organizations/{org}/people/{person}/account")
async def post_person_account(request: web.Request) -> web.Response:
    who = require_operator(request)
    confirmed = optional_bool(await read_json(request), "confirmed")
    return reply(await request.app[OPS].accounts.provision_person(
        request.match_info["org"], request.match_info["person"], who.name, confirmed=confirmed))


@routes.post("/api/v1/organizations/{org}/accounts")
async def post_accounts(request: web.Request) -> web.Response:
    """Accounts for many roster people (``{"people": [person ids]}``, or everyone without one)."""
    who = require_operator(request)
    body = await read_json(request)
    people = body.get("people")
    if people is not None and not (isinstance(people, list) and all(isinstance(p, str) for p in people)):
        raise bad_json(_("'people' must be a list of person ids"))
    return reply(await request.app[OPS].accounts.provision_many(request.match_info["org"], who.name, people))


@routes.post("/api/v1/accounts")
async def post_account(request: web.Request) -> web.Response:
    who = require_operator(request)
    name = read_full_name(await read_json(request, required=True))
    return reply(await request.app[OPS].accounts.create_unaffiliated_account(name, who.name))


@routes.post("/api/v1/network-rooms")
async def post_network_room(request: web.Request) -> web.Response:
    who = require_operator(request)
    body = await read_json(request, required=True)
    name, orgs = body.get("name"), body.get("orgs")
    if not (isinstance(name, str) and name.strip() and isinstance(orgs, list) and len(orgs) >= 1
            and all(isinstance(o, str) for o in orgs)):
        raise bad_json(_("Give 'name' as text and 'orgs' as a list of organization ids"))
    return reply(await request.app[OPS].orgs.create_network_room(name.strip(), orgs, who.name),
                             status=201)
