"""Pages in the person's language: the Jinja2 environment, :func:`render`, :func:`redirect`, errors.

Templates live in ``console/templates`` (``base.html`` is the layout every page extends) and
get: ``_``/``gettext``/``ngettext`` (the person's language), ``lang``, ``viewer``
(:class:`~.auth.Viewer` or None), ``csrf_field()`` (the hidden input every ``<form
method="post">`` must carry), ``flash`` (the message of the previous action) and
``path`` (this page's path, for the language switch to come back to).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import jinja2
from aiohttp import web

from policies.i18n import current_language, gettext_, ngettext

from spaces_provisioner.api.middleware import as_provisioning_error
from spaces_provisioner.console import csrf
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.session import Session
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.homeserver.bot import MatrixRequestError

TEMPLATES = Path(__file__).parent / "templates"
#: Request keys the page wrapper fills (:func:`spaces_provisioner.console.pages.page`).
SESSION: web.RequestKey[Session] = web.RequestKey("parta_console_session", Session)
VIEWER: web.RequestKey[Viewer | None] = web.RequestKey("parta_console_viewer")

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined)
_env.install_gettext_callables(gettext_, ngettext, newstyle=True)  # type: ignore[attr-defined]  # i18n ext
_env.globals["_"] = gettext_
_env.filters["datetime"] = lambda ms: (
    "—" if not ms else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC"))


def session_of(request: web.Request) -> Session:
    """This request's console session (set by the page wrapper)."""
    return request[SESSION]


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """``template`` rendered in the person's language, as an HTML response with ``status``.

    ``context`` must hold ``title`` (the page's heading and ``<title>``).
    """
    session = session_of(request)
    flash, session.flash = session.flash, None
    html = _env.get_template(template).render(
        lang=current_language(), viewer=request.get(VIEWER), csrf_field=lambda: csrf.field_html(session),
        flash=flash, path=request.path, **context)
    return web.Response(text=html, status=status, content_type="text/html")


def redirect(request: web.Request, to: str, ok: str | None = None, error: str | None = None) -> NoReturn:
    """303 to ``to`` (a ``/console/`` path) after an action, with a message for the next page."""
    if ok is not None:
        session_of(request).flash = ("ok", ok)
    elif error is not None:
        session_of(request).flash = ("error", error)
    raise web.HTTPSeeOther(to)


def api_error(e: Exception) -> ProvisioningError | None:
    """The API's refusal for ``e`` in the current language (the same errcode and message as
    the JSON API gives), or None when ``e`` is not a refusal (a bug: let it propagate)."""
    if isinstance(e, MatrixRequestError):
        return ProvisioningError(502, Errcode.HOMESERVER_REFUSED, gettext_(
            "The homeserver refused a step of this operation ({errcode}: {error}); nothing more was done. "
            "Re-running it is safe").format(errcode=e.errcode, error=e.message))
    return as_provisioning_error(e)


def error_page(request: web.Request, err: ProvisioningError) -> web.Response:
    """The refusal as a page: its message, the errcode (for support) and its details."""
    return render(request, "error.html", err.status, title=gettext_("Refused"), error=err)
