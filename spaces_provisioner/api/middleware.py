"""The one error middleware: the request's language, and every refusal as a JSON error body.

Refusals raised anywhere below a route (operations, ``policies``, the roster reader) become
``{"errcode", "error", "details", "org.parta.reason"?}`` with a 4xx status, in the language of
``Accept-Language`` (``en``, else Russian); a step the homeserver refused becomes 502
``PARTA_HOMESERVER_REFUSED``. No route builds an error body of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from policies import names
from policies.application import ApplicationError
from policies.i18n import _, current_language, set_language
from policies.links import LinkRequestError

from spaces_provisioner.api.body import reply
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.roster import RosterError

log = logging.getLogger("parta.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def as_provisioning_error(e: Exception) -> ProvisioningError | None:
    """The API's answer to a refusal of ``policies`` or of the roster reader (None: not a refusal)."""
    if isinstance(e, ProvisioningError):
        return e
    if isinstance(e, names.NameRefused):
        return ProvisioningError(400, Errcode.BAD_JSON, e.message(current_language()), reason=e.reason)
    if isinstance(e, LinkRequestError):
        return ProvisioningError(400, Errcode.BAD_JSON, e.decision.message(current_language()),
                                 reason=e.decision.reason)
    if isinstance(e, ApplicationError):
        return ProvisioningError(400, Errcode.INVALID_APPLICATION,
                                 _("The application has mistakes; nothing was recorded"),
                                 [str(p) for p in e.problems])
    if isinstance(e, RosterError):
        return ProvisioningError(400, Errcode.INVALID_ROSTER, str(e))
    return None


def error_response(status: int, errcode: Errcode, message: str) -> web.Response:
    """A JSON error body without details."""
    return reply(ProvisioningError(status, errcode, message).to_json(), status=status)


def _router_message(e: web.HTTPException) -> str:
    """aiohttp's own refusals (no such path, method not allowed, body too large) in the request's language."""
    if e.status == 404:
        return _("There is no such address in the API; /api/v1/openapi.json lists them")
    if e.status == 405:
        return _("This address does not take this method; /api/v1/openapi.json lists what it takes")
    if e.status == 413:
        return _("The request is too large")
    return e.reason


@web.middleware
async def errors_and_language(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets the language from ``Accept-Language`` (ru/en) and turns refusals into JSON errors."""
    accept = request.headers.get("Accept-Language", "")
    set_language("en" if accept.lower().startswith("en") else "ru" if accept else None)
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status >= 400 and e.content_type != "application/json":
            return error_response(e.status, Errcode.UNRECOGNIZED if e.status in (404, 405) else Errcode.UNKNOWN,
                                  _router_message(e))
        raise
    except MatrixRequestError as e:
        log.exception("the homeserver refused a request")
        return error_response(502, Errcode.HOMESERVER_REFUSED, _(
            "The homeserver refused a step of this operation ({errcode}: {error}); nothing more was done. "
            "Re-running it is safe").format(errcode=e.errcode, error=e.message))
    except Exception as e:
        err = as_provisioning_error(e)
        if err is None:
            raise
        return reply(err.to_json(), status=err.status)
