"""The provisioning service's one error model: the errcode vocabulary and the refusal types.

Every refusal the service gives, through the API, the command line or a page, is one of:

- :class:`ProvisioningError`: an HTTP status, an :class:`Errcode`, a message in the current
  language, optional ``details`` (one line per problem) and a policy ``reason``;
- :class:`Refused`: a ``policies`` :class:`~policies.capabilities.Decision` that said no
  (a :class:`ProvisioningError` with ``M_FORBIDDEN`` or ``M_NOT_FOUND`` and the decision's reason).

The API's error middleware (:mod:`spaces_provisioner.api.middleware`) turns them, and the
refusals of ``policies`` (names, link requests, applications) and of the roster reader, into
``{"errcode", "error", "details", "org.parta.reason"?}``; nothing else builds an error body.

Sources: Matrix Client-Server API, "API Standards" → "Standard error response" (the ``M_*``
codes and the ``{"errcode", "error"}`` shape); Parta's own codes use the ``PARTA_`` prefix.
"""

from __future__ import annotations

import enum

from policies.capabilities import Decision
from policies.i18n import current_language


class Errcode(enum.StrEnum):
    """Every errcode the provisioning service answers with (``api/openapi.json`` lists the same)."""

    # Matrix standard codes
    FORBIDDEN = "M_FORBIDDEN"
    NOT_FOUND = "M_NOT_FOUND"
    BAD_JSON = "M_BAD_JSON"
    NOT_JSON = "M_NOT_JSON"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    INVALID_PARAM = "M_INVALID_PARAM"
    UNRECOGNIZED = "M_UNRECOGNIZED"
    UNKNOWN = "M_UNKNOWN"
    # Parta's own
    INVALID_APPLICATION = "PARTA_INVALID_APPLICATION"
    INVALID_ROSTER = "PARTA_INVALID_ROSTER"
    HOMESERVER_REFUSED = "PARTA_HOMESERVER_REFUSED"
    MASS_REMOVAL = "PARTA_MASS_REMOVAL"


class ProvisioningError(Exception):
    """A refused request: ``status`` (HTTP), ``errcode``, ``message`` (current language),
    ``details`` (lines, e.g. every problem of an application) and ``reason`` (a policy's reason code)."""

    def __init__(self, status: int, errcode: Errcode, message: str, details: list[str] | None = None,
                 reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.errcode = errcode
        self.message = message
        self.details = details or []
        self.reason = reason

    def to_json(self) -> dict:
        """``{"errcode", "error", "details"}`` (Matrix-style error body), plus ``org.parta.reason``."""
        body: dict = {"errcode": str(self.errcode), "error": self.message, "details": self.details}
        if self.reason:
            body["org.parta.reason"] = self.reason
        return body


class Refused(ProvisioningError):
    """A ``policies`` decision that refused: 403 ``M_FORBIDDEN`` (404 ``M_NOT_FOUND`` when what was
    asked for does not exist); ``decision`` keeps the reason and the translatable message."""

    def __init__(self, decision: Decision, status: int = 403):
        super().__init__(status, Errcode.NOT_FOUND if status == 404 else Errcode.FORBIDDEN,
                         decision.message(current_language()), reason=decision.reason)
        self.decision = decision


def check(decision: Decision, status: int = 403) -> None:
    """Raise :class:`Refused` unless ``decision`` allows."""
    if not decision.allowed:
        raise Refused(decision, status)


def bad_json(message: str, reason: str | None = None) -> ProvisioningError:
    """400 ``M_BAD_JSON``: the request's JSON has a field of the wrong shape; ``message`` names it."""
    return ProvisioningError(400, Errcode.BAD_JSON, message, reason=reason)


def not_found(message: str) -> ProvisioningError:
    """404 ``M_NOT_FOUND``: ``message`` names what is missing and how to find the right one."""
    return ProvisioningError(404, Errcode.NOT_FOUND, message)
