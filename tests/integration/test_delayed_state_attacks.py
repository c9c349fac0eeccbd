"""Delayed events (MSC4140) meet the rules of the moment they are sent, not of their scheduling.

Synapse 1.163 asks the spam checker's ``user_may_send_state_event`` only in the REST servlet, when a
state event is scheduled (``PUT /rooms/{id}/state/{type}/{key}?org.matrix.msc4140.delay=``);
``DelayedEventsHandler._send_event`` later asks only ``check_event_for_spam``. Parta therefore lets a
person schedule no state event but their own call membership's leave (``synapse_module.hooks``
``_wrap_delayed_add``, ``Capabilities.may_delay_state``: what Element Call schedules so that a dead
client leaves the call), and its ``check_event_for_spam`` asks the state rules again for a delayed state
event when it is sent. Delayed messages (scheduled announcements) are judged by ``check_event_for_spam``
when they are sent: a teacher who lost the right to post before the time posts nothing.

The lesson started by a pupil alone through a delayed membership, sent after the teacher left, is
``test_round20_attacks.py::test_pupil_starts_a_lesson_later_through_a_delayed_call_membership``; a pupil's
delayed post into the class's announcements is ``test_scheduled_attacks.py``. The world:
``tests/integration/lessons_world.py`` (school A's class 5А).
"""

from __future__ import annotations

import json
import time

import pytest

from ..helpers import api, eventually, ok, q, refused
from .lessons_world import Lessons, build

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"
MSC4140 = "/_matrix/client/unstable/org.matrix.msc4140"
DELAY = {"org.matrix.msc4140.delay": "2000"}
CALL_MEMBER = "org.matrix.msc3401.call.member"
CALL = {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": "DEV", "foci_preferred": [],
        "expires": 3_600_000}


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Lessons:
    return await build(hs, tmp_path_factory)


def state_url(room: str, key: str) -> str:
    return f"{V}/rooms/{q(room)}/state/{q(CALL_MEMBER)}/{q(key)}"


async def membership(user, room: str, key: str) -> dict:
    code, body = await user.attempt("GET", state_url(room, key))
    return body if code == 200 else {}


async def test_pupil_schedules_her_call_membership_or_the_teachers_leave(w):
    """Attack: while the class teacher's lesson runs in the class chat, a pupil schedules her own call
    membership for later (it would arrive after the lesson, alone: a lesson started by a pupil) → 403
    ``delayed_state_leave_only``; or the teacher's leave (ending the teacher's lesson later) → 403
    ``call_member_not_own`` (``user_may_send_state_event``, which Synapse asks before it reads the delay).
    Legitimate twin: the pupil joins the running lesson now."""
    room = w.rooms["class_chat"]
    tkey, skey = f"_{w.teacher.user_id}_TDS", f"_{w.student.user_id}_DS"
    ok(await w.teacher.attempt("PUT", state_url(room, tkey), CALL))
    try:
        body = refused(await w.student.attempt("PUT", state_url(room, skey), CALL, query=DELAY),
                       "delayed_state_leave_only")
        assert "Отложить на потом можно только выход из звонка" in body["error"], body
        assert body["org.parta.messages"]["en"].startswith("Only leaving a call can be scheduled"), body
        # the servlet's own check comes first: the teacher's key is not hers, scheduled or not
        refused(await w.student.attempt("PUT", state_url(room, tkey), {}, query=DELAY), "call_member_not_own")
        own = ok(await w.student.attempt("GET", f"{MSC4140}/delayed_events"))["delayed_events"]
        assert not [d for d in own if d.get("type") == CALL_MEMBER], own  # nothing waits
        # the twin: joined now, while the lesson runs
        ok(await w.student.attempt("PUT", state_url(room, skey), CALL))
        assert (await membership(w.teacher, room, skey)).get("application") == "m.call"
        assert (await membership(w.teacher, room, tkey)).get("application") == "m.call"
    finally:
        for who, key in ((w.student, skey), (w.teacher, tkey)):
            await who.attempt("PUT", state_url(room, key), {})


async def test_administrator_schedules_a_room_setting_for_later(w):
    """Attack: the school's administrator, who may change the announcements' topic now, schedules a topic
    for later (room settings would be judged by the rules of their scheduling, whoever she is by then)
    → 403 ``delayed_state_leave_only``. Legitimate twin: the topic, sent now."""
    room = w.rooms["announcements"]
    url = f"{V}/rooms/{q(room)}/state/m.room.topic/"
    topic = ok(await w.admin.attempt("GET", url)).get("topic", "")
    refused(await w.admin.attempt("PUT", url, {"topic": "Отложенная тема"}, query=DELAY), "delayed_state_leave_only")
    ok(await w.admin.attempt("PUT", url, {"topic": topic}))


