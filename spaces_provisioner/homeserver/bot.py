"""The Parta bot's connection to the homeserver: Client-Server and Synapse Admin API calls.

Built on mautrix's HTTP client (retries, rate-limit back-off, ``MatrixRequestError``
with ``errcode``), with plain JSON in and out so that custom state types need no
classes. Every call is one HTTP request; nothing is cached here.

Sources: Matrix Client-Server API v1.x (``/createRoom``, ``/rooms/{id}/state``,
``/directory/room``), Synapse Admin API (users v2, ``/join``, ``/register``,
``override_ratelimit``, ``users/{id}/login``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from pathlib import Path
from urllib.parse import quote

import aiohttp
from mautrix.api import HTTPAPI, Method
from mautrix.errors import MatrixRequestError, MNotFound

__all__ = ["BotClient", "MatrixRequestError", "register_with_shared_secret"]

log = logging.getLogger("parta.homeserver")


def _q(s: str) -> str:
    return quote(s, safe="")


def _api(base_url: str, token: str, unix_socket: Path | None) -> HTTPAPI:
    """mautrix's HTTP client, over ``unix_socket`` (the homeserver's Admin API listener) when given."""
    if unix_socket is None:
        return HTTPAPI(base_url=base_url, token=token)
    session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(unix_socket)))
    return HTTPAPI(base_url="http://homeserver", token=token, client_session=session)


class BotClient:
    """The Parta bot (the only server admin) acting on one homeserver.

    ``base_url`` like ``http://127.0.0.1:8008``; ``token`` the bot's access token; ``unix_socket``:
    the homeserver's listener with the Admin API (``parta init`` serves it only there), used
    instead of ``base_url`` when given.
    Methods raise ``MatrixRequestError`` (``errcode``, ``message``, ``http_status``).
    """

    def __init__(self, base_url: str, token: str, user_id: str, unix_socket: Path | None = None):
        self.user_id = user_id
        self._base_url, self._unix_socket = base_url, unix_socket
        self.api = _api(base_url, token, unix_socket)
        self.api.default_retry_count = 2

    async def close(self) -> None:
        """Close the HTTP session."""
        if self.api.session is not None:
            await self.api.session.close()

    async def request(self, method: Method, path: str, content=None, query: dict | None = None) -> dict:
        """A raw request; ``path`` is the full path (``/_matrix/client/v3/...``)."""
        return await self.api.request(method, path, content if content is not None or method is Method.GET
                                      else {}, query_params=query)

    # -- rooms ---------------------------------------------------------------------------
    async def create_room(self, body: dict) -> str:
        """``POST /createRoom`` with ``body``; returns the new room id."""
        r = await self.request(Method.POST, "/_matrix/client/v3/createRoom", body)
        return r["room_id"]

    async def resolve_alias(self, alias: str) -> str | None:
        """``GET /directory/room/{alias}``: the room id, or None when the alias is unknown."""
        try:
            r = await self.request(Method.GET, f"/_matrix/client/v3/directory/room/{_q(alias)}")
        except MNotFound:
            return None
        except MatrixRequestError as e:
            if e.http_status == 404:
                return None
            raise
        return r["room_id"]

    async def room_state(self, room_id: str) -> dict[tuple[str, str], dict]:
        """Current state of a room the bot is in: ``{(type, state_key): content}``."""
        events = await self.request(Method.GET, f"/_matrix/client/v3/rooms/{_q(room_id)}/state")
        return {(e["type"], e["state_key"]): e["content"] for e in events}

    async def room_state_or_none(self, room_id: str) -> dict[tuple[str, str], dict] | None:
        """Like :meth:`room_state`, but None when the bot cannot see the room."""
        try:
            return await self.room_state(room_id)
        except MatrixRequestError as e:
            if e.http_status in (403, 404):
                return None
            raise

    async def kick(self, room_id: str, user_id: str, reason: str) -> None:
        """``POST /rooms/{id}/kick``."""
        await self.request(Method.POST, f"/_matrix/client/v3/rooms/{_q(room_id)}/kick",
                           {"user_id": user_id, "reason": reason})

    async def suspend(self, user_id: str, suspended: bool = True) -> None:
        """Admin API ``PUT /_synapse/admin/v1/suspend/{id}``: the account can read but not act."""
        await self.request(Method.PUT, f"/_synapse/admin/v1/suspend/{_q(user_id)}", {"suspend": suspended})

    async def send_state(self, room_id: str, event_type: str, state_key: str, content: dict) -> str:
        """``PUT /rooms/{id}/state/{type}/{state_key}``; returns the event id."""
        r = await self.request(
            Method.PUT,
            f"/_matrix/client/v3/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}",
            content)
        return r["event_id"]

    async def state_event(self, room_id: str, event_type: str, state_key: str) -> dict | None:
        """``GET /rooms/{id}/state/{type}/{state_key}``: one state event's content, None when absent
        (404) — a newcomer's few entries without reading a room's whole state."""
        try:
            return await self.request(
                Method.GET, f"/_matrix/client/v3/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}")
        except MatrixRequestError as e:
            if e.http_status == 404:
                return None
            raise

    async def joined_members(self, room_id: str) -> set[str]:
        """User ids joined to the room."""
        r = await self.request(Method.GET, f"/_matrix/client/v3/rooms/{_q(room_id)}/joined_members")
        return set(r.get("joined", {}))

    async def joined_member_names(self, room_id: str) -> dict[str, str]:
        """``GET /rooms/{id}/joined_members``: user id → display name ("" when none)."""
        r = await self.request(Method.GET, f"/_matrix/client/v3/rooms/{_q(room_id)}/joined_members")
        return {u: str((m or {}).get("display_name") or "") for u, m in (r.get("joined") or {}).items()}

    async def event(self, room_id: str, event_id: str) -> dict | None:
        """``GET /rooms/{id}/event/{event_id}`` (client format), None when the bot cannot see it (404)."""
        try:
            return await self.request(Method.GET, f"/_matrix/client/v3/rooms/{_q(room_id)}/event/{_q(event_id)}")
        except MatrixRequestError as e:
            if e.http_status == 404:
                return None
            raise

    async def relations(self, room_id: str, event_id: str, rel_type: str | None = None) -> list[dict]:
        """Every event relating to ``event_id`` (``GET /_matrix/client/v1/rooms/{id}/relations/{event_id}
        [/{rel_type}]``, all pages, oldest first). A redacted event has lost its relation (Synapse
        removes it on redaction), so it is not listed."""
        path = f"/_matrix/client/v1/rooms/{_q(room_id)}/relations/{_q(event_id)}"
        if rel_type:
            path += f"/{_q(rel_type)}"
        events: list[dict] = []
        token: str | None = None
        while True:
            r = await self.request(Method.GET, path, query={"limit": "100", "dir": "f", **({"from": token} if token
                                                                                             else {})})
            events += r.get("chunk") or []
            token = r.get("next_batch")
            if not token:
                return events

    async def force_join(self, user_id: str, room_id: str) -> None:
        """Synapse Admin API ``POST /_synapse/admin/v1/join/{room}``: join a local user to a room."""
        await self.request(Method.POST, f"/_synapse/admin/v1/join/{_q(room_id)}", {"user_id": user_id})

    # -- users ---------------------------------------------------------------------------
    async def get_user(self, user_id: str) -> dict | None:
        """Admin API ``GET /_synapse/admin/v2/users/{id}``; None when no such account."""
        try:
            return await self.request(Method.GET, f"/_synapse/admin/v2/users/{_q(user_id)}")
        except MatrixRequestError as e:
            if e.http_status == 404:
                return None
            raise

    async def put_user(self, user_id: str, body: dict) -> dict:
        """Admin API ``PUT /_synapse/admin/v2/users/{id}``: create or modify an account."""
        return await self.request(Method.PUT, f"/_synapse/admin/v2/users/{_q(user_id)}", body)

    async def login_as(self, user_id: str) -> str:
        """Admin API ``POST /_synapse/admin/v1/users/{id}/login``: an access token for that user."""
        r = await self.request(Method.POST, f"/_synapse/admin/v1/users/{_q(user_id)}/login", {})
        return r["access_token"]

    async def exempt_from_ratelimit(self, user_id: str) -> None:
        """Admin API ``override_ratelimit`` with 0/0: no rate limit for that user (the bot)."""
        await self.request(Method.POST, f"/_synapse/admin/v1/users/{_q(user_id)}/override_ratelimit",
                           {"messages_per_second": 0, "burst_count": 0})

    async def wait_for_background_updates(self, timeout: float = 120.0) -> None:
        """Wait until Synapse has no background database update running (Admin API
        ``background_updates/status``), e.g. the user directory's first population, which
        would otherwise race with the accounts created right after start."""
        import asyncio

        quiet, loop = 0, asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while quiet < 3 and loop.time() < deadline:
            status = await self.request(Method.GET, "/_synapse/admin/v1/background_updates/status")
            quiet = quiet + 1 if not status.get("current_updates") else 0
            await asyncio.sleep(0.3)

    async def room_events_as_admin(self, room_id: str) -> list[dict]:
        """Admin API ``GET /_synapse/admin/v1/rooms/{id}/state``: the current state events (with
        their senders) of any room, the bot a member or not."""
        r = await self.request(Method.GET, f"/_synapse/admin/v1/rooms/{_q(room_id)}/state")
        return list(r.get("state") or [])

    async def delete_alias(self, alias: str) -> None:
        """``DELETE /directory/room/{alias}`` (the bot is a server admin: any alias)."""
        await self.request(Method.DELETE, f"/_matrix/client/v3/directory/room/{_q(alias)}")

    async def joined_rooms_of(self, user_id: str) -> list[str]:
        """Admin API ``GET /_synapse/admin/v1/users/{id}/joined_rooms``."""
        r = await self.request(Method.GET, f"/_synapse/admin/v1/users/{_q(user_id)}/joined_rooms")
        return list(r.get("joined_rooms") or [])

    async def memberships_of(self, user_id: str) -> dict[str, str]:
        """Admin API ``GET /_synapse/admin/v1/users/{id}/memberships``: ``{room id: membership}``
        (``join``, ``invite``, ``leave``, ...) in the rooms this server takes part in. An invitation
        from another server into a room this server is not in is not there (``invitations_of``)."""
        r = await self.request(Method.GET, f"/_synapse/admin/v1/users/{_q(user_id)}/memberships")
        return {str(k): str(v) for k, v in (r.get("memberships") or {}).items()}

    async def invitations_of(self, user_id: str) -> dict[str, list[dict]]:
        """The user's pending invitations as their client sees them, those from other servers
        included: ``{room id: stripped state events}`` (Matrix spec, Client-Server API, ``GET /sync``:
        ``rooms.invite``, ``invite_state``). A short session (Admin API login-as, one ``/sync`` that
        carries no timeline, ``/logout``)."""
        token = await self.login_as(user_id)
        api = _api(self._base_url, token, self._unix_socket)
        nothing: dict = {"types": []}
        sync_filter = {"presence": nothing, "account_data": nothing,
                       "room": {"timeline": {"limit": 1, "types": []}, "state": nothing, "ephemeral": nothing,
                                "account_data": nothing}}
        try:
            r = await api.request(Method.GET, "/_matrix/client/v3/sync",
                                  query_params={"filter": json.dumps(sync_filter), "timeout": "0"})
            await api.request(Method.POST, "/_matrix/client/v3/logout", {})
        finally:
            if api.session is not None:
                await api.session.close()
        invites = ((r.get("rooms") or {}).get("invite") or {})
        return {str(room_id): list(((room or {}).get("invite_state") or {}).get("events") or [])
                for room_id, room in invites.items()}

    async def leave_as(self, user_id: str, room_id: str, reason: str, forget: bool = False) -> None:
        """Make ``user_id`` leave ``room_id`` (a people's chat the bot is not in): a short session
        through the Admin API's login-as, ``POST /rooms/{id}/leave``, then ``/logout``. ``forget``: also
        ``POST /rooms/{id}/forget`` (Matrix spec, Client-Server API), after which Synapse refuses the
        user the room's history (403 ``M_NOT_JOINED`` on ``/messages``) instead of serving it up to the leave."""
        token = await self.login_as(user_id)
        api = _api(self._base_url, token, self._unix_socket)
        try:
            await api.request(Method.POST, f"/_matrix/client/v3/rooms/{_q(room_id)}/leave", {"reason": reason})
            if forget:
                await api.request(Method.POST, f"/_matrix/client/v3/rooms/{_q(room_id)}/forget", {})
            await api.request(Method.POST, "/_matrix/client/v3/logout", {})
        finally:
            if api.session is not None:
                await api.session.close()

    async def join_as(self, user_id: str, rooms: list[tuple[str, bool]]) -> dict[str, MatrixRequestError]:
        """Join ``user_id`` to ``rooms`` (``[(room_id, invite_first)]``, in order) with the user's
        own requests: one device-less session (Admin API login-as, ``/logout`` after), the bot
        inviting first where the join rule is ``invite``. One membership event per restricted room,
        where the Admin API's ``/join`` sends two (an invitation, then the join) and reads the
        room's join rules on the way; in a school space every join waits for the one before it
        (Synapse serialises a room's membership changes): 231 membership events instead of 363
        for the 39 people of the test school.

        Where the user's own join is refused for a reason of the homeserver's (rate limits: a
        teacher of many classes joins more rooms at once than ``rc_joins`` allows), the Admin
        API's join is used instead. Returns ``{room_id: error}`` of the rooms not joined.
        """
        failed: dict[str, MatrixRequestError] = {}
        try:
            token = await self.login_as(user_id)
        except MatrixRequestError:  # e.g. a deactivated account: the Admin API's join says why
            token = None
        api = _api(self._base_url, token, self._unix_socket) if token else None
        if api is not None:
            api.default_retry_count = 0  # a rate limit: fall back at once rather than wait
        try:
            for room_id, invite_first in rooms:
                if api is not None:
                    try:
                        if invite_first:
                            await self.invite(room_id, user_id)
                        await api.request(Method.POST, f"/_matrix/client/v3/join/{_q(room_id)}", {})
                        continue
                    except MatrixRequestError as e:
                        if e.http_status != 429:
                            failed[room_id] = e
                            continue
                try:
                    await self.force_join(user_id, room_id)
                except MatrixRequestError as e:
                    failed[room_id] = e
            if api is not None:
                try:
                    await api.request(Method.POST, "/_matrix/client/v3/logout", {})
                except MatrixRequestError as e:  # the joins are done; a stray token is no reason to fail
                    log.warning("could not end the joining session of %s: %s %s", user_id, e.errcode, e.message)
        finally:
            if api is not None and api.session is not None:
                await api.session.close()
        return failed

    async def invite(self, room_id: str, user_id: str) -> None:
        """``POST /rooms/{id}/invite`` as the bot (an invitation already sent is answered alike)."""
        await self.request(Method.POST, f"/_matrix/client/v3/rooms/{_q(room_id)}/invite", {"user_id": user_id})

    async def join(self, room_id: str) -> None:
        """``POST /join/{room}`` as the bot itself (a people's chat the bot was invited to)."""
        await self.request(Method.POST, f"/_matrix/client/v3/join/{_q(room_id)}", {})

    # -- registration tokens: the homeserver's half of the link ledger -------------------------
    async def create_registration_token(self, token: str, uses_allowed: int | None,
                                        expiry_time: int | None) -> None:
        """Admin API ``POST /_synapse/admin/v1/registration_tokens/new``: Synapse then accepts
        ``token`` for ``m.login.registration_token`` (``expiry_time`` in ms since the epoch)."""
        await self.request(Method.POST, "/_synapse/admin/v1/registration_tokens/new",
                           {"token": token, "uses_allowed": uses_allowed, "expiry_time": expiry_time})

    async def delete_registration_token(self, token: str) -> None:
        """Admin API ``DELETE /_synapse/admin/v1/registration_tokens/{token}``; a token already
        gone (404) is fine: the goal is that Synapse no longer accepts it."""
        try:
            await self.request(Method.DELETE, f"/_synapse/admin/v1/registration_tokens/{_q(token)}")
        except MatrixRequestError as e:
            if e.http_status != 404:
                raise

    async def registration_records(self, *, user_id: str | None = None, since: int | None = None) -> list[dict]:
        """The Synapse module's record of accounts registered with a token
        (``GET /_synapse/client/parta/registrations``, bot only): ``[{"user_id", "token", "ts"}]``,
        for one account or those recorded after ``since`` (ms)."""
        query = {"user_id": user_id} if user_id is not None else {"since": str(since or 0)}
        r = await self.request(Method.GET, "/_synapse/client/parta/registrations", query=query)
        return list(r.get("registrations") or [])

    async def set_displayname(self, user_id: str, name: str) -> None:
        """Set a user's display name as server admin (``enable_set_displayname: false`` does not apply).

        Retried for up to about 8 s on a 500: on Synapse's worker topology, a change made while the
        previous change's room update is still being cancelled (the cancellation travels to the
        background worker over replication) trips an assertion in Synapse 1.163's
        ``ProfileHandler._update_join_states`` ("Expected at most one task to cancel"). The name is
        stored by then and setting it again is harmless; once the background worker has caught up
        the retry goes through. Raises ``MatrixRequestError`` for anything else, or when it lasts.
        """
        for delay in (0.25, 0.5, 1.0, 2.0, 4.0, None):
            try:
                await self.put_user(user_id, {"displayname": name})
                return
            except MatrixRequestError as e:
                if e.http_status != 500 or delay is None:
                    raise
                log.warning("setting %s's display name met a 500 (%s); again in %.2f s", user_id, e, delay)
                await asyncio.sleep(delay)


async def register_with_shared_secret(base_url: str, shared_secret: str, localpart: str,
                                      password: str, admin: bool, displayname: str | None = None,
                                      unix_socket: Path | None = None) -> dict:
    """Synapse Admin API ``/_synapse/admin/v1/register`` (nonce + HMAC-SHA1 of the shared secret).

    Returns the response (``user_id``, ``access_token``, ``device_id``); raises
    MatrixRequestError (``M_USER_IN_USE`` when the account exists).
    """
    api = _api(base_url, "", unix_socket)
    try:
        nonce = (await api.request(Method.GET, "/_synapse/admin/v1/register"))["nonce"]
        mac = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        body = {"nonce": nonce, "username": localpart, "password": password,
                "mac": mac.hexdigest(), "admin": admin}
        if displayname:
            body["displayname"] = displayname
        return await api.request(Method.POST, "/_synapse/admin/v1/register", body, sensitive=True)
    finally:
        if api.session is not None:
            await api.session.close()
