"""Who gets a token for a room's group call (Element Call / MatrixRTC over LiveKit).

LiveKit's stock token service (lk-jwt-service) gives a token to any account that proves who it
is, whatever the room; Parta's token service (``spaces_provisioner.ops.calls``) asks this module
first. The rule is the one the homeserver's module applies to call membership state
(``Capabilities.may_send_call_member``): only members of the room take part; the first one in a
room (no live call membership of someone else) starts the call and needs ``start_call``
(``capabilities.yaml``) except in people's own chats; once a call runs (a live membership of
someone who may start it), every member who may appear in it joins it.
Pure: the caller reads the room's state and the person's record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from policies.capabilities import ALLOW, Account, Capabilities, Decision, RoomInfo, call_member_live, deny
from policies.i18n import N_

#: Rooms anyone joined to may share, whatever their organizations (they are not one school's).
SHARED_KINDS = ("dm", "chat", "network")


def call_running(entries: Iterable[Mapping], user_id: str, now_ms: int, call_types: Iterable[str],
                 may_start: Callable[[str], bool] = lambda _sender: True) -> bool:
    """Whether a call runs in the room for ``user_id`` to join: someone else who may start calls
    there (``may_start(sender)``: ``Capabilities.may_start_call``) and is still joined has a live
    call membership.

    ``entries``: the room's state events as the Client-Server API gives them (``type``,
    ``state_key``, ``sender``, ``content``, ``origin_server_ts`` in ms); ``call_types``: the call
    membership event types (``capabilities.yaml`` ``call_member_state``). Liveness by ``expires``
    (``call_member_live``); one's own entries (another device, a stale entry) never count, nor do
    pupils' memberships: pupils cannot keep a lesson going without their teacher (nor an entry
    left behind by someone who left the room).
    """
    types = frozenset(call_types)
    entries = list(entries)
    joined = {e.get("state_key") for e in entries if e.get("type") == "m.room.member"
              and (e.get("content") or {}).get("membership") == "join"}
    senders = {e.get("sender") for e in entries
               if e.get("type") in types and e.get("sender") != user_id and e.get("sender") in joined
               and call_member_live(e.get("content"), int(e.get("origin_server_ts") or 0), now_ms)}
    return any(isinstance(s, str) and may_start(s) for s in sorted(senders, key=str))


#: Room versions whose creators have unlimited power and stand in no power levels (MSC4289).
CREATOR_POWER_VERSIONS = frozenset({"12", "org.matrix.hydra.11"})


def power_allows_state(entries: Iterable[Mapping], user_id: str, event_type: str) -> bool:
    """Whether the room's power levels let ``user_id`` send a state event of ``event_type`` (spec,
    "Authorization rules": ``events[type]`` else ``state_default``, 50, or 0 with no power levels
    event; the sender's ``users`` entry else ``users_default``; in room version 12 the creators,
    ``m.room.create``'s sender and ``additional_creators``, always may). ``entries``: the room's state."""
    state = {(e.get("type"), e.get("state_key")): e for e in entries}
    create = state.get(("m.room.create", "")) or {}
    create_content = create.get("content") or {}
    if str(create_content.get("room_version") or "1") in CREATOR_POWER_VERSIONS:
        creators = {create.get("sender"), *(create_content.get("additional_creators") or ())}
        if user_id in creators:
            return True
    pl_event = state.get(("m.room.power_levels", ""))
    if pl_event is None:
        return user_id == create.get("sender")
    pl = pl_event.get("content") or {}

    def level(value: object, default: int) -> int:
        try:
            return int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return default

    needed = level((pl.get("events") or {}).get(event_type, pl.get("state_default", 50)), 50)
    return level((pl.get("users") or {}).get(user_id, pl.get("users_default", 0)), 0) >= needed


def may_get_call_token(caps: Capabilities, person: Account, room: RoomInfo | None, membership: str | None,
                       running: bool, settings: Mapping | None = None, may_send_member: bool = True) -> Decision:
    """May ``person`` get a token for the group call of a room?

    The rule is the homeserver's for the person's own call membership there (the module's
    ``user_may_send_state_event`` and ``check_event_for_spam``, and the room's power levels): a
    token goes only to someone whose client may then appear in the call. ``room``: the room's
    ``org.parta.room`` (None: not a Parta room); ``membership``: the person's ``m.room.member``
    membership there (None: never a member, or no such room: both answer the same, so the refusal
    tells nothing of the room); ``running``: :func:`call_running`; ``settings``: the room's
    organization's settings; ``may_send_member``: :func:`power_allows_state` for a call membership.
    Refusal reasons: ``call_not_member``, ``call_other_org``, ``call_read_only``, ``may_not_start_call``.
    """
    if membership != "join":
        return deny("call_not_member", N_("Only members of this room take part in its calls; ask to be "
                                          "added to the room first"))
    if room is not None and room.kind not in SHARED_KINDS and room.org and room.org not in person.memberships:
        return deny("call_other_org", N_("This call belongs to another school"))
    call_type = sorted(caps.call_member_state)[0] if caps.call_member_state else "m.call.member"
    if not may_send_member or (room is not None and not caps.may_post(person, room, call_type, settings)):
        return deny("call_read_only", N_("This room is read-only for you, so you cannot take part in its calls"))
    if running or caps.may_start_call(person, room, settings):
        return ALLOW
    return deny("may_not_start_call", N_("Only teachers and the school's administration start calls here; you "
                                         "can join once one is running"))
