"""HTTP for sources: conditional GETs (ETag / If-Modified-Since) and OAuth 2 client credentials.

Sources followed: RFC 9110 §13.1 (conditional requests), RFC 6749 §4.4 (client credentials
grant; the token is cached until shortly before ``expires_in`` runs out).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from bridge.model import SourceError


@dataclass
class Response:
    """A 200 answer: the body, its content type and the validators to send next time."""

    body: bytes
    content_type: str
    validators: dict


@dataclass
class Answer:
    """Any answer of :meth:`HttpClient.fetch`: the status, the body (``b""`` on 304), the headers
    (names lower-cased) and the caching validators it carries (``etag``, ``last_modified``)."""

    status: int
    body: bytes
    headers: dict[str, str]
    validators: dict


class OAuth2ClientCredentials:
    """Tokens from ``token_url`` for ``client_id``/``client_secret`` and ``scope`` (RFC 6749 §4.4)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str = ""):
        self.token_url, self.client_id, self.client_secret, self.scope = token_url, client_id, client_secret, scope
        self._token: str | None = None
        self._expires = 0.0

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A valid access token (fetched again 30 s before it expires). Raises SourceError."""
        if self._token and time.monotonic() < self._expires - 30:
            return self._token
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        try:
            async with session.post(self.token_url, data=data,
                                    auth=aiohttp.BasicAuth(self.client_id, self.client_secret)) as r:
                if r.status in (400, 401, 403):
                    raise SourceError(f"{self.token_url}: the journal refused the client credentials "
                                      f"(HTTP {r.status}); check client_id and client_secret in the bridge's config",
                                      retry=False)
                r.raise_for_status()
                body = await r.json(content_type=None)
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body.get("expires_in", 3600))
        except aiohttp.ClientError as e:
            raise SourceError(f"{self.token_url}: {e}") from e
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            # a 200 that is not a token (an HTML login page, JSON without access_token)
            raise SourceError(f"{self.token_url}: the answer is not an OAuth 2 token ({e!r}); check token_url "
                              "in the bridge's config", retry=False) from None
        return self._token

    def forget(self) -> None:
        """Drop the cached token (after a 401: it was revoked early)."""
        self._token = None


class HttpClient:
    """One aiohttp session shared by every source; ``timeout`` in seconds per request."""

    def __init__(self, timeout: float = 30.0, session: aiohttp.ClientSession | None = None):
        self.session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def fetch(self, url: str, *, validators: Mapping[str, str] | None = None,
                    params: Mapping[str, str] | None = None, auth: OAuth2ClientCredentials | None = None,
                    headers: Mapping[str, str] | None = None) -> Answer:
        """GET ``url`` conditionally (``validators``: RFC 9110 §13.1), with a bearer token from ``auth``
        fetched again once after a 401 (RFC 6750 §3.1: revoked or expired early). Any status is
        returned, so that a source can read the error body its journal writes; the network failing
        raises SourceError."""
        h = dict(headers or {})
        v = validators or {}
        if v.get("etag"):
            h["If-None-Match"] = v["etag"]
        if v.get("last_modified"):
            h["If-Modified-Since"] = v["last_modified"]
        answer = Answer(0, b"", {}, {})
        for attempt in (1, 2):
            if auth is not None:
                h["Authorization"] = f"Bearer {await auth.token(self.session)}"
            try:
                async with self.session.get(url, params=params, headers=h) as r:
                    body = b"" if r.status == 304 else await r.read()
                    answer = Answer(r.status, body, {k.lower(): val for k, val in r.headers.items()},
                                    {k: r.headers[name] for k, name in (("etag", "ETag"),
                                                                        ("last_modified", "Last-Modified"))
                                     if name in r.headers})
            except aiohttp.ClientError as e:
                raise SourceError(f"{url}: {e}") from e
            if answer.status == 401 and auth is not None and attempt == 1:
                auth.forget()
                continue
            break
        return answer

    async def get(self, url: str, *, validators: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None, auth: OAuth2ClientCredentials | None = None,
                  headers: Mapping[str, str] | None = None) -> Response | None:
        """GET ``url``; None on 304 Not Modified. Raises SourceError (``retry=False`` for 4xx)."""
        a = await self.fetch(url, validators=validators, params=params, auth=auth, headers=headers)
        if a.status == 304:
            return None
        if a.status == 401 and auth is not None:
            raise SourceError(f"{url}: the journal refused the token twice; check the credentials", retry=False)
        if 400 <= a.status < 500:
            raise SourceError(f"{url}: HTTP {a.status}; check the URL and the credentials in the bridge's config",
                              retry=a.status in (408, 429))
        if a.status >= 500:
            raise SourceError(f"{url}: the journal answered HTTP {a.status}; it will be asked again")
        return Response(a.body, a.headers.get("content-type", ""), a.validators)

    async def close(self) -> None:
        """Close the session."""
        await self.session.close()
