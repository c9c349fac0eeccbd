"""Who is calling the provisioning API: the operator, or a person signed in to the homeserver.

``Authorization: Bearer <token>``: the operator's token from ``parta.yaml``, or a Matrix
access token, which the homeserver itself checks (``GET /account/whoami``); the person's
roles come from Parta's records (the same ones the registry is built from), never from
the request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from policies.capabilities import Account, default_capabilities
from policies.i18n import _

from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.homeserver.user import whoami


@dataclass(frozen=True)
class Actor:
    """The caller: ``operator`` True for the operator's token; else ``person`` (from Parta's records)."""

    operator: bool
    person: Account | None = None

    @property
    def name(self) -> str:
        """For the audit log: ``operator`` or the person's user id."""
        return "operator" if self.person is None else self.person.user_id

    def is_org_admin(self, org: str) -> bool:
        """The operator, or an administrator or head of ``org``."""
        if self.person is None:
            return self.operator
        return default_capabilities().can(self.person.memberships.get(org), "confirm_teachers")


def _operator_refusal() -> ProvisioningError:
    return ProvisioningError(401, Errcode.UNKNOWN_TOKEN, _(
        "This request needs the operator token: send 'Authorization: Bearer <token>' "
        "with provisioning.operator_token from parta.yaml"))


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        return header[7:].strip()
    raise ProvisioningError(401, Errcode.MISSING_TOKEN, _(
        "Sign in first: send 'Authorization: Bearer <token>' with your Matrix access token "
        "(or the operator token)"))


def _is_operator_token(request: web.Request, token: str) -> bool:
    return hmac.compare_digest(token.encode(), request.app[SETTINGS].operator_token.encode())


def require_operator(request: web.Request) -> Actor:
    """The operator, or 401 ``M_UNKNOWN_TOKEN`` (a missing or any other token)."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    if not token or not _is_operator_token(request, token):
        raise _operator_refusal()
    return Actor(operator=True)


async def actor(request: web.Request) -> Actor:
    """Authenticate the request (operator token or a Matrix access token); raises 401."""
    return await actor_for_token(request, _token(request))


async def actor_for_token(request: web.Request, token: str, user_id: str | None = None) -> Actor:
    """The caller holding ``token`` (the operator token or a Matrix access token); raises 401.

    ``user_id``: the token's user when the caller has just asked the homeserver (the console
    caches ``whoami`` briefly); None asks the homeserver now.
    """
    if _is_operator_token(request, token):
        return Actor(operator=True)
    if user_id is None:
        user_id = await whoami(request.app[SETTINGS].homeserver_url, token)
    if user_id is None:
        raise ProvisioningError(401, Errcode.UNKNOWN_TOKEN, _("The homeserver does not know this access token; "
                                                              "sign in again"))
    return Actor(operator=False, person=request.app[OPS].people.account(user_id))


def require_org_admin(who: Actor, org: str) -> None:
    """Raises 403 ``M_FORBIDDEN`` unless the caller administers ``org`` (administrator, head or the operator)."""
    if not who.is_org_admin(org):
        raise ProvisioningError(403, Errcode.FORBIDDEN, _("Only the organization's administrator or head can do this"))
