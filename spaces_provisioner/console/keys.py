"""Keys of the console's shared objects on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from spaces_provisioner.console.session import SessionStore
from spaces_provisioner.console.signin_limit import FailedSignIns

SESSIONS = web.AppKey("console_sessions", SessionStore)
#: failed sign-ins per client address (:mod:`.signin_limit`)
FAILED_SIGN_INS = web.AppKey("console_failed_sign_ins", FailedSignIns)
#: a reverse proxy stands in front: the client's address is the last X-Forwarded-For entry
TRUST_FORWARDED = web.AppKey("console_trust_forwarded", bool)
