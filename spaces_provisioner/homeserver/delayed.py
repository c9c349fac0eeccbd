"""Calls made with a person's own access token for scheduled messages: MSC4140 delayed events and
the reads that decide whether the person may post in a room.

The event a delayed send finally makes is the person's own (Synapse sends it with a requester built
for the owner, ``handlers/delayed_events.py``), so the homeserver's and Parta's rules on posting
apply to it when it is sent. Sources: MSC4140 "Cancellable delayed events" as Synapse 1.163 serves it:
``PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}?org.matrix.msc4140.delay=<ms>`` answers
``{"delay_id"}``; ``GET /_matrix/client/unstable/org.matrix.msc4140/delayed_events`` lists the
caller's own pending events, ``GET .../delayed_events/{delay_id}`` reads one of them (404 for
anyone else's), ``POST .../delayed_events/{delay_id}/cancel`` cancels (Synapse checks no owner there:
the delay id is the capability). Client-Server API v1.x for ``joined_members`` and room state.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import aiohttp

V3 = "/_matrix/client/v3"
MSC4140 = "/_matrix/client/unstable/org.matrix.msc4140"
#: The query parameter of a delayed send (milliseconds).
DELAY_PARAM = "org.matrix.msc4140.delay"


def _q(s: str) -> str:
    return quote(s, safe="")


class HomeserverRefused(Exception):
    """The homeserver answered ``status`` with ``errcode`` and ``error`` (its own words)."""

    def __init__(self, status: int, errcode: str, error: str):
        super().__init__(f"{status} {errcode}: {error}")
        self.status, self.errcode, self.error = status, errcode, error


class PersonClient:
    """The homeserver as one person sees it (``token``: their Matrix access token).

    Every method is one HTTP request and raises :class:`HomeserverRefused` for a non-2xx answer.
    """

    def __init__(self, homeserver_url: str, token: str, timeout: float = 30.0):
        self.base = homeserver_url
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def _call(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        async with aiohttp.ClientSession(timeout=self.timeout) as s, s.request(
                method, self.base + path, json=body, params=query,
                headers={"Authorization": f"Bearer {self.token}"}) as r:
            data = await r.json(content_type=None) if r.content_length != 0 else {}
            if r.status >= 300:
                data = data if isinstance(data, dict) else {}
                raise HomeserverRefused(r.status, str(data.get("errcode") or ""), str(data.get("error") or ""))
            return data

    async def joined_members(self, room_id: str) -> dict[str, dict]:
        """``GET /rooms/{room}/joined_members``: user id → ``{"display_name", "avatar_url"}``
        (403 ``M_FORBIDDEN`` when the person is not in the room)."""
        r = await self._call("GET", f"{V3}/rooms/{_q(room_id)}/joined_members")
        return dict(r.get("joined") or {})

    async def state_event(self, room_id: str, event_type: str, state_key: str = "") -> dict | None:
        """One state event's content as the person sees it; None when the room has none (404)."""
        try:
            return await self._call("GET", f"{V3}/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}")
        except HomeserverRefused as e:
            if e.status == 404:
                return None
            raise

    async def create_event(self, room_id: str) -> dict:
        """The room's ``m.room.create`` event in full (``?format=event``: its ``sender`` is the creator)."""
        return await self._call("GET", f"{V3}/rooms/{_q(room_id)}/state/m.room.create/", query={"format": "event"})

    async def send_delayed(self, room_id: str, event_type: str, content: dict, delay_ms: int) -> str:
        """Schedule ``content`` as the person's event in ``room_id`` in ``delay_ms`` milliseconds; the delay id.
        Synapse checks only the event's shape and the delay (at most ``max_event_delay_duration``:
        400 ``ORG.MATRIX.MSC4140_DELAY_TOO_LARGE``) here, not whether the person may post: that happens at sending."""
        txn = "parta-sched-" + secrets.token_hex(8)
        r = await self._call("PUT", f"{V3}/rooms/{_q(room_id)}/send/{_q(event_type)}/{txn}", content,
                             {DELAY_PARAM: str(delay_ms)})
        return str(r["delay_id"])

    async def delayed_events(self) -> list[dict]:
        """The person's pending delayed events, soonest first: ``[{"delay_id", "room_id", "type",
        "state_key"?, "delay_ms", "delayed_since_ts", "content"}]`` (times in milliseconds)."""
        r = await self._call("GET", f"{MSC4140}/delayed_events")
        return list(r.get("delayed_events") or [])

    async def delayed_event(self, delay_id: str) -> dict | None:
        """One of the person's own pending delayed events; None when it is not theirs, was sent or was cancelled."""
        try:
            return await self._call("GET", f"{MSC4140}/delayed_events/{_q(delay_id)}")
        except HomeserverRefused as e:
            if e.status in (400, 404):
                return None
            raise

    async def cancel_delayed(self, delay_id: str) -> None:
        """``POST /delayed_events/{delay_id}/cancel`` (404 when it is gone)."""
        await self._call("POST", f"{MSC4140}/delayed_events/{_q(delay_id)}/cancel", {})
