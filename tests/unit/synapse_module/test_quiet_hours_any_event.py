"""The module holds back a parent's call invite, mention, reaction, poll or invite in the teacher's
quiet window (any event type), remembers a notice only for messages, calls and polls, and takes the
urgent mark on messages only (attacker20, hole 3)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.unit.synapse_module.test_quiet_hours import ALWAYS_QUIET, _event, _Look, _quiet


def _typed(event_type: str, content: dict, state_key: str | None = None) -> SimpleNamespace:
    """A parent's event of ``event_type`` (a state event when ``state_key`` is given)."""
    return SimpleNamespace(event_id="$e", type=event_type, sender="@p:s", room_id="!r", content=content,
                           is_state=lambda: state_key is not None)


CALL = _typed("m.call.invite", {"call_id": "c", "party_id": "p", "version": "1", "lifetime": 60000,
                                "offer": {"type": "offer", "sdp": "v=0\r\n"}})
MENTION = _typed("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": "👍"},
                                "m.mentions": {"user_ids": ["@t:s"]}})
GROUP_CALL = _typed("org.matrix.msc4075.rtc.notification", {"notification_type": "ring", "m.mentions": {"room": True}})
POLL = _typed("org.matrix.msc3381.poll.start", {"org.matrix.msc3381.poll.start": {"question": {"body": "?"}}})
INVITE = _typed("m.room.member", {"membership": "invite", "is_direct": True}, state_key="@t:s")
CUSTOM_STATE = _typed("org.example.board", {"m.mentions": {"user_ids": ["@t:s"]}}, state_key="")


@pytest.mark.parametrize("event", [CALL, MENTION, GROUP_CALL, POLL, INVITE, CUSTOM_STATE],
                         ids=["call", "mention", "group_call", "poll", "invite", "state"])
async def test_a_parents_event_of_any_type_is_held_back(event):
    q = _quiet(_Look("dm", ALWAYS_QUIET))
    assert [u for u, *_ in await q.quiet_for(event, ["@t:s", "@a:s"])] == ["@t:s"]
    # the administration's event of the same type still notifies (default settings)
    admins = SimpleNamespace(**{**vars(event), "sender": "@a:s"})
    assert await q.quiet_for(admins, ["@t:s"]) == []


@pytest.mark.parametrize(("event", "notice"), [
    (_event("@p:s"), True), (CALL, True), (GROUP_CALL, True), (POLL, True),
    (MENTION, False), (INVITE, False), (CUSTOM_STATE, False)],
    ids=["message", "call", "group_call", "poll", "reaction", "invite", "state"])
async def test_only_messages_calls_and_polls_wait_for_a_notice(event, notice):
    q = _quiet(_Look("class_parents", ALWAYS_QUIET))
    q._creating["$e"] = event
    assert await q.filter("$e", {"@t:s": ["notify"], "@a:s": ["notify"]}, True) == {"@t:s": [], "@a:s": ["notify"]}
    assert ("$e" in q._pending) is notice


async def test_an_urgent_mark_on_an_invite_is_nobodys_word():
    # Synapse passes membership events to no spam check: a parent can fill an invite's content
    q = _quiet(_Look("dm", ALWAYS_QUIET))
    marked = _typed("m.room.member", {"membership": "invite", "org.parta.urgent": True}, state_key="@t:s")
    assert [u for u, *_ in await q.quiet_for(marked, ["@t:s"])] == ["@t:s"]
    # the administration's urgent message passes
    urgent = _event("@a:s", **{"org.parta.urgent": True})
    assert await _quiet(_Look("announcements", ALWAYS_QUIET, {"quiet_hours_silence": ["parent", "admin"]})
                        ).quiet_for(urgent, ["@t:s"]) == []
