"""The bridge's client of Parta's provisioning service (the operator API, ``/api/v1``).

The provisioning service owns the schools: the bridge reads each organization's directory
(classes, pupils, guardians, teachers, their rooms) and asks it for the rooms it needs, which
the Parta bot creates like every school room (``spaces_provisioner/ops/journal.py``).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import aiohttp

from bridge.directory import Directory


class ProvisioningError(Exception):
    """The provisioning service refused or could not be reached; the message says which call and why;
    ``status``: the HTTP status (0 when it could not be reached)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class ProvisioningClient:
    """``url``: the service's base URL; ``token``: the operator token. Directories are cached ``ttl`` s."""

    def __init__(self, url: str, token: str, ttl: float = 60.0, session: aiohttp.ClientSession | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.ttl = ttl
        self.session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
        self._cache: dict[str, tuple[float, Directory]] = {}

    async def _call(self, method: str, path: str) -> dict:
        try:
            async with self.session.request(method, self.url + path,
                                            headers={"Authorization": f"Bearer {self.token}"}) as r:
                body = await r.json(content_type=None)
                if r.status >= 400:
                    err = body.get("error") if isinstance(body, dict) else body
                    raise ProvisioningError(f"{method} {path}: HTTP {r.status}: {err}", r.status)
                return body
        except aiohttp.ClientError as e:
            raise ProvisioningError(f"{method} {path}: {e}") from e

    async def directory(self, org: str, fresh: bool = False) -> Directory:
        """The organization's directory (cached for ``ttl`` seconds unless ``fresh``)."""
        hit = self._cache.get(org)
        if hit and not fresh and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        d = Directory.from_json(await self._call("GET", f"/api/v1/organizations/{quote(org)}/journal"))
        self._cache[org] = (time.monotonic(), d)
        return d

    def cached(self) -> list[Directory]:
        """The directories read so far (to find which organization a room belongs to)."""
        return [d for _, d in self._cache.values()]

    async def ensure_diary(self, org: str, person_id: str) -> str:
        """The person's diary room id (created by the Parta bot when missing)."""
        body = await self._call("PUT", f"/api/v1/organizations/{quote(org)}/people/{quote(person_id, safe='')}/diary")
        hit = self._cache.get(org)
        if hit:
            self._cache[org] = (hit[0], hit[1].with_diary(person_id, body["room_id"]))
        return body["room_id"]

    async def ensure_status_room(self, org: str) -> str:
        """The organization's journal status room id (created when missing)."""
        return (await self._call("PUT", f"/api/v1/organizations/{quote(org)}/journal/status-room"))["room_id"]

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.session.close()
