"""Whose an OpenID token is: ``GET /_matrix/federation/v1/openid/userinfo`` on the homeserver.

A client gets an OpenID token from ``POST /_matrix/client/v3/user/{userId}/openid/request_token``
and hands it to a third party (here the group calls' token service), which asks the homeserver
whose it is (Matrix Server-Server API, "OpenID"). ``parta init`` serves this one federation path
on the homeserver's listener (resource ``openid``) without opening federation.
"""

from __future__ import annotations

import aiohttp


class OpenIdUnavailable(RuntimeError):
    """The homeserver did not answer the userinfo request (down, or not serving ``openid``)."""


async def openid_userinfo(homeserver_url: str, access_token: str, timeout: float = 10.0) -> str | None:
    """The user id (``sub``) the OpenID ``access_token`` belongs to, or None when the homeserver
    does not know it or it expired (401). Raises :class:`OpenIdUnavailable` for any other answer."""
    url = f"{homeserver_url}/_matrix/federation/v1/openid/userinfo"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, \
                s.get(url, params={"access_token": access_token}) as r:
            if r.status == 401:
                return None
            data = await r.json(content_type=None) if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise OpenIdUnavailable(f"{url}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("sub"), str):
        raise OpenIdUnavailable(f"{url}: HTTP {r.status}")
    return data["sub"]
