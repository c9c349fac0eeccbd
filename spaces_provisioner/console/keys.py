"""Keys of the console's shared objects on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.console.session import SessionStore

SESSIONS = web.AppKey("console_sessions", SessionStore)
