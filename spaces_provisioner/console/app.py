"""Mounting the console on the provisioning service's application (:func:`add_console`).

Every module of :mod:`spaces_provisioner.console.pages` that has ``routes`` is mounted: adding a
page module needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from aiohttp import web

from spaces_provisioner.console import pages
from spaces_provisioner.console.keys import SESSIONS
from spaces_provisioner.console.session import SessionStore

STATIC = Path(__file__).parent / "static"


def page_modules() -> list[ModuleType]:
    """The page modules (``console/pages/*.py`` with ``routes``), by name."""
    found = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        if isinstance(getattr(module, "routes", None), web.RouteTableDef):
            found.append(module)
    return found


def add_console(app: web.Application) -> None:
    """Add the console's routes (``/console/...``), its static files and its session store to ``app``."""
    app[SESSIONS] = SessionStore()
    for module in page_modules():
        app.add_routes(module.routes)
    app.router.add_static("/console/static/", STATIC, name="console_static", append_version=False)
