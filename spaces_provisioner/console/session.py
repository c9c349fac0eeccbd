"""Console sessions: kept in the service's memory, named by an opaque random id in a cookie.

The cookie ``parta_console`` holds only a random id (``secrets.token_urlsafe(32)``); the
Matrix access token stays on the server. Cookie flags: HttpOnly, SameSite=Strict,
Path=/console/, Secure when the request came over TLS (directly or through nginx's
``X-Forwarded-Proto: https``). A visitor gets an anonymous session on the first page (so the
sign-in form has a CSRF token too); signing in replaces it with a fresh id (no session
fixation). Sessions end after :data:`IDLE` seconds unused, on sign-out, when the service
restarts, and when the homeserver no longer knows their Matrix token (:mod:`.auth`).

Source: OWASP Session Management Cheat Sheet (random ids, cookie attributes, renewal on sign-in).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from aiohttp import web

COOKIE = "parta_console"
#: Seconds a session lives unused (signed in: a school day; anonymous: one hour).
IDLE = 12 * 3600
ANONYMOUS_IDLE = 3600
#: Sessions kept at most; the least recently used anonymous ones go first, so a flood of anonymous
#: visits cannot fill memory nor push a signed-in person out (signed-in ones go only when all are).
MAX_SESSIONS = 20000
#: Signed-in sessions one person keeps at most (their least recently used goes first): one person's
#: sign-ins, however many browsers, never push another person's session out of the store.
MAX_PER_USER = 5
#: Seconds between full sweeps of expired sessions (their console-made tokens are logged out then).
SWEEP_EVERY = 60.0


@dataclass
class Session:
    """One browser's session.

    ``token``: the Matrix access token (or the operator token when ``operator``); None before
    sign-in. ``user_id``: whom the homeserver said the token belongs to. ``checked_at``: when
    (``time.monotonic()`` seconds) the homeserver last confirmed the token. ``csrf``: the forms'
    token. ``language``: ``ru``/``en`` or None (the default).
    """

    id: str
    csrf: str
    token: str | None = None
    user_id: str | None = None
    operator: bool = False
    language: str | None = None
    checked_at: float = 0.0
    used_at: float = field(default_factory=time.monotonic)
    #: the console made ``token`` by a password sign-in, so ending the session logs it out
    owns_token: bool = False
    #: one message shown on the next page (after a redirect): ``(kind, text)``, kind ``ok``/``error``
    flash: tuple[str, str] | None = None

    @property
    def signed_in(self) -> bool:
        return self.token is not None


class SessionStore:
    """The sessions of this service process (a restart signs everyone out)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, max_per_user: int = MAX_PER_USER):
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self.max_sessions = max_sessions
        self.max_per_user = max_per_user
        self._swept_at = float("-inf")
        #: Matrix tokens the console made whose sessions ended unseen (expiry, eviction): the page
        #: wrapper logs them out (:func:`spaces_provisioner.console.pages.page`)
        self.to_log_out: list[str] = []

    def new(self, language: str | None = None) -> Session:
        """A fresh anonymous session (the oldest anonymous one goes when the store is full)."""
        self.sweep(full=False)
        s = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), language=language)
        self._sessions[s.id] = s
        if len(self._sessions) > self.max_sessions:
            victim = next((sid for sid, old in self._sessions.items() if not old.signed_in and sid != s.id), None)
            self.drop(victim if victim is not None else next(iter(self._sessions)), log_out=True)
        return s

    def _expired(self, s: Session, now: float) -> bool:
        return now - s.used_at > (IDLE if s.signed_in else ANONYMOUS_IDLE)

    def sweep(self, full: bool = True) -> int:
        """Drop expired sessions, queueing the Matrix tokens the console made for ``POST /logout``
        (a closed browser never brings its cookie back, so :meth:`get` alone would keep them).

        ``full=False``: only the least recently used end of the store up to the first live session
        (cheap, on every new session), plus a full pass when the last one is :data:`SWEEP_EVERY`
        seconds old. Returns how many sessions were dropped.
        """
        now = time.monotonic()
        if not full and now - self._swept_at >= SWEEP_EVERY:
            full = True
        if full:
            self._swept_at = now
            expired = [sid for sid, s in self._sessions.items() if self._expired(s, now)]
        else:
            expired = []
            for sid, s in self._sessions.items():
                if not self._expired(s, now):
                    break
                expired.append(sid)
        for sid in expired:
            self.drop(sid, log_out=True)
        return len(expired)

    def signed_in(self, session: Session) -> None:
        """``session`` has just been signed in: the same person's least recently used sessions
        beyond :attr:`max_per_user` end (their console-made tokens logged out)."""
        mine = [sid for sid, s in self._sessions.items() if s.user_id == session.user_id and s.signed_in]
        for sid in mine[:max(0, len(mine) - self.max_per_user)]:
            if sid != session.id:
                self.drop(sid, log_out=True)

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown or expired)."""
        s = self._sessions.get(session_id or "")
        if s is None:
            return None
        now = time.monotonic()
        if now - s.used_at > (IDLE if s.signed_in else ANONYMOUS_IDLE):
            self.drop(s.id, log_out=True)
            return None
        s.used_at = now
        self._sessions.move_to_end(s.id)
        return s

    def drop(self, session_id: str, log_out: bool = False) -> None:
        """Forget a session (sign-out, revoked token); ``log_out``: also queue the Matrix token the
        console made for it for ``POST /logout`` (expiry, eviction)."""
        s = self._sessions.pop(session_id, None)
        if log_out and s is not None and s.owns_token and s.token is not None:
            self.to_log_out.append(s.token)

    def drop_token(self, token: str) -> None:
        """Forget every session holding ``token`` (the homeserver refused it)."""
        for sid in [sid for sid, s in self._sessions.items() if s.token == token]:
            self.drop(sid)


def is_tls(request: web.Request) -> bool:
    """True when the browser reached us over HTTPS (directly, or through nginx which says so)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    """Put the session's id into the response's cookie with the safe flags."""
    # a browser-session cookie (no Max-Age): closing the browser on a shared computer ends it;
    # the idle limit is kept on the server
    response.set_cookie(COOKIE, session.id, path="/console/", httponly=True, samesite="Strict",
                        secure=is_tls(request))


def clear_cookie(response: web.StreamResponse) -> None:
    """Remove the session cookie."""
    response.del_cookie(COOKIE, path="/console/")
