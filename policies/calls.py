"""Who gets a token for a room's group call (Element Call / MatrixRTC over LiveKit).

LiveKit's stock token service (lk-jwt-service) gives a token to any account that proves who it
is, whatever the room; Parta's token service (``spaces_provisioner.ops.calls``) asks this module
first. The rule is the one the homeserver's module applies to call membership state
(``Capabilities.may_send_call_member``): only members of the room take part; the first one in a
room (no live call membership of someone else) starts the call and needs ``start_call``
(``capabilities.yaml``) except in people's own chats; once a call runs, every member joins it.
Pure: the caller reads the room's state and the person's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policies.capabilities import Account, Capabilities, Decision, RoomInfo, call_member_live, deny
from policies.i18n import N_

#: Rooms anyone joined to may share, whatever their organizations (they are not one school's).
SHARED_KINDS = ("dm", "chat", "network")


def call_running(entries: Iterable[Mapping], user_id: str, now_ms: int, call_types: Iterable[str]) -> bool:
    """Whether someone other than ``user_id`` has a live call membership in the room.

    ``entries``: the room's state events as the Client-Server API gives them (``type``, ``sender``,
    ``content``, ``origin_server_ts`` in ms); ``call_types``: the call membership event types
    (``capabilities.yaml`` ``call_member_state``). Liveness by ``expires`` (``call_member_live``);
    one's own entries (another device, a stale entry) never count as a running call.
    """
    types = frozenset(call_types)
    return any(e.get("type") in types and e.get("sender") != user_id
               and call_member_live(e.get("content"), int(e.get("origin_server_ts") or 0), now_ms)
               for e in entries)


def may_get_call_token(caps: Capabilities, person: Account, room: RoomInfo | None, membership: str | None,
                       running: bool, settings: Mapping | None = None) -> Decision:
    """May ``person`` get a token for the group call of a room?

    ``room``: the room's ``org.parta.room`` (None: not a Parta room); ``membership``: the person's
    ``m.room.member`` membership there (None: never a member, or no such room: both answer the
    same, so the refusal tells nothing of the room); ``running``: :func:`call_running`;
    ``settings``: the room's organization's settings. Refusal reasons: ``call_not_member``,
    ``call_other_org``, ``may_not_start_call``.
    """
    if membership != "join":
        return deny("call_not_member", N_("Only members of this room take part in its calls; ask to be "
                                          "added to the room first"))
    if room is not None and room.kind not in SHARED_KINDS and room.org and room.org not in person.memberships:
        return deny("call_other_org", N_("This call belongs to another school"))
    # the start rule is the module's for call membership state: one home for it
    return caps.may_send_call_member(person, room, person.user_id, {"token": True}, running, settings)
