"""The provisioning service: an aiohttp application serving Parta's API under ``/api/v1`` and
the registration page at ``/register``.

Run as ``python -m spaces_provisioner.api DIR`` (``parta run`` does this). The operator
authenticates with ``Authorization: Bearer <operator_token>`` from ``DIR/parta.yaml``; people
with their own Matrix access token. Errors are JSON ``{"errcode", "error", "details"}`` with a
4xx status (:mod:`.middleware`); a request the service cannot read never gets a 5xx.

Routes live next to their handlers, one module per resource: :mod:`.applications`,
:mod:`.organizations`, :mod:`.links`, :mod:`.people`, :mod:`.registrations`, :mod:`.journal`, :mod:`.polls`,
:mod:`.calls` (the group calls' token service), :mod:`.office_hours`, :mod:`.scheduled`, :mod:`.records`,
:mod:`.moderation` (reports, moderation, the audit log); the page in
:mod:`spaces_provisioner.web.register`; the web console (``/console/``) in :mod:`spaces_provisioner.console`.
``GET /api/v1/health`` and ``GET /api/v1/openapi.json`` are here. The OpenAPI document
(``api/openapi.json``) describes them all.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from policies.templates import default_templates

from spaces_provisioner.api import (
    applications,
    calls,
    journal,
    links,
    metrics,
    moderation,
    office_hours,
    org_settings,
    organizations,
    people,
    polls,
    records,
    registrations,
    scheduled,
)
from spaces_provisioner.api.body import reply
from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.api.middleware import errors_and_language
from spaces_provisioner.console.app import add_console
from spaces_provisioner.db.schema import Store
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.ops import Operations
from spaces_provisioner.ops.metrics import instrument
from spaces_provisioner.settings import Settings
from spaces_provisioner.web import register

log = logging.getLogger("parta.service")

#: The largest request body (a region's roster zip is a few tens of megabytes).
MAX_BODY = 50 * 1024 * 1024
OPENAPI = Path(__file__).parent / "openapi.json"

routes = web.RouteTableDef()


@routes.get("/api/v1/health")
async def health(_request: web.Request) -> web.Response:
    """``{"status": "ok"}`` once the service is up (``parta run`` polls it)."""
    return reply({"status": "ok"})


@routes.get("/api/v1/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API (``spaces_provisioner/api/openapi.json``)."""
    return web.Response(text=OPENAPI.read_text(encoding="utf-8"), content_type="application/json")


def build_app(settings: Settings) -> web.Application:
    """The aiohttp application; the operations connect to the homeserver on startup."""
    app = web.Application(middlewares=[errors_and_language, moderation.origin_middleware(settings)],
                          client_max_size=MAX_BODY)
    app[SETTINGS] = settings

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = Store(settings.database)
        bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                        unix_socket=settings.admin_socket)
        ops = Operations(settings, store, bot, default_templates())
        await ops.start()
        instrument(ops)  # reconcile durations and the sweeps' queues for GET /metrics
        app[OPS] = ops
        sweeper = asyncio.create_task(ops.registrations.sweep_forever())
        reports = asyncio.create_task(ops.moderation.sweep_forever())
        yield
        sweeper.cancel()
        reports.cancel()
        await bot.close()
        store.close()

    app.cleanup_ctx.append(lifecycle)
    for module_routes in (routes, applications.routes, organizations.routes, links.routes, people.routes,
                          registrations.routes, journal.routes, polls.routes, calls.routes, scheduled.routes,
                          records.routes, office_hours.routes, moderation.routes, register.routes,
                          metrics.routes, org_settings.routes):
        app.add_routes(module_routes)
    # the web console at /console/ (spaces_provisioner/console); the browser's address from nginx's
    # X-Forwarded-For only behind a proxy, as the audit log decides
    add_console(app, trust_forwarded=moderation.behind_proxy(settings))
    app.on_response_prepare.append(calls.add_cors)
    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m spaces_provisioner.api DIR``: serve until SIGTERM/SIGINT."""
    argv = sys.argv[1:] if argv is None else argv
    settings = Settings.load(Path(argv[0]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(build_app(settings), host=settings.provisioning_host, port=settings.provisioning_port,
                print=lambda *_: log.info("provisioning service on %s", settings.provisioning_url),
                handle_signals=True)
