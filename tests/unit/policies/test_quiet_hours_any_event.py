"""Quiet hours hold back any event of a pupil or a parent, whatever its type; only messages, calls
and polls earn the office-hours notice; the urgent mark counts on messages only (attacker20,
hole 3: a call invite or a mention rang the teacher at night)."""

from __future__ import annotations

import pytest

from policies import quiet_hours as qh
from policies.polls import POLL_START_TYPES


@pytest.mark.parametrize("event_type", [
    "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite", *POLL_START_TYPES,
    "org.matrix.msc4075.rtc.notification", "org.matrix.msc4075.call.notify", "m.rtc.notification",
])
def test_messages_calls_and_polls_earn_the_notice(event_type):
    assert qh.notice_due(event_type, is_state=False)


@pytest.mark.parametrize(("event_type", "is_state"), [
    ("m.reaction", False),               # a reaction (with or without m.mentions): held back silently
    ("m.poll.response", False),          # a poll answer
    ("m.call.hangup", False),
    ("m.room.redaction", False),
    ("m.room.member", True),             # an invite (.m.rule.invite_for_me)
    ("m.room.message", True),            # state of a message's type is no message
    ("org.example.custom", False),       # a custom type carrying m.mentions
])
def test_other_events_are_held_back_without_a_notice(event_type, is_state):
    assert not qh.notice_due(event_type, is_state)


def test_the_decision_to_hold_back_does_not_ask_the_type():
    # silences() takes the roles, the room and the settings: any event type of a parent is held back
    assert qh.silences("teacher", "parent", "dm", None, urgent=False)
    assert qh.silences("teacher", "student", "class_chat", None, urgent=False)
    assert not qh.silences("teacher", "parent", "dm", None, urgent=True)


def test_the_urgent_mark_counts_on_messages_only():
    mark = {qh.URGENT_KEY: True}
    assert qh.is_urgent(mark, is_state=False)
    assert qh.is_urgent({"msgtype": "m.text", **mark}, is_state=False)
    # an invite's content is the inviter's (Synapse passes membership to no spam check): never urgent
    assert not qh.is_urgent({"membership": "invite", **mark}, is_state=True)
    assert not qh.is_urgent({qh.URGENT_KEY: "true"}, is_state=False)
    assert not qh.is_urgent({qh.URGENT_KEY: 1}, is_state=False)
    assert not qh.is_urgent({}, is_state=False) and not qh.is_urgent(None, is_state=False)
