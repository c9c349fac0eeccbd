"""Delayed state events (MSC4140) meet the state rules of the moment they are sent.

Synapse 1.163 asks the spam checker's ``user_may_send_state_event`` only in the REST servlet, when a
state event is scheduled (``?org.matrix.msc4140.delay=``); ``DelayedEventsHandler._send_event`` later
asks only ``check_event_for_spam``. Two guards, tested here without Synapse running (the attack itself
against a real Synapse: tests/integration/test_delayed_state_attacks.py and
test_round20_attacks.py::test_pupil_starts_a_lesson_later_through_a_delayed_call_membership):

- ``hooks._wrap_delayed_add``: only one's own call-membership leave is scheduled
  (``Capabilities.may_delay_state``), the delayed leave Element Call keeps; messages pass.
- ``PartaModule.check_event_for_spam``: a state event carrying ``internal_metadata.delay_id`` is judged
  by ``user_may_send_state_event`` again; an immediate one is not judged twice.
"""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import AsyncMock, Mock

import pytest
from synapse.api.errors import SynapseError
from synapse.module_api import NOT_SPAM, ModuleApi
from synapse.synapse_rust.events import EventInternalMetadata

from policies.capabilities import Account, Decision, Membership, RoomInfo, default_capabilities
from policies.model import Role

from synapse_module import PartaModule, hooks
from synapse_module.module import Refusal

BOT = "@parta:s"
ORG = "school-7"
PUPIL = Account("@p:s", {ORG: Membership(org=ORG, role=Role.STUDENT, classes=frozenset({"5a"}))})
TEACHER = Account("@t:s", {ORG: Membership(org=ORG, role=Role.TEACHER, confirmed=True, classes=frozenset({"5a"}))})
CALL_MEMBER = "org.matrix.msc3401.call.member"
CALL = {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": "DEV", "foci_preferred": [],
        "expires": 3_600_000}
CLASS_CHAT = RoomInfo(kind="class_chat", org=ORG, class_id="5a", class_title="5А", org_name="Школа № 7")


class Denied(SynapseError):
    def __init__(self, d: Decision):
        super().__init__(403, d.reason)
        self.reason = d.reason


def requester(user_id: str):
    return SimpleNamespace(user=SimpleNamespace(to_string=lambda: user_id))


def wrapped_add():
    scheduled: list[dict] = []

    async def original(requester, *, room_id, event_type, state_key, origin_server_ts, content, delay,
                       sticky_duration_ms):
        scheduled.append({"type": event_type, "state_key": state_key, "content": content})
        return "delay-1"

    return hooks._wrap_delayed_add(original, BOT, default_capabilities(), Denied), scheduled


async def schedule(add, user_id: str, event_type: str, state_key: str | None, content: dict) -> str:
    return await add(requester(user_id), room_id="!r:s", event_type=event_type, state_key=state_key,
                     origin_server_ts=None, content=content, delay=3000, sticky_duration_ms=None)


@pytest.mark.parametrize("event_type,state_key,content", [
    (CALL_MEMBER, "_@p:s_DEV", CALL),                      # a membership: it would arrive after the lesson
    ("m.call.member", "@p:s", {"memberships": [CALL]}),    # the same in MSC3401's form
    (CALL_MEMBER, "_@t:s_T1", {}),                         # someone else's leave
    ("m.room.topic", "", {"topic": "Уроков не будет"}),    # any other state
    ("m.room.member", "@p:s", {"membership": "leave"}),    # membership through the state endpoint
])
async def test_a_person_schedules_no_state_but_their_own_call_leave(event_type, state_key, content):
    add, scheduled = wrapped_add()
    with pytest.raises(Denied) as e:
        await schedule(add, PUPIL.user_id, event_type, state_key, content)
    assert e.value.reason == "delayed_state_leave_only"
    assert scheduled == []


@pytest.mark.parametrize("content", [{}, {"leave_reason": "lost_connection"}, {"memberships": []}])
async def test_ones_own_delayed_call_leave_and_delayed_messages_are_scheduled(content):
    add, scheduled = wrapped_add()
    assert await schedule(add, TEACHER.user_id, CALL_MEMBER, "_@t:s_T1", content) == "delay-1"
    assert await schedule(add, PUPIL.user_id, "m.room.message", None, {"msgtype": "m.text", "body": "hi"}) \
        == "delay-1"  # scheduled messages: check_event_for_spam judges them when they are sent
    assert await schedule(add, BOT, "m.room.topic", "", {"topic": "x"}) == "delay-1"
    assert [s["type"] for s in scheduled] == [CALL_MEMBER, "m.room.message", "m.room.topic"]


def module(running: set[str]) -> PartaModule:
    api = Mock(spec=ModuleApi)
    m = PartaModule(PartaModule.parse_config({"bot_user_id": BOT, "registry_alias": "#parta.registry:s"}), api)
    people = {a.user_id: a for a in (PUPIL, TEACHER)}
    m.look = Mock(room=AsyncMock(return_value=CLASS_CHAT), person=AsyncMock(side_effect=lambda u: people[u]),
                  settings=AsyncMock(return_value={}), org=AsyncMock(return_value={}),
                  live_call_members=AsyncMock(return_value=running), encrypted=AsyncMock(return_value=False))
    return m


def state_event(sender: str, state_key: str, content: dict, delay_id: str | None):
    meta = EventInternalMetadata({})
    if delay_id is not None:
        meta.delay_id = delay_id
    return SimpleNamespace(sender=sender, room_id="!chat:s", type=CALL_MEMBER, state_key=state_key, content=content,
                           redacts=None, internal_metadata=meta, is_state=lambda: True)


async def test_a_delayed_membership_sent_after_the_lesson_ended_is_refused():
    m = module(running=set())  # the teacher's lesson ended before the pupil's membership is sent
    with pytest.raises(Refusal) as e:
        await m.check_event_for_spam(state_event(PUPIL.user_id, "_@p:s_DEV", CALL, delay_id="syd_abc"))
    assert e.value.error_dict(None)["org.parta.reason"] == "may_not_start_call"


async def test_a_delayed_membership_sent_while_the_lesson_runs_and_a_delayed_leave_pass():
    assert await module(running={TEACHER.user_id}).check_event_for_spam(
        state_event(PUPIL.user_id, "_@p:s_DEV", CALL, delay_id="syd_abc")) is NOT_SPAM
    assert await module(running=set()).check_event_for_spam(
        state_event(TEACHER.user_id, "_@t:s_T1", {}, delay_id="syd_def")) is NOT_SPAM


async def test_an_immediate_state_event_is_not_judged_twice():
    m = module(running=set())
    m.user_may_send_state_event = AsyncMock(return_value=NOT_SPAM)  # type: ignore[method-assign]
    # judged by the REST servlet a moment ago (user_may_send_state_event), not again here
    assert await m.check_event_for_spam(state_event(PUPIL.user_id, "_@p:s_DEV", CALL, delay_id=None)) is NOT_SPAM
    m.user_may_send_state_event.assert_not_awaited()
    await m.check_event_for_spam(state_event(PUPIL.user_id, "_@p:s_DEV", CALL, delay_id="syd_abc"))
    m.user_may_send_state_event.assert_awaited_once_with(PUPIL.user_id, "!chat:s", CALL_MEMBER, "_@p:s_DEV", CALL)
