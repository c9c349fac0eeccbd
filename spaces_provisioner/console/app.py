"""Mounting the console on the provisioning service's application (:func:`add_console`).

Every module of :mod:`spaces_provisioner.console.pages` that has ``routes`` is mounted: adding a
page module needs no edit here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

from aiohttp import web

from spaces_provisioner.console import pages
from spaces_provisioner.console.keys import FAILED_SIGN_INS, SESSIONS, TRUST_FORWARDED
from spaces_provisioner.console.pages import log_out_ended
from spaces_provisioner.console.session import SWEEP_EVERY, SessionStore
from spaces_provisioner.console.signin_limit import FailedSignIns

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def page_modules() -> list[ModuleType]:
    """The page modules (``console/pages/*.py`` with ``routes``), by name."""
    found = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        if isinstance(getattr(module, "routes", None), web.RouteTableDef):
            found.append(module)
    return found


def add_console(app: web.Application, trust_forwarded: bool = False) -> None:
    """Add the console's routes (``/console/...``), its static files and its session store to ``app``.

    ``trust_forwarded``: a reverse proxy stands in front (``parta init --behind-proxy``), so the
    browser's address is the last ``X-Forwarded-For`` entry (never trusted otherwise: anyone could set it).
    """
    app[SESSIONS] = SessionStore()
    app[FAILED_SIGN_INS] = FailedSignIns()
    app[TRUST_FORWARDED] = trust_forwarded
    app.cleanup_ctx.append(_sweeper)
    for module in page_modules():
        app.add_routes(module.routes)
    app.router.add_static("/console/static/", STATIC, name="console_static", append_version=False)


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    """Every :data:`SWEEP_EVERY` seconds drop expired console sessions and log out the Matrix tokens
    the console made for them, also when nobody uses the console (a closed browser never returns)."""
    async def loop() -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                app[SESSIONS].sweep()
                await log_out_ended(app)
            except Exception:  # the next round tries again; the sweeper must not die
                log.exception("console session sweep failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
