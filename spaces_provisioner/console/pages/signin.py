"""Signing in and out, and the language switch.

- ``GET  /console/login``: the form (Matrix login name + password, or an access token).
- ``POST /console/login``: ``m.login.password`` against the homeserver (Client-Server API
  "Login"), or a Matrix access token checked with ``GET /account/whoami``, or the operator
  token; a new session id on success. Wrong credentials: 403 with the form again.
- ``POST /console/logout``: ``POST /logout`` with the session's Matrix token (the console's
  device disappears from the account; a token pasted in is logged out too) and the session ends.
- ``POST /console/language``: ``ru``/``en`` for this session; back to the page it came from.
"""

from __future__ import annotations

import math
import time

from aiohttp import web

from policies.i18n import LANGUAGES, _, set_language

from spaces_provisioner.api.auth import _is_operator_token
from spaces_provisioner.api.keys import SETTINGS
from spaces_provisioner.api.moderation import client_address
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.keys import FAILED_SIGN_INS, SESSIONS, TRUST_FORWARDED
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import SESSION, redirect, render, session_of
from spaces_provisioner.homeserver import user as hs_user

routes = web.RouteTableDef()

#: The device name the console's sign-in creates (the person sees it in Element's session list).
DEVICE_NAME = "Parta console"


@routes.get("/console/login")
@page(public=True)
async def login_page(request: web.Request, _v: Viewer | None) -> web.Response:
    if session_of(request).signed_in:
        redirect(request, "/console/")
    return render(request, "login.html", title=_("Sign in to the console"), error=None, login="")


@routes.post("/console/login")
@page(public=True)
async def login_post(request: web.Request, _v: Viewer | None) -> web.Response:
    fields = await form(request)
    hs = request.app[SETTINGS].homeserver_url
    login = fields.get("login", "").strip()
    token = fields.get("token", "").strip()
    operator = False
    # failed sign-ins are limited per browser address here: the homeserver sees them all coming from
    # this service, so its own per-address limit alone would lock the whole school out (signin_limit)
    address = client_address(request, request.app[TRUST_FORWARDED]) or ""
    limit = request.app[FAILED_SIGN_INS]
    wait = limit.retry_after(address)
    if wait > 0:
        return render(request, "login.html", 429, title=_("Sign in to the console"), login=login,
                      error=_("Too many failed sign-ins from your address; try again in {minutes} min").format(
                          minutes=max(1, math.ceil(wait / 60))))
    if token:
        operator = _is_operator_token(request, token)
        user_id = None if operator else await hs_user.whoami(hs, token)
        if not operator and user_id is None:
            limit.failed(address)
            return render(request, "login.html", 403, title=_("Sign in to the console"), login=login,
                          error=_("The homeserver does not know this access token; sign in again"))
    else:
        try:
            user_id, token = await hs_user.sign_in(hs, login, fields.get("password", ""), DEVICE_NAME,
                                                   client_address=address or None)
        except hs_user.SignInRefused as e:
            if not e.rate_limited:
                limit.failed(address)
            message = (_("Too many sign-in attempts from here; wait a few minutes and try again") if e.rate_limited
                       else _("Wrong login name or password"))
            return render(request, "login.html", 429 if e.rate_limited else 403,
                          title=_("Sign in to the console"), login=login, error=message)
    store = request.app[SESSIONS]
    old = session_of(request)
    store.drop(old.id)
    new = store.new(old.language)  # a fresh id: a session id planted before sign-in is worthless
    new.token, new.user_id, new.operator, new.checked_at = token, user_id, operator, time.monotonic()
    new.owns_token = not fields.get("token", "").strip()  # made here by the password sign-in
    store.signed_in(new)  # one person's many sign-ins evict only their own oldest sessions
    request[SESSION] = new
    redirect(request, "/console/")


@routes.post("/console/logout")
@page()
async def logout(request: web.Request, v: Viewer) -> web.Response:
    store = request.app[SESSIONS]
    if not v.operator:
        await hs_user.sign_out(request.app[SETTINGS].homeserver_url, v.token)
    store.drop_token(v.token) if not v.operator else store.drop(v.session.id)
    request[SESSION] = store.new(v.session.language)
    redirect(request, "/console/login", ok=_("You have signed out"))


@routes.post("/console/language")
@page(public=True)
async def language(request: web.Request, _v: Viewer | None) -> web.Response:
    fields = await form(request)
    lang = fields.get("lang")
    if lang in LANGUAGES:
        session_of(request).language = lang
        set_language(lang)
    back = fields.get("next", "")
    # only a console path: the switch must not become an open redirect
    redirect(request, back if back.startswith("/console/") and "//" not in back else "/console/")
