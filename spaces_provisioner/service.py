"""The provisioning service: an aiohttp application serving Parta's API under ``/api/v1``.

Run as ``python -m spaces_provisioner.service DIR`` (``parta run`` does this). The
operator authenticates with ``Authorization: Bearer <operator_token>`` from
``DIR/parta.yaml``. Errors are JSON ``{"errcode", "error", "details"}`` with a 4xx
status; a request the service cannot read never gets a 5xx.

Routes:

- ``GET  /api/v1/health``
- ``GET  /api/v1/applications`` · ``POST /api/v1/applications`` (the application as JSON)
- ``POST /api/v1/applications/{id}/approve``
- ``GET  /api/v1/organizations`` · ``GET /api/v1/organizations/{org}``
- ``POST /api/v1/organizations/{org}/roster`` (a zip of the roster's CSV files)
- ``POST /api/v1/organizations/{org}/reconcile``
- ``POST /api/v1/organizations/{org}/people/{person}/account`` (``{"confirmed": bool}`` optional)
- ``POST /api/v1/accounts`` (an account in no organization: ``{"family_name", "given_name"}``)
- ``POST /api/v1/network-rooms`` (a cross-school room: ``{"name", "orgs": [org ids]}``)
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import sys
import tempfile
import zipfile
from pathlib import Path

from aiohttp import web

from policies.application import ApplicationError, parse_application
from policies import names
from policies.i18n import _, current_language, set_language
from policies.model import FullName
from policies.templates import default_templates

from .application_file import load_schema
from .matrix import BotClient, MatrixRequestError
from .api_links import add_routes as add_link_routes
from .api_links import read_json
from .linking import Linker
from .pages import add_routes as add_pages
from .provisioner import PeopleOps, ProvisioningError, Provisioner
from .roster import RosterError, load_roster
from .settings import Settings
from .store import Store

log = logging.getLogger("parta.service")
from .appkeys import LINKER, PEOPLE, PROVISIONER, SETTINGS  # noqa: E402

MAX_BODY = 50 * 1024 * 1024


def _error(status: int, errcode: str, message: str, details: list[str] | None = None) -> web.Response:
    return web.json_response({"errcode": errcode, "error": message, "details": details or []}, status=status)


@web.middleware
async def errors_and_language(request: web.Request, handler):
    """Sets the language from ``Accept-Language`` (ru/en) and turns refusals into JSON errors."""
    accept = request.headers.get("Accept-Language", "")
    set_language("en" if accept.lower().startswith("en") else "ru" if accept else None)
    try:
        return await handler(request)
    except ProvisioningError as e:
        return web.json_response(e.to_json(), status=e.status)
    except MatrixRequestError as e:
        log.exception("the homeserver refused a request")
        return _error(502, "PARTA_HOMESERVER_REFUSED", _(
            "The homeserver refused a step of this operation ({errcode}: {error}); nothing more was done. "
            "Re-running it is safe").format(errcode=e.errcode, error=e.message))
    except web.HTTPException as e:
        if e.status >= 400 and e.content_type != "application/json":
            return _error(e.status, "M_UNRECOGNIZED" if e.status in (404, 405) else "M_UNKNOWN", e.reason)
        raise


def _require_operator(request: web.Request) -> str:
    """The actor name for the audit log; raises 401 JSON without the operator token."""
    settings = request.app[SETTINGS]
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), settings.operator_token.encode()):
        raise ProvisioningError(401, "M_UNKNOWN_TOKEN", _(
            "This request needs the operator token: send 'Authorization: Bearer <token>' "
            "with provisioning.operator_token from parta.yaml"))
    return "operator"


async def _json_body(request: web.Request) -> dict:
    return await read_json(request, required=True)


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


OPENAPI = Path(__file__).parent / "openapi.json"


async def openapi(_request: web.Request) -> web.Response:
    """The OpenAPI 3 document of this API (``spaces_provisioner/openapi.json``, kept in the repository)."""
    return web.Response(text=OPENAPI.read_text(encoding="utf-8"), content_type="application/json")


async def list_applications(request: web.Request) -> web.Response:
    _require_operator(request)
    return web.json_response({"applications": request.app[PROVISIONER].list_applications()})


async def post_application(request: web.Request) -> web.Response:
    actor = _require_operator(request)
    body = await _json_body(request)
    try:
        app = parse_application(body, load_schema())
    except ApplicationError as e:
        raise ProvisioningError(400, "PARTA_INVALID_APPLICATION",
                                _("The application has mistakes; nothing was recorded"),
                                [str(p) for p in e.problems])
    return web.json_response(await request.app[PROVISIONER].apply_application(app, actor))


async def approve_application(request: web.Request) -> web.Response:
    actor = _require_operator(request)
    return web.json_response(await request.app[PROVISIONER].approve(request.match_info["id"], actor))


async def list_organizations(request: web.Request) -> web.Response:
    _require_operator(request)
    return web.json_response({"organizations": request.app[PROVISIONER].list_organizations()})


async def get_organization(request: web.Request) -> web.Response:
    _require_operator(request)
    return web.json_response(request.app[PROVISIONER].organization(request.match_info["org"]))


async def reconcile_organization(request: web.Request) -> web.Response:
    _require_operator(request)
    return web.json_response(await request.app[PROVISIONER].reconcile(request.match_info["org"]))


async def post_roster(request: web.Request) -> web.Response:
    actor = _require_operator(request)
    org = request.match_info["org"]
    request.app[PROVISIONER].organization(org)
    data = await request.read()
    if not data:
        raise ProvisioningError(400, "PARTA_INVALID_ROSTER",
                                _("The request has no roster; send the roster's CSV files as one zip"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.zip"
        path.write_bytes(data)
        try:
            roster = await asyncio.to_thread(load_roster, path)
        except RosterError as e:
            raise ProvisioningError(400, "PARTA_INVALID_ROSTER", str(e))
    return web.json_response(await request.app[PROVISIONER].import_roster(org, roster, actor))


async def post_person_account(request: web.Request) -> web.Response:
    actor = _require_operator(request)
    body = await _json_body(request) if request.can_read_body else {}
    confirmed = body.get("confirmed")
    if confirmed is not None and not isinstance(confirmed, bool):
        raise ProvisioningError(400, "M_BAD_JSON", _("'confirmed' must be true or false"))
    result = await request.app[PROVISIONER].provision_person(
        request.match_info["org"], request.match_info["person"], actor, confirmed=confirmed)
    return web.json_response(result)


async def post_network_room(request: web.Request) -> web.Response:
    actor = _require_operator(request)
    body = await _json_body(request)
    name, orgs = body.get("name"), body.get("orgs")
    if not (isinstance(name, str) and name.strip() and isinstance(orgs, list) and len(orgs) >= 1
            and all(isinstance(o, str) for o in orgs)):
        raise ProvisioningError(400, "M_BAD_JSON", _("Give 'name' as text and 'orgs' as a list of organization ids"))
    return web.json_response(await request.app[PROVISIONER].create_network_room(name.strip(), orgs, actor),
                             status=201)


async def post_account(request: web.Request) -> web.Response:
    actor = _require_operator(request)
    body = await _json_body(request)
    family, given = body.get("family_name"), body.get("given_name")
    if not (isinstance(family, str) and family.strip() and isinstance(given, str) and given.strip()):
        raise ProvisioningError(400, "M_BAD_JSON", _("Give 'family_name' and 'given_name' as non-empty text"))
    middle = body.get("middle_name") or ""
    if not isinstance(middle, str):
        raise ProvisioningError(400, "M_BAD_JSON", _("Give 'family_name' and 'given_name' as non-empty text"))
    try:
        parts = [names.clean_name_part(x) if x.strip() else "" for x in (family, given, middle)]
    except names.NameRefused as e:
        raise ProvisioningError(400, "M_BAD_JSON", e.message(current_language()))
    name = FullName(*parts)
    return web.json_response(await request.app[PROVISIONER].create_unaffiliated_account(name, actor))


def build_app(settings: Settings) -> web.Application:
    """The aiohttp application; the provisioner connects to the homeserver on startup."""
    app = web.Application(middlewares=[errors_and_language], client_max_size=MAX_BODY)
    app[SETTINGS] = settings

    async def lifecycle(app: web.Application):
        store = Store(settings.database)
        bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id)
        provisioner = Provisioner(settings, store, bot, default_templates())
        await provisioner.start()
        app[PROVISIONER] = provisioner
        app[LINKER] = Linker(provisioner)
        app[PEOPLE] = PeopleOps(provisioner)
        sweeper = asyncio.create_task(app[LINKER].sweep_forever())
        yield
        sweeper.cancel()
        await bot.close()
        store.close()

    app.cleanup_ctx.append(lifecycle)
    r = app.router
    r.add_get("/api/v1/health", health)
    r.add_get("/api/v1/openapi.json", openapi)
    r.add_get("/api/v1/applications", list_applications)
    r.add_post("/api/v1/applications", post_application)
    r.add_post("/api/v1/applications/{id}/approve", approve_application)
    r.add_get("/api/v1/organizations", list_organizations)
    r.add_get("/api/v1/organizations/{org}", get_organization)
    r.add_post("/api/v1/organizations/{org}/roster", post_roster)
    r.add_post("/api/v1/organizations/{org}/reconcile", reconcile_organization)
    r.add_post("/api/v1/organizations/{org}/people/{person}/account", post_person_account)
    r.add_post("/api/v1/accounts", post_account)
    r.add_post("/api/v1/network-rooms", post_network_room)
    add_link_routes(app)
    add_pages(app)
    return app


def zip_folder(path: Path) -> bytes:
    """A roster folder's CSV files as one in-memory zip (what ``POST .../roster`` takes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(Path(path).iterdir()):
            if f.is_file():
                z.write(f, f.name)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    """``python -m spaces_provisioner.service DIR``: serve until SIGTERM/SIGINT."""
    argv = sys.argv[1:] if argv is None else argv
    settings = Settings.load(Path(argv[0]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(build_app(settings), host=settings.provisioning_host, port=settings.provisioning_port,
                print=lambda *_: log.info("provisioning service on %s", settings.provisioning_url),
                handle_signals=True)


if __name__ == "__main__":
    main()
