"""What the module reads from the homeserver: Parta's state events, through Synapse's caches.

Every read is one ``(room, type, state_key)`` of current state. Synapse answers it
from its ``_get_current_state_event_id`` cache (the same one ``ModuleApi.get_room_state``
uses), which it invalidates on every state change, on every worker, through
replication. The event's content is then parsed once per event id and kept in a
small LRU keyed by that id: an event id names immutable content, so this cache can
never be stale. Nothing authoritative lives in this process; the registry room's id
is kept too, as it never changes once the room exists.

The store method is Synapse's own (pinned 1.163.2); should it vanish, reads fall back
to ``ModuleApi.get_room_state``.

Sources of truth (written only by the bot):
- the registry room (alias in the module config): ``org.parta.person`` (state key
  ``_@user``) and ``org.parta.org`` (state key = organization id);
- each Parta room: ``org.parta.room`` (state key ``""``).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from synapse.api.errors import SynapseError
from synapse.module_api import ModuleApi

from policies.capabilities import Account, RoomInfo, call_member_live
from policies.state_events import PartaEventTypes, user_state_key

MAX_PARSED = 50_000  # parsed state contents kept per process (by immutable event id)
_MISSING = object()
T = TypeVar("T")


def _mapping(content: Mapping | None) -> Mapping:
    return content or {}


def _person(user_id: str, content: Mapping | None) -> Account:
    return Account.from_registry(user_id, content)


class Lookups:
    """Reads Parta's records for one Synapse process."""

    def __init__(self, api: ModuleApi, registry_alias: str):
        self.api = api
        self.registry_alias = registry_alias
        self._registry_id: str | None = None
        self._store: Any = getattr(api, "_store", None)
        self._event_id_of = getattr(self._store, "_get_current_state_event_id", None)
        self._parsed: OrderedDict[str, Any] = OrderedDict()

    async def registry_id(self) -> str | None:
        """The registry room's id (None until the bot has created it)."""
        if self._registry_id is None:
            try:
                self._registry_id, _hosts = await self.api.lookup_room_alias(self.registry_alias)
            except SynapseError:
                return None
        return self._registry_id

    def _cached_event_id(self, room_id: str, event_type: str, state_key: str):
        """A hit in Synapse's current-state cache without a Deferred round trip (else _MISSING)."""
        cache = getattr(self._event_id_of, "cache", None)
        if cache is None:
            return _MISSING
        return cache.get_immediate((room_id, (event_type, state_key)), _MISSING, update_metrics=False)

    async def _state(self, room_id: str, event_type: str, state_key: str, parse: Callable[[Mapping | None], T]) -> T:
        """``parse(content)`` of one piece of current state (``parse(None)`` when absent).

        The parsed value is kept by event id (immutable content), so a repeated read costs
        one lookup in Synapse's current-state cache.
        """
        if self._event_id_of is None:
            state = await self.api.get_room_state(room_id, [(event_type, state_key)])
            event = state.get((event_type, state_key))
            return parse(event.content if event is not None else None)
        event_id = self._cached_event_id(room_id, event_type, state_key)
        if event_id is _MISSING:
            event_id = await self._event_id_of(room_id, (event_type, state_key))
        if event_id is None:
            return parse(None)
        key = event_id  # an event id names one (type, state key) and immutable content
        value = self._parsed.get(key, _MISSING)
        if value is _MISSING:
            event = await self._store.get_event(event_id, allow_none=True)
            value = parse(event.content if event is not None else None)
            self._parsed[key] = value
            if len(self._parsed) > MAX_PARSED:
                self._parsed.popitem(last=False)
        return value

    def _state_now(self, room_id: str | None, event_type: str, state_key: str) -> Any:
        """The parsed value of one piece of current state if every cache already holds it
        (no coroutine, no suspension), else _MISSING."""
        if room_id is None or self._event_id_of is None:
            return _MISSING
        event_id = self._cached_event_id(room_id, event_type, state_key)
        if event_id is _MISSING:
            return _MISSING
        if event_id is None:
            return None
        return self._parsed.get(event_id, _MISSING)

    def person_now(self, user_id: str) -> Account | None:
        """:meth:`person` when the caches answer at once, else None (call :meth:`person`)."""
        value = self._state_now(self._registry_id, PartaEventTypes.PERSON, user_state_key(user_id))
        if value is _MISSING:
            return None
        return value if value is not None else Account(user_id)

    def org_now(self, org_id: str) -> Mapping | None:
        """:meth:`org` when the caches answer at once (the same object while the entry is
        unchanged), else None (call :meth:`org`)."""
        value = self._state_now(self._registry_id, PartaEventTypes.ORG, org_id)
        if value is _MISSING:
            return None
        return value if value is not None else {}

    async def person(self, user_id: str) -> Account:
        """The person's memberships (an outsider has none)."""
        registry = await self.registry_id()
        if registry is None:
            return Account(user_id)
        return await self._state(registry, PartaEventTypes.PERSON, user_state_key(user_id),
                                 functools.partial(_person, user_id))

    async def room(self, room_id: str) -> RoomInfo | None:
        """What ``org.parta.room`` says of the room (None: not a Parta room)."""
        return await self._state(room_id, PartaEventTypes.ROOM, "", RoomInfo.from_state)

    async def org(self, org_id: str) -> Mapping:
        """The organization's registry entry ``{"space", "name", "settings"}`` ({} when unknown)."""
        registry = await self.registry_id()
        if registry is None:
            return {}
        return await self._state(registry, PartaEventTypes.ORG, org_id, _mapping)

    async def settings(self, *people: Account) -> dict[str, Mapping]:
        """The settings of every organization the given people belong to: ``{org: settings}``."""
        orgs = {o for p in people for o in p.memberships}
        return {o: (await self.org(o)).get("settings") or {} for o in sorted(orgs)}

    async def live_call_members(self, room_id: str, event_types: Iterable[str], exclude: str) -> set[str]:
        """Who else is in the room's call now: the senders of live call memberships (state keys
        other than ``exclude``, the one being written) who are still joined (a wildcard read: call
        joins are rare next to messages). Entries past their expiry do not count (``call_member_live``)."""
        state = await self.api.get_room_state(room_id, [(t, None) for t in event_types])
        now = self.api.get_current_time_msec()
        senders = {ev.sender for (_t, key), ev in state.items()
                   if key != exclude and call_member_live(ev.content, ev.origin_server_ts, now)}
        if not senders:
            return senders
        members = await self.api.get_room_state(room_id, [("m.room.member", s) for s in senders])
        return {key for (_t, key), ev in members.items() if ev.content.get("membership") == "join"}

    async def joined_users(self, room_id: str) -> list[str]:
        """Users joined to the room, from Synapse's cached ``get_users_in_room`` (invalidated on
        every membership change, on every worker)."""
        if self._store is not None and hasattr(self._store, "get_users_in_room"):
            return list(await self._store.get_users_in_room(room_id))
        state = await self.api.get_room_state(room_id, [("m.room.member", None)])
        return [key for (_t, key), ev in state.items() if ev.content.get("membership") == "join"]

    async def encrypted(self, room_id: str) -> bool:
        """Whether the room has turned on end-to-end encryption (``m.room.encryption`` state)."""
        return await self._state(room_id, "m.room.encryption", "", bool)

    async def member_ids(self, room_id: str) -> list[str]:
        """Users joined or invited to a room (a wildcard read: used for invites, which are rare)."""
        state = await self.api.get_room_state(room_id, [("m.room.member", None)])
        return [key for (_t, key), ev in state.items() if ev.content.get("membership") in ("join", "invite")]
