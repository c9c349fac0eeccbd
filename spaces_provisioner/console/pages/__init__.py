"""The console's pages: one module per resource, each with its own ``routes``.

Adding a page (the whole contract):

1. A module here with ``routes = web.RouteTableDef()`` (mounted by itself: :func:`..app.page_modules`).
2. Each handler is ``@routes.get/post("/console/...")`` then ``@page()`` (signed-in only) or
   ``@page(public=True)``; it is called as ``handler(request, v)`` with ``v`` the
   :class:`~spaces_provisioner.console.auth.Viewer` (None on a public page).
3. Rights: call the API's rules, never write new ones — ``v.require_operator()``,
   ``v.require_org_admin(org)``, or pass ``v.actor`` to the ``ops`` function the API
   route calls (it refuses what the person may not do). Refusals raise; the wrapper shows them.
4. POST: the wrapper has already checked the CSRF token and re-asked the homeserver about the
   token; read the fields with ``await form(request)`` (a ``dict[str, str]``). After the action,
   ``redirect(request, "/console/...", ok=_("Done"))`` (Post/Redirect/Get, message on the next page).
5. Render with ``render(request, "x.html", title=_("..."), ...)``; templates extend ``base.html``
   and put every form's ``{{ csrf_field() }}``. Person data goes into POST bodies or opaque
   ids in the path (a person id, an org slug), never names, e-mails or phones in a URL.
6. An API refusal (``ProvisioningError``, ``policies`` refusals, the homeserver refusing)
   raised by a handler becomes the error page with the API's errcode and message in the
   person's language; to show it inside a form instead, catch it and use ``api_error(e)``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import aiohttp.http_exceptions
from aiohttp import web

from policies.i18n import _, set_language

from spaces_provisioner.api.keys import SETTINGS
from spaces_provisioner.console import csrf
from spaces_provisioner.console.auth import SignInNeeded, Viewer, viewer
from spaces_provisioner.console.keys import SESSIONS
from spaces_provisioner.console.render import SESSION, VIEWER, api_error, error_page, session_of
from spaces_provisioner.console.session import COOKIE, set_cookie
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.homeserver import user as hs_user

Handler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]
FORM: web.RequestKey[dict[str, str]] = web.RequestKey("parta_console_form", dict)
SIGN_IN = "/console/login"
log = logging.getLogger("parta.console")

#: Headers on every console page: no caching of personal pages, no framing, scripts and styles
#: only from the console's own files.
SAFE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


async def form(request: web.Request) -> dict[str, str]:
    """The POSTed form's text fields (files are left out; read them with ``request.post()``)."""
    if FORM not in request:
        try:
            data = await request.post()
            fields = {k: v for k, v in data.items() if isinstance(v, str)}
            for value in fields.values():
                value.encode("utf-8")
        except (UnicodeError, ValueError, aiohttp.http_exceptions.HttpProcessingError):
            raise ProvisioningError(400, Errcode.BAD_JSON,
                                    _("The form could not be read; please fill it in again")) from None
        request[FORM] = fields
    return request[FORM]


async def _log_out_ended(request: web.Request) -> None:
    """``POST /logout`` for the Matrix tokens of console sessions that ended unseen (expired, evicted)."""
    await log_out_ended(request.app)


async def log_out_ended(app: web.Application) -> None:
    """``POST /logout`` for the tokens queued in ``app``'s session store (also run by the periodic
    sweep, :func:`spaces_provisioner.console.app.add_console`)."""
    store = app[SESSIONS]
    while store.to_log_out:
        token = store.to_log_out.pop()
        try:
            await hs_user.sign_out(app[SETTINGS].homeserver_url, token)
        except (aiohttp.ClientError, OSError):
            log.warning("could not log out an ended console session's token; the person's device list still has it")


def page(public: bool = False) -> Callable[[Callable], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap a console handler: session, language, CSRF (POST), sign-in, refusals as pages.

    ``public``: the page needs no sign-in (the handler gets ``v=None``).
    """
    def wrap(handler: Callable) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            store = request.app[SESSIONS]
            cookie = request.cookies.get(COOKIE)
            session = store.get(cookie) or store.new()
            request[SESSION] = session
            set_language(session.language)
            response: web.StreamResponse
            try:
                if request.method == "POST":
                    csrf.check(session, await form(request))
                v = None if public else await viewer(request, session, recheck=request.method == "POST")
                request[VIEWER] = v
                response = await handler(request, v)
            except web.HTTPException as e:
                if e.status >= 400:
                    raise
                response = e  # a redirect
            except SignInNeeded:
                if session_of(request).id == session.id and store.get(session.id) is None:
                    request[SESSION] = store.new(session.language)  # the old one was revoked
                if session.token is not None:
                    session_of(request).flash = ("error", _("Your session has ended; please sign in again"))
                response = web.HTTPSeeOther(SIGN_IN)
            except Exception as e:
                err = api_error(e)
                if err is None:
                    raise
                response = error_page(request, err)
            await _log_out_ended(request)
            if session_of(request).id != cookie:
                set_cookie(request, response, session_of(request))
            response.headers.update(SAFE_HEADERS)
            return response
        return run
    return wrap
