"""Reports, moderation and the audit log of an organization, for its administration and the operator.

- ``GET  /api/v1/organizations/{org}/audit`` (``?actor=&action=&since=&until=&before=&limit=``; ``action``
  exact or a prefix ending in ``.``; ``since``/``until`` ISO 8601 or milliseconds): ``ops.moderation.audit_entries``
- ``GET  /api/v1/organizations/{org}/reports`` (``?limit=``): the reports delivered to its moderation room
- ``POST /api/v1/organizations/{org}/moderation`` (``{"action": "redact"|"kick"|"ban"|"remove", "report"?,
  "room_id"?, "event_id"?, "user_id"?, "reason"?}``): ``ops.moderation.Moderation.act``
- ``POST /api/v1/moderation/sweep`` (the operator): deliver new reports now (``{"reports": n}``)

:func:`origin_middleware` records where each request comes from for the audit log: the peer's address,
or, only when the installation sits behind a reverse proxy (``parta init --behind-proxy``: the
homeserver's listener trusts ``X-Forwarded-For``), the address that proxy appended last.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.auth import actor, require_operator
from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.api.middleware import Handler
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json
from spaces_provisioner.homeserver.config_file import read_synapse_config
from spaces_provisioner.ops.moderation import set_origin
from spaces_provisioner.settings import Settings

routes = web.RouteTableDef()
#: Numbers in queries are capped here (a BIGINT column holds up to 2**63 - 1).
LARGEST = 2**62


def behind_proxy(settings: Settings) -> bool:
    """Does a reverse proxy stand in front (an HTTP listener of homeserver.yaml with ``x_forwarded: true``)?"""
    try:
        config = read_synapse_config(settings.homeserver_config)
    except OSError:
        return False
    return any(isinstance(listener, dict) and listener.get("type") == "http" and listener.get("x_forwarded") is True
               for listener in (config or {}).get("listeners") or [])


def client_address(request: web.Request, trust_forwarded: bool) -> str | None:
    """The client's address: the last ``X-Forwarded-For`` entry behind a proxy (the one our proxy added;
    earlier entries are the client's to choose), else the peer's."""
    forwarded = request.headers.get("X-Forwarded-For", "") if trust_forwarded else ""
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last[:64] or request.remote


def origin_middleware(settings: Settings):  # noqa: ANN201 - aiohttp's middleware type
    """The middleware that records each request's client address for the audit log (``ops.moderation.set_origin``)."""
    trust = behind_proxy(settings)

    @web.middleware
    async def audit_origin_of_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        set_origin(client_address(request, trust))
        return await handler(request)

    return audit_origin_of_request


def _query(request: web.Request, key: str) -> str | None:
    """A text query parameter; 400 for a NUL character (PostgreSQL's text cannot hold one)."""
    value = request.query.get(key) or None
    if value is not None and "\x00" in value:
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _("'{key}' must be a string").format(key=key))
    return value


def _time(request: web.Request, key: str) -> int | None:
    """A query parameter in milliseconds since the epoch, or ISO 8601 (``2026-09-01``, with a zone or UTC)."""
    value = request.query.get(key)
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(int(value), LARGEST)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _(
            "'{key}' must be a date or time (ISO 8601, e.g. 2026-09-01T08:00+03:00) or milliseconds").format(
                key=key)) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _int(request: web.Request, key: str, default: int | None) -> int | None:
    value = request.query.get(key)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()):
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _("'{key}' must be a whole number").format(key=key))
    return min(int(value), LARGEST)


@routes.get("/api/v1/organizations/{org}/audit")
async def audit_log(request: web.Request) -> web.Response:
    who = await actor(request)
    return reply(request.app[OPS].moderation.audit_entries(
        request.match_info["org"], who.person, actor=_query(request, "actor"), action=_query(request, "action"),
        since=_time(request, "since"), until=_time(request, "until"),
        before=_int(request, "before", None), limit=_int(request, "limit", 100) or 100))


@routes.get("/api/v1/organizations/{org}/reports")
async def reports(request: web.Request) -> web.Response:
    who = await actor(request)
    return reply(request.app[OPS].moderation.reports_of(request.match_info["org"], who.person,
                                                        limit=_int(request, "limit", 50) or 50))


@routes.post("/api/v1/organizations/{org}/moderation")
async def moderate(request: web.Request) -> web.Response:
    who = await actor(request)
    body = await read_json(request, required=True)
    fields = {k: body.get(k) for k in ("report", "room_id", "event_id", "user_id", "reason")}
    for k, v in fields.items():
        if v is not None and not (isinstance(v, str) and "\x00" not in v):
            raise bad_json(_("'{key}' must be a string").format(key=k))
    action = body.get("action")
    if not isinstance(action, str) or "\x00" in action:
        raise bad_json(_("'action' must be one of: {actions}").format(actions="redact, kick, ban, remove"))
    return reply(await request.app[OPS].moderation.act(request.match_info["org"], action, who.name, who.person,
                                                       **fields))


@routes.post("/api/v1/moderation/sweep")
async def sweep(request: web.Request) -> web.Response:
    require_operator(request)
    return reply({"reports": await request.app[OPS].moderation.sweep()})
