"""Who is calling the provisioning API: the operator, or a person signed in to the homeserver.

``Authorization: Bearer <token>``: the operator's token from ``parta.yaml``, or a Matrix
access token, which the homeserver itself checks (``GET /account/whoami``); the person's
roles come from Parta's records (the same ones the registry is built from), never from
the request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from policies.capabilities import Person, default_capabilities
from policies.i18n import _

from .appkeys import PROVISIONER, SETTINGS
from .people import person_from_db
from .provisioner import ProvisioningError


@dataclass(frozen=True)
class Actor:
    """The caller: ``operator`` True for the operator's token; else ``person`` (from Parta's records)."""

    operator: bool
    person: Person | None = None

    @property
    def name(self) -> str:
        """For the audit log."""
        return "operator" if self.operator else self.person.user_id

    def is_org_admin(self, org: str) -> bool:
        """The operator, or an administrator or head of ``org``."""
        if self.operator:
            return True
        m = self.person.memberships.get(org)
        return default_capabilities().can(m, "confirm_teachers")


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        return header[7:].strip()
    raise ProvisioningError(401, "M_MISSING_TOKEN", _(
        "Sign in first: send 'Authorization: Bearer <token>' with your Matrix access token "
        "(or the operator token)"))


async def whoami(homeserver_url: str, token: str) -> str | None:
    """The user id a Matrix access token belongs to (None when the homeserver refuses it)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{homeserver_url}/_matrix/client/v3/account/whoami",
                               headers={"Authorization": f"Bearer {token}"}) as r:
            if r.status != 200:
                return None
            return (await r.json()).get("user_id")


async def actor(request: web.Request, *, operator_only: bool = False) -> Actor:
    """Authenticate the request; raises ProvisioningError 401 (or 403 for ``operator_only``)."""
    settings = request.app[SETTINGS]
    token = _token(request)
    if hmac.compare_digest(token.encode(), settings.operator_token.encode()):
        return Actor(operator=True)
    if operator_only:
        raise ProvisioningError(401, "M_UNKNOWN_TOKEN", _(
            "This request needs the operator token: send 'Authorization: Bearer <token>' "
            "with provisioning.operator_token from parta.yaml"))
    user_id = await whoami(settings.homeserver_url, token)
    if user_id is None:
        raise ProvisioningError(401, "M_UNKNOWN_TOKEN", _("The homeserver does not know this access token; "
                                                          "sign in again"))
    with request.app[PROVISIONER].store.begin() as tx:
        person = person_from_db(tx, user_id)
    return Actor(operator=False, person=person)


def require_org_admin(who: Actor, org: str) -> None:
    """Raises 403 unless the caller administers ``org`` (administrator, head or the operator)."""
    if not who.is_org_admin(org):
        raise ProvisioningError(403, "M_FORBIDDEN", _("Only the organization's administrator or head can do this"))