async def test_delayed_leaves_end_the_lesson_when_the_clients_are_gone(w):
    """Element Call's delayed leave (MSC4140, matrix-js-sdk ``MembershipManager``): each client schedules
    its own empty membership (or one with only ``leave_reason``), restarts it while alive, and the
    homeserver sends it when the client is gone. The teacher's and the pupil's arrive, the pupil's after
    the lesson ended too (a leave starts nothing), and end both memberships."""
    room = w.rooms["class_chat"]
    tkey, skey = f"_{w.teacher.user_id}_TLV", f"_{w.student.user_id}_LV"
    ok(await w.teacher.attempt("PUT", state_url(room, tkey), CALL))
    ok(await w.student.attempt("PUT", state_url(room, skey), CALL))
    try:
        teacher = ok(await w.teacher.attempt("PUT", state_url(room, tkey), {}, query=DELAY))["delay_id"]
        pupil = ok(await w.student.attempt("PUT", state_url(room, skey), {"leave_reason": "lost_connection"},
                                           query={"org.matrix.msc4140.delay": "4000"}))["delay_id"]
        # the heart-beat of a live client
        ok(await w.teacher.attempt("POST", f"{MSC4140}/delayed_events/{q(teacher)}/restart", {}))

        async def both_left() -> bool:
            t, s = await membership(w.teacher, room, tkey), await membership(w.teacher, room, skey)
            return not t.get("application") and not s.get("application")

        assert await eventually(both_left, timeout=20), (await membership(w.teacher, room, tkey),
                                                         await membership(w.teacher, room, skey))
        assert await membership(w.teacher, room, skey) == {"leave_reason": "lost_connection"}
        for who, delay_id in ((w.teacher, teacher), (w.student, pupil)):
            own = ok(await who.attempt("GET", f"{MSC4140}/delayed_events"))["delayed_events"]
            assert delay_id not in {d["delay_id"] for d in own}  # sent, not waiting
    finally:
        for who, key in ((w.student, skey), (w.teacher, tkey)):
            await who.attempt("PUT", state_url(room, key), {})


async def bodies(user, room: str) -> set[str]:
    code, body = await user.attempt("GET", f"{V}/rooms/{q(room)}/messages", query={
        "dir": "b", "limit": "50", "filter": json.dumps({"types": ["m.room.message"]})})
    assert code == 200, body
    return {str(e["content"].get("body")) for e in body["chunk"]}


async def settings(hs, w: Lessons, value: bool) -> None:
    ok(await api(w.admin, "PATCH", f"/organizations/{q(w.org)}/settings", {"teachers_may_post_announcements": value},
                 base=hs.settings.provisioning_url))


async def test_teacher_loses_the_right_to_post_before_her_scheduled_announcement_is_sent(w, hs):
    """Attack: while the school lets teachers post announcements (``teachers_may_post_announcements``), a
    teacher schedules one in the school's «Объявления» through Parta's API; the administrator then turns
    the setting off, and the announcement is sent (``POST /delayed_events/{id}/send``, as at its time) →
    the module's ``check_event_for_spam`` (``may_post``, asked before Synapse's power levels) refuses it
    when it is made: 403 ``announcements_read_only``, nothing reaches the room, nothing waits.
    Legitimate twin: with the setting on again, her next scheduled announcement is sent and arrives."""
    base = hs.settings.provisioning_url
    room = w.rooms["announcements"]
    await w.teacher.attempt("POST", f"{V}/join/{q(room)}", {})
    await settings(hs, w, True)
    try:
        text = f"Завтра уроки с 10:00 ({time.time_ns()})"
        s = ok(await api(w.teacher, "POST", "/scheduled-messages", {"room_id": room, "body": text,
                                                                    "delay_seconds": 3600}, base=base))
        await settings(hs, w, False)
        refused(await w.teacher.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/dsa{time.time_ns()}",
                                        {"msgtype": "m.text", "body": "сейчас"}), "announcements_read_only")
        refused(await w.teacher.attempt("POST", f"{MSC4140}/delayed_events/{q(s['id'])}/send", {}),
                "announcements_read_only")
        own = ok(await w.teacher.attempt("GET", f"{MSC4140}/delayed_events"))["delayed_events"]
        assert s["id"] not in {d["delay_id"] for d in own}  # dropped, not waiting
        assert text not in await bodies(w.parent, room)
        # the twin: the setting on again
        await settings(hs, w, True)
        twin = text + " (снова)"
        s = ok(await api(w.teacher, "POST", "/scheduled-messages", {"room_id": room, "body": twin,
                                                                    "delay_seconds": 3600}, base=base))
        ok(await w.teacher.attempt("POST", f"{MSC4140}/delayed_events/{q(s['id'])}/send", {}))
        assert twin in await bodies(w.parent, room) and text not in await bodies(w.parent, room)
    finally:
        await settings(hs, w, False)
