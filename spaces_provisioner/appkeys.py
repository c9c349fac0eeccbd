"""Keys of the aiohttp application's shared objects (one place, so route modules do not import each other)."""

from __future__ import annotations

from aiohttp import web

PROVISIONER = web.AppKey("provisioner", object)
SETTINGS = web.AppKey("settings", object)
LINKER = web.AppKey("linker", object)
PEOPLE = web.AppKey("people", object)
