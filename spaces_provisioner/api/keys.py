"""Keys of the aiohttp application's shared objects (one place, so route modules do not import each other)."""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.ops import Operations
from spaces_provisioner.settings import Settings

OPS = web.AppKey("ops", Operations)
SETTINGS = web.AppKey("settings", Settings)
