"""Who is looking at the console: :class:`Viewer`, the API's :class:`Actor` plus the session.

The rights are the API's (:mod:`spaces_provisioner.api.auth`): the operator (signed in with the
operator token), a school's administrator or head (:meth:`Actor.is_org_admin`), and everyone
else as the ``ops`` functions allow them (a teacher: their own classes and links). The
console asks the homeserver (``GET /account/whoami``) whether the session's Matrix token is
still valid: on every POST, and on a page view when the last answer is older than
:data:`RECHECK_SECONDS`. A token the homeserver no longer knows (signed out in Element,
device deleted, account deactivated) ends the session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.auth import Actor, actor_for_token, require_org_admin
from spaces_provisioner.api.keys import SETTINGS
from spaces_provisioner.console.keys import SESSIONS
from spaces_provisioner.console.session import Session
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.homeserver.user import whoami

#: A page view trusts the homeserver's last ``whoami`` answer this long (seconds); a POST never does.
RECHECK_SECONDS = 10.0


class SignInNeeded(Exception):
    """No signed-in session (or it was just revoked): the page sends the browser to the sign-in form."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person (or the operator) and their session.

    ``actor``: the API's caller object (``operator``, ``person`` with memberships) — pass it
    to any ``ops`` function that takes one, and use ``actor.name`` for the audit log.
    """

    actor: Actor
    session: Session

    @property
    def operator(self) -> bool:
        return self.actor.operator

    @property
    def user_id(self) -> str | None:
        return self.session.user_id

    @property
    def token(self) -> str:
        """The session's Matrix access token (or the operator token) — for calls made on the person's behalf."""
        assert self.session.token is not None
        return self.session.token

    def administers(self) -> list[str]:
        """The organizations this person administers (administrator or head); the operator: none listed here."""
        if self.actor.person is None:
            return []
        return sorted(org for org in self.actor.person.memberships if self.actor.is_org_admin(org))

    def orgs(self) -> list[str]:
        """Every organization this person belongs to, in any role."""
        return [] if self.actor.person is None else sorted(self.actor.person.memberships)

    def require_operator(self) -> None:
        """Raises 403 ``M_FORBIDDEN`` unless signed in as the operator."""
        if not self.actor.operator:
            raise ProvisioningError(403, Errcode.FORBIDDEN, _("Only the operator can open this page or do this"))

    def require_org_admin(self, org: str) -> None:
        """Raises 403 ``M_FORBIDDEN`` unless an administrator or head of ``org`` (or the operator): the API's rule."""
        require_org_admin(self.actor, org)


async def viewer(request: web.Request, session: Session | None, recheck: bool) -> Viewer:
    """The :class:`Viewer` of this request; raises :class:`SignInNeeded` when not signed in or revoked.

    ``recheck``: ask the homeserver now (every POST) instead of trusting a recent answer.
    """
    if session is None or session.token is None:
        raise SignInNeeded()
    if not session.operator and (recheck or time.monotonic() - session.checked_at > RECHECK_SECONDS):
        user_id = await whoami(request.app[SETTINGS].homeserver_url, session.token)
        if user_id is None or user_id != session.user_id:
            request.app[SESSIONS].drop_token(session.token)
            raise SignInNeeded()
        session.checked_at = time.monotonic()
    try:
        who = await actor_for_token(request, session.token, session.user_id)
    except ProvisioningError:  # the operator token changed in parta.yaml
        request.app[SESSIONS].drop(session.id)
        raise SignInNeeded() from None
    if session.operator != who.operator:
        request.app[SESSIONS].drop(session.id)
        raise SignInNeeded()
    return Viewer(actor=who, session=session)
