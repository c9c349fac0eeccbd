"""The school's records: a room's history exported, and retention per school year.

- ``GET /organizations/{org}/rooms/{room}/export`` (``?format=json|pdf|html``, default json): the room's
  history for the school's administration (their own Matrix token) or the operator:
  ``ops.export.Export.transcript``; PDF and HTML by ``web.transcript`` (attachments, named after the room)
- ``POST /organizations/{org}/retention`` (``?dry_run=true``): purge the archived class rooms whose
  retention ran out (``ops.retention.Retention.run``); the operator or the school's administration
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from policies.capabilities import deny
from policies.i18n import N_, _

from spaces_provisioner.api.auth import actor
from spaces_provisioner.api.body import reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.errors import Errcode, ProvisioningError, check
from spaces_provisioner.web.transcript import transcript_html, transcript_pdf

routes = web.RouteTableDef()

#: The refusal of a retention run by anyone but the operator and the school's administration.
RETENTION_ADMINISTRATION_ONLY = N_("Only the school's administration (its administrator and head) can run "
                                   "its retention")
FORMATS = ("json", "pdf", "html")


def _filename(name: str, ext: str) -> str:
    """An ASCII-safe attachment name (``room-history.pdf``) plus the UTF-8 one (RFC 6266 ``filename*``)."""
    from urllib.parse import quote

    safe = re.sub(r"[^\w.-]+", "-", name, flags=re.ASCII).strip("-") or "room"
    return f"attachment; filename=\"{safe}-history.{ext}\"; filename*=UTF-8''{quote(name)}.{ext}"


@routes.get("/api/v1/organizations/{org}/rooms/{room}/export")
async def export_room(request: web.Request) -> web.Response:
    who = await actor(request)
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _("'format' must be json, pdf or html"))
    t = await request.app[OPS].export.transcript(request.match_info["org"], request.match_info["room"],
                                                 who.person, fmt)
    if fmt == "pdf":
        pdf = await asyncio.to_thread(transcript_pdf, t)
        return web.Response(body=pdf, content_type="application/pdf",
                            headers={"Content-Disposition": _filename(t["name"], "pdf")})
    if fmt == "html":
        return web.Response(text=transcript_html(t), content_type="text/html", charset="utf-8",
                            headers={"Content-Disposition": _filename(t["name"], "html")})
    return reply(t)


@routes.post("/api/v1/organizations/{org}/retention")
async def run_retention(request: web.Request) -> web.Response:
    who = await actor(request)
    org = request.match_info["org"]
    request.app[OPS].orgs.organization(org)  # 404 for an unknown organization, before the refusal
    if not who.is_org_admin(org):
        check(deny("retention_administration_only", RETENTION_ADMINISTRATION_ONLY))
    dry_run = request.query.get("dry_run", "false").lower() in ("1", "true", "yes")
    return reply(await request.app[OPS].retention.run(org, who.name, dry_run=dry_run))
