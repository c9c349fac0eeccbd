"""What the module reads from the homeserver: Parta's state events, through Synapse's caches.

Every read is ``ModuleApi.get_room_state`` with concrete ``(type, state_key)`` pairs:
Synapse serves those from its ``_get_current_state_event_id`` and event caches,
which it invalidates itself on every worker through replication. So nothing
authoritative lives in this process: the only value kept here is the registry
room's id, which never changes once the room exists.

Sources of truth (written only by the bot):
- the registry room (alias in the module config): ``org.parta.person`` (state key
  ``_@user``) and ``org.parta.org`` (state key = organization id);
- each Parta room: ``org.parta.room`` (state key ``""``).
"""

from __future__ import annotations

from typing import Mapping

from synapse.api.errors import SynapseError
from synapse.module_api import ModuleApi

from policies.capabilities import Person, RoomInfo
from policies.templates import ROOM_TYPE_STATE, user_state_key

ORG_EVENT = "org.parta.org"
PERSON_EVENT = "org.parta.person"


class Lookups:
    """Reads Parta's records for one Synapse process."""

    def __init__(self, api: ModuleApi, registry_alias: str):
        self.api = api
        self.registry_alias = registry_alias
        self._registry_id: str | None = None

    async def registry_id(self) -> str | None:
        """The registry room's id (None until the bot has created it)."""
        if self._registry_id is None:
            try:
                self._registry_id, _hosts = await self.api.lookup_room_alias(self.registry_alias)
            except SynapseError:
                return None
        return self._registry_id

    async def _state_content(self, room_id: str, event_type: str, state_key: str) -> Mapping | None:
        state = await self.api.get_room_state(room_id, [(event_type, state_key)])
        event = state.get((event_type, state_key))
        return event.content if event is not None else None

    async def person(self, user_id: str) -> Person:
        """The person's memberships (an outsider has none)."""
        registry = await self.registry_id()
        if registry is None:
            return Person(user_id)
        return Person.from_registry(user_id, await self._state_content(registry, PERSON_EVENT,
                                                                      user_state_key(user_id)))

    async def room(self, room_id: str) -> RoomInfo | None:
        """What ``org.parta.room`` says of the room (None: not a Parta room)."""
        return RoomInfo.from_state(await self._state_content(room_id, ROOM_TYPE_STATE, ""))

    async def org(self, org_id: str) -> Mapping:
        """The organization's registry entry ``{"space", "name", "settings"}`` ({} when unknown)."""
        registry = await self.registry_id()
        if registry is None:
            return {}
        return await self._state_content(registry, ORG_EVENT, org_id) or {}

    async def settings(self, *people: Person) -> dict[str, Mapping]:
        """The settings of every organization the given people belong to: ``{org: settings}``."""
        orgs = {o for p in people for o in p.memberships}
        return {o: (await self.org(o)).get("settings") or {} for o in sorted(orgs)}

    async def org_ids(self) -> list[str]:
        """Every organization id (a wildcard state read: used only for rare alias creation)."""
        registry = await self.registry_id()
        if registry is None:
            return []
        state = await self.api.get_room_state(registry, [(ORG_EVENT, None)])
        return [key for (_t, key) in state]

    async def member_ids(self, room_id: str) -> list[str]:
        """Users joined or invited to a room (a wildcard read: used for invites, which are rare)."""
        state = await self.api.get_room_state(room_id, [("m.room.member", None)])
        return [key for (_t, key), ev in state.items() if ev.content.get("membership") in ("join", "invite")]
