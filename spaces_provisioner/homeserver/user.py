"""Client-Server API calls made on behalf of a person (not the bot): registering with a
registration token, signing in to redeem a link, and checking whose an access token is.

Sources: Matrix Client-Server API v1.x, "Account registration" (``POST /register`` with
User-Interactive Authentication: ``m.login.registration_token`` then ``m.login.dummy``),
"Login" (``m.login.password``), "Logout", ``GET /account/whoami``.
"""

from __future__ import annotations

import aiohttp

from policies.i18n import _


class RegistrationRefused(Exception):
    """The homeserver refused the registration; ``message`` is for the page (current language)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SignInRefused(Exception):
    """The homeserver refused a sign-in: ``rate_limited`` when it asked to wait (429)."""

    def __init__(self, rate_limited: bool):
        super().__init__("rate limited" if rate_limited else "wrong login name or password")
        self.rate_limited = rate_limited


async def register(homeserver_url: str, token: str, localpart: str, password: str) -> str:
    """Register through the standard Client-Server API with a registration token (UIA:
    ``m.login.registration_token`` then ``m.login.dummy``); returns the new user id.

    Raises :class:`RegistrationRefused` with a message that says what to change.
    """
    url = f"{homeserver_url}/_matrix/client/v3/register"
    body = {"username": localpart, "password": password, "inhibit_login": True,
            "initial_device_display_name": "Parta registration"}
    async with aiohttp.ClientSession() as s:
        session = None
        for stage in (None, "m.login.registration_token", "m.login.dummy"):
            payload = dict(body)
            if stage == "m.login.registration_token":
                payload["auth"] = {"type": stage, "token": token, "session": session}
            elif stage == "m.login.dummy":
                payload["auth"] = {"type": stage, "session": session}
            async with s.post(url, json=payload) as r:
                data = await r.json(content_type=None)
            if r.status == 200:
                return data["user_id"]
            if r.status == 401 and "session" in data:
                session = data["session"]
                continue
            raise RegistrationRefused(_explain(data))
    raise RegistrationRefused(_("The homeserver did not finish the registration; try again"))


def _explain(data: dict) -> str:
    code = data.get("errcode")
    if code == "M_USER_IN_USE":
        return _("This login name is taken; choose another")
    if code == "M_INVALID_USERNAME":
        return data.get("error") or _("This login name cannot be used; choose another")
    if code == "M_WEAK_PASSWORD":
        return _("The password is too weak; choose a longer one")
    return data.get("error") or _("The homeserver refused the registration; try again")


async def sign_in(homeserver_url: str, user: str, password: str, device_name: str = "Parta link",
                  client_address: str | None = None) -> tuple[str, str]:
    """``POST /login`` (``m.login.password``) for a session of the page or the console
    (``device_name`` is what the person sees in their sessions list); returns
    ``(user_id, access_token)``. Raises :class:`SignInRefused`. End it with :func:`sign_out`.

    ``client_address``: the browser's address, sent as ``X-Forwarded-For`` so that a homeserver
    listener with ``x_forwarded: true`` applies its per-address login limit to the browser, not to
    this service (a listener without it ignores the header)."""
    headers = {"X-Forwarded-For": client_address} if client_address else {}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{homeserver_url}/_matrix/client/v3/login", headers=headers, json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                "password": password, "initial_device_display_name": device_name}) as r:
            body = await r.json(content_type=None)
    if r.status != 200:
        raise SignInRefused(rate_limited=r.status == 429)
    return body["user_id"], body["access_token"]


async def sign_out(homeserver_url: str, token: str) -> None:
    """``POST /logout``: end the page's session (its device disappears from the account)."""
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{homeserver_url}/_matrix/client/v3/logout",
                          headers={"Authorization": f"Bearer {token}"}, json={}):
            pass


async def whoami(homeserver_url: str, token: str) -> str | None:
    """The user id a Matrix access token belongs to (None when the homeserver refuses it)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{homeserver_url}/_matrix/client/v3/account/whoami",
                               headers={"Authorization": f"Bearer {token}"}) as r:
            if r.status != 200:
                return None
            return (await r.json()).get("user_id")
