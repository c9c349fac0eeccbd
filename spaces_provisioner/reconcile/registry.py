"""The registry room: where the bot tells the Synapse module who is who.

A bot-only room (invite join rule, nobody else ever invited, ``m.federate: false``),
alias ``#parta.registry:SERVER``. Its state is the module's source of truth,
replicated to every worker by Synapse itself:

- ``org.parta.org`` / state key = organization id:
  ``{"space": ROOM_ID, "name": str, "settings": {...}}``
- ``org.parta.person`` / state key = ``_`` + user id (``policies.state_events.user_state_key``):
  ``{"orgs": {ORG_ID: {"role": str, "confirmed": bool, "classes": [class ids],
  "children": [user ids]}}}``

Only the bot can send these events (power level 150, the bot is the room's creator).
"""

from __future__ import annotations

from policies.state_events import REGISTRY_ALIAS_LOCALPART

from spaces_provisioner.homeserver.bot import BotClient


async def ensure_registry(bot: BotClient, server_name: str) -> str:
    """The registry room's id, creating the room when it does not exist yet."""
    alias = f"#{REGISTRY_ALIAS_LOCALPART}:{server_name}"
    room_id = await bot.resolve_alias(alias)
    if room_id:
        return room_id
    return await bot.create_room({
        "preset": "private_chat",
        "visibility": "private",
        "name": "Parta registry",
        "topic": "Parta's records for the homeserver module; the bot is its only member",
        "room_alias_name": REGISTRY_ALIAS_LOCALPART,
        "creation_content": {"m.federate": False},
        "power_level_content_override": {
            "users_default": 0, "events_default": 150, "state_default": 150,
            "invite": 150, "kick": 150, "ban": 150, "redact": 150,
        },
        "initial_state": [
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}},
            {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
        ],
    })
