"""A room's history as the homeserver keeps it, read and purged through Synapse's Admin API as the bot.

- :func:`all_events`: ``GET /_synapse/admin/v1/rooms/{id}/messages`` (``dir=f``, page by page): every
  event from the room's start, whatever the history visibility and whether or not the bot is joined;
  redacted events come with their content stripped and ``unsigned.redacted_because``.
- :func:`list_rooms`: ``GET /_synapse/admin/v1/rooms`` (every room, page by page).
- :func:`room_media`: ``GET /_synapse/admin/v1/room/{id}/media``: the ``mxc://`` URIs the room's events
  carry (``local`` and ``remote``).
- :func:`purge_history`: ``POST /_synapse/admin/v1/purge_history/{id}`` with ``purge_up_to_ts`` and
  ``delete_local_events: true``, then ``GET /purge_history_status/{purge_id}`` until it is ``complete``.
  Synapse deletes every non-state event older than the last event before the timestamp (that event
  itself stays) and keeps state events.
- :func:`delete_media`: ``DELETE /_synapse/admin/v1/media/{server}/{media_id}`` (file and thumbnails).

Sources: Synapse Admin API docs "Rooms" (room messages API), "Purge History API", "Media" (list media
in a room, delete a specific local media); checked against ``synapse/rest/admin/`` of the pinned 1.163.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import quote

from mautrix.api import Method

from spaces_provisioner.homeserver.bot import BotClient, MatrixRequestError

__all__ = ["PurgeFailed", "all_events", "delete_media", "event_media", "list_rooms", "purge_history", "room_media",
           "send_notice"]

#: Events per page of the Admin API's /messages (Synapse caps a page at 1000).
PAGE = 1000


class PurgeFailed(Exception):
    """Synapse reported the purge as ``failed`` (its ``error`` is the message) or it did not finish in time."""


def _q(s: str) -> str:
    return quote(s, safe="")


async def all_events(bot: BotClient, room_id: str, event_filter: dict | None = None) -> list[dict]:
    """Every event of ``room_id`` in timeline order (client format: ``event_id``, ``type``, ``sender``,
    ``origin_server_ts`` in ms, ``content``, ``unsigned``), read forwards from the room's creation.
    ``event_filter``: a RoomEventFilter (e.g. ``{"types": ["m.room.message"]}``).
    Raises ``MatrixRequestError`` (404 ``M_NOT_FOUND`` for an unknown room)."""
    out: list[dict] = []
    query: dict = {"dir": "f", "limit": str(PAGE)}
    if event_filter:
        query["filter"] = json.dumps(event_filter)
    while True:
        page = await bot.request(Method.GET, f"/_synapse/admin/v1/rooms/{_q(room_id)}/messages", query=query)
        chunk = list(page.get("chunk") or [])
        out.extend(chunk)
        end = page.get("end")
        if not chunk or not end or end == query.get("from"):
            return out
        query["from"] = end


async def list_rooms(bot: BotClient) -> list[dict]:
    """Every room of the homeserver (Admin API ``GET /_synapse/admin/v1/rooms``, page by page): ``[{"room_id",
    "creator", "joined_local_members", ...}]``."""
    out: list[dict] = []
    start = 0
    while True:
        page = await bot.request(Method.GET, "/_synapse/admin/v1/rooms", query={"from": str(start), "limit": "500"})
        out.extend(page.get("rooms") or [])
        if page.get("next_batch") is None:
            return out
        start = int(page["next_batch"])


def event_media(event: dict) -> set[str]:
    """The ``mxc://`` URIs an (unencrypted) event's content carries: ``url``, ``info.thumbnail_url``, and a
    ``file``/``thumbnail_file``'s ``url``."""
    content = event.get("content") or {}
    info: dict = content["info"] if isinstance(content.get("info"), dict) else {}
    found = [content.get("url"), info.get("thumbnail_url")]
    for key in ("file", "thumbnail_file"):
        holder: dict
        for holder in (content, info):
            if isinstance(holder.get(key), dict):
                found.append(holder[key].get("url"))
    return {u for u in found if isinstance(u, str) and u.startswith("mxc://")}


async def room_media(bot: BotClient, room_id: str) -> tuple[list[str], list[str]]:
    """``(local, remote)`` ``mxc://`` URIs that ``room_id``'s events refer to (Synapse's own index)."""
    r = await bot.request(Method.GET, f"/_synapse/admin/v1/room/{_q(room_id)}/media")
    return list(r.get("local") or []), list(r.get("remote") or [])


async def delete_media(bot: BotClient, mxc: str) -> bool:
    """Delete one local file (``mxc://server/id``) with its thumbnails; False when it was already gone."""
    server, _sep, media_id = mxc.removeprefix("mxc://").partition("/")
    try:
        await bot.request(Method.DELETE, f"/_synapse/admin/v1/media/{_q(server)}/{_q(media_id)}")
    except MatrixRequestError as e:
        if e.http_status == 404:
            return False
        raise
    return True


async def purge_history(bot: BotClient, room_id: str, up_to_ts: int | None = None, *, up_to_event: str | None = None,
                        timeout: float = 600.0) -> bool:
    """Purge ``room_id``'s non-state events older than ``up_to_event`` (that event stays), or older than the
    last event before ``up_to_ts`` (ms since the epoch; that last event stays), local ones included, and wait
    until Synapse has finished. False when there was nothing to purge (Synapse's 404 "there is no event to
    be purged"). Raises :class:`PurgeFailed`, or ``MatrixRequestError`` for other refusals."""
    body: dict = {"delete_local_events": True}
    if up_to_event is not None:
        body["purge_up_to_event_id"] = up_to_event
    else:
        body["purge_up_to_ts"] = up_to_ts
    try:
        r = await bot.request(Method.POST, f"/_synapse/admin/v1/purge_history/{_q(room_id)}", body)
    except MatrixRequestError as e:
        if e.http_status == 404:
            return False
        raise
    purge_id = r["purge_id"]
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + timeout, 0.1
    while loop.time() < deadline:
        status = await bot.request(Method.GET, f"/_synapse/admin/v1/purge_history_status/{_q(purge_id)}")
        if status.get("status") == "complete":
            return True
        if status.get("status") == "failed":
            raise PurgeFailed(str(status.get("error") or "purge failed"))
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
    raise PurgeFailed(f"purge {purge_id} of {room_id} did not finish in {timeout:.0f} s")


async def send_notice(bot: BotClient, room_id: str, text: str) -> str:
    """An ``m.notice`` from the bot into ``room_id`` (a fresh transaction id); returns its event id."""
    r = await bot.request(Method.PUT, f"/_matrix/client/v3/rooms/{_q(room_id)}/send/m.room.message/"
                          f"parta-{time.time_ns()}", {"msgtype": "m.notice", "body": text})
    return str(r.get("event_id", ""))
