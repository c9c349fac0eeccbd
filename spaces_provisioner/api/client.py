"""A client of the provisioning API, used by the ``parta`` command line and the demo.

It imports nothing of the server side (only the shared error vocabulary). Every method is one
HTTP request with the operator token (or a person's Matrix token); a 4xx/5xx answer raises
:class:`ApiError` carrying the service's ``errcode``, ``error`` and ``details``.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from policies.i18n import current_language

from spaces_provisioner.errors import Errcode


class ApiError(Exception):
    """The provisioning service refused a request (``status``, ``errcode``, ``error``, ``details``)."""

    def __init__(self, status: int, body: dict):
        self.status = status
        self.errcode = body.get("errcode", Errcode.UNKNOWN)
        self.error = body.get("error", "")
        self.details = list(body.get("details") or [])
        super().__init__(f"{self.errcode}: {self.error}")


class ApiClient:
    """``async with ApiClient(url, token) as api: await api.approve("school-7")``."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        # a school's accounts or roster take minutes: no total limit (aiohttp's default is 300 s),
        # only on connecting
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30), headers={
            "Authorization": f"Bearer {self.token}", "Accept-Language": current_language()})
        return self

    async def __aexit__(self, *exc) -> None:
        if self.session is not None:
            await self.session.close()

    async def call(self, method: str, path: str, *, json: dict | None = None, data: bytes | None = None,
                   raw: bool = False, query: dict | None = None):
        """One request to ``/api/v1{path}``; returns the JSON answer (bytes when ``raw``) or raises ApiError."""
        headers = {"Content-Type": "application/zip"} if data is not None else None
        assert self.session is not None, "use ApiClient in 'async with'"
        async with self.session.request(method, f"{self.base_url}/api/v1{path}", json=json, data=data,
                                        headers=headers, params=query) as r:
            if raw and r.status < 400:
                return await r.read()
            try:
                body = await r.json(content_type=None)
            except ValueError:
                body = {"errcode": Errcode.UNKNOWN, "error": (await r.text())[:500]}
            if r.status >= 400:
                raise ApiError(r.status, body if isinstance(body, dict) else {})
            return body

    async def apply_application(self, application: dict) -> dict:
        return await self.call("POST", "/applications", json=application)

    async def list_applications(self) -> dict:
        return await self.call("GET", "/applications")

    async def approve(self, app_id: str) -> dict:
        return await self.call("POST", f"/applications/{quote(app_id, safe='')}/approve")

    async def organizations(self) -> dict:
        return await self.call("GET", "/organizations")

    async def import_roster(self, org: str, zip_bytes: bytes, *, dry_run: bool = False,
                            confirm_mass_removal: bool = False, format: str | None = None) -> dict:
        query = {k: "true" for k, v in (("dry_run", dry_run), ("confirm_mass_removal", confirm_mass_removal)) if v}
        if format:
            query["format"] = format
        return await self.call("POST", f"/organizations/{quote(org, safe='')}/roster", data=zip_bytes,
                               query=query or None)

    async def provision_person(self, org: str, person: str, confirmed: bool | None = None) -> dict:
        body = {} if confirmed is None else {"confirmed": confirmed}
        return await self.call("POST", f"/organizations/{quote(org, safe='')}/people/{quote(person, safe='')}/account",
                               json=body)

    async def rollover(self, org: str, zip_bytes: bytes | None = None, *, year: str | None = None,
                       dry_run: bool = False) -> dict:
        query = {k: v for k, v in (("year", year), ("dry_run", "true" if dry_run else None)) if v}
        return await self.call("POST", f"/organizations/{quote(org, safe='')}/rollover", data=zip_bytes or b"",
                               query=query or None)

    async def provision_many(self, org: str, people: list[str] | None = None) -> dict:
        return await self.call("POST", f"/organizations/{quote(org, safe='')}/accounts",
                               json={} if people is None else {"people": people})

    async def create_account(self, family_name: str, given_name: str) -> dict:
        return await self.call("POST", "/accounts", json={"family_name": family_name, "given_name": given_name})

    async def create_link(self, org: str, body: dict) -> dict:
        return await self.call("POST", f"/organizations/{quote(org, safe='')}/links", json=body)

    async def list_links(self, org: str) -> dict:
        return await self.call("GET", f"/organizations/{quote(org, safe='')}/links")

    async def revoke_link(self, code: str) -> dict:
        return await self.call("DELETE", f"/links/{quote(code, safe='')}")

    async def personal_codes(self, org: str, class_id: str | None) -> dict:
        return await self.call("POST", f"/organizations/{quote(org, safe='')}/codes",
                               json={"class_id": class_id} if class_id else {})

    async def class_sheet(self, org: str, class_id: str, fmt: str) -> bytes:
        return await self.call("GET", f"/organizations/{quote(org, safe='')}/classes/{quote(class_id, safe='')}/sheet",
                               raw=True, query={"format": fmt})

    async def poll_results(self, room_id: str, event_id: str, fmt: str = "json"):
        """A poll's results: the JSON answer, or the CSV file's bytes (``fmt`` csv)."""
        return await self.call("GET", f"/rooms/{quote(room_id, safe='')}/polls/{quote(event_id, safe='')}/results",
                               raw=fmt == "csv", query={"format": fmt})

    async def people(self, org: str, role: str | None = None) -> dict:
        return await self.call("GET", f"/organizations/{quote(org, safe='')}/people",
                               query={"role": role} if role else None)

    async def update_person(self, org: str, person: str, body: dict) -> dict:
        return await self.call("PATCH", f"/organizations/{quote(org, safe='')}/people/{quote(person, safe='')}",
                               json=body)

    async def remove_person(self, org: str, person: str) -> dict:
        return await self.call("DELETE", f"/organizations/{quote(org, safe='')}/people/{quote(person, safe='')}")
