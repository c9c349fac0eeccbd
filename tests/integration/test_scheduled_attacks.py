"""Issue 12's attacks on scheduled messages (``/api/v1/scheduled-messages``, MSC4140 delayed events):
each is a real request refused with an errcode and Parta's reason, next to the legitimate request that
still succeeds (docs/security.md lists them; the world is ``lessons_world``: school A's class 5А, school B).

When is a pupil's post into a read-only room refused? Synapse accepts any delayed event whose shape is
right (``handlers/delayed_events.py`` checks no membership, power or module rule when it is scheduled)
and refuses it only when it is sent, then logs the failure and drops it: the pupil never learns. So
Parta's API refuses at scheduling, with the reason the module gives at sending, and the raw path is
shown to deliver nothing.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from ..helpers import api, ok, q, refused
from .lessons_world import Lessons, build

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"
MSC4140 = "/_matrix/client/unstable/org.matrix.msc4140"


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Lessons:
    return await build(hs, tmp_path_factory)


async def schedule(hs, who, room: str, text: str, seconds: int = 3600) -> tuple[int, dict]:
    return await api(who, "POST", "/scheduled-messages", {"room_id": room, "body": text, "delay_seconds": seconds},
                     base=hs.settings.provisioning_url)


async def bodies(user, room: str) -> set[str]:
    code, body = await user.attempt("GET", f"{V}/rooms/{q(room)}/messages", query={
        "dir": "b", "limit": "50", "filter": json.dumps({"types": ["m.room.message"]})})
    assert code == 200, body
    return {str(e["content"].get("body")) for e in body["chunk"]}


async def test_pupil_schedules_into_class_announcements(w, hs):
    room = w.rooms["class_announcements"]
    body = refused(await schedule(hs, w.student, room, "Завтра уроков не будет"), "announcements_read_only")
    assert "никогда не будет отправлено" in body["error"] and "Писать здесь могут только" in body["error"]
    refused(await schedule(hs, w.parent, w.rooms["announcements"], "Собрание отменяется"), "announcements_read_only")
    # the class teacher may
    s = ok(await schedule(hs, w.teacher, room, "Завтра уроков не будет"))
    ok(await api(w.teacher, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url))


async def test_pupil_schedules_past_parta_with_msc4140(w, hs):
    """The raw MSC4140 path: Synapse accepts the pupil's delayed post, then the module refuses it when
    it is sent and Synapse drops it; nothing reaches the room. The teacher's arrives."""
    room = w.rooms["class_announcements"]
    text = f"Завтра уроков не будет ({time.time_ns()})"
    code, body = await w.student.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/raw{time.time_ns()}",
                                         {"msgtype": "m.text", "body": text},
                                         query={"org.matrix.msc4140.delay": "1000"})
    assert code == 200 and body["delay_id"], body  # accepted at scheduling: Synapse checks no rule here
    ok(await schedule(hs, w.teacher, room, text + " (учитель)", seconds=1))
    for _ in range(60):
        seen = await bodies(w.parent, room)
        if text + " (учитель)" in seen:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1)
    seen = await bodies(w.parent, room)
    assert text + " (учитель)" in seen and text not in seen
    own = ok(await w.student.attempt("GET", f"{MSC4140}/delayed_events"))["delayed_events"]
    assert body["delay_id"] not in {d["delay_id"] for d in own}  # dropped, not waiting


async def test_someone_cancels_anothers_scheduled_message(w, hs):
    room = w.rooms["class_announcements"]
    s = ok(await schedule(hs, w.teacher, room, "Экскурсия переносится"))
    for who in (w.other_teacher, w.admin, w.student, w.student_b):
        refused(await api(who, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url),
                "scheduled_not_found", 404, "M_NOT_FOUND")
        listed = ok(await api(who, "GET", "/scheduled-messages", base=hs.settings.provisioning_url))["scheduled"]
        assert s["id"] not in {m["id"] for m in listed}
        code, _ = await who.attempt("GET", f"{MSC4140}/delayed_events/{q(s['id'])}")
        assert code == 404  # the homeserver shows a delay id to its owner alone
    mine = ok(await api(w.teacher, "GET", "/scheduled-messages", base=hs.settings.provisioning_url))["scheduled"]
    assert s["id"] in {m["id"] for m in mine}
    ok(await api(w.teacher, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url))


async def test_outsider_schedules_into_a_school_room(w, hs):
    room = w.rooms["class_chat"]
    refused(await schedule(hs, w.student_b, room, "Привет из другой школы"), "scheduled_not_member")
    refused(await schedule(hs, w.other_class, room, "Привет из другого класса"), "scheduled_not_member")
    s = ok(await schedule(hs, w.classmate, room, "Привет, класс"))
    ok(await api(w.classmate, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url))


async def test_operator_schedules_in_nobodys_name(w, hs):
    room = w.rooms["announcements"]
    refused(await schedule(hs, hs.settings.operator_token, room, "Сообщение от оператора"), "scheduled_needs_person")
    s = ok(await schedule(hs, w.admin, room, "Сообщение администрации"))
    ok(await api(w.admin, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url))


async def test_schedules_beyond_the_longest_delay(w, hs):
    room = w.rooms["class_announcements"]
    body = refused(await schedule(hs, w.teacher, room, "Через два дня", seconds=2 * 24 * 3600), "scheduled_too_far",
                   400, "M_INVALID_PARAM")
    assert "24" in body["error"]
    s = ok(await schedule(hs, w.teacher, room, "Через 23 часа", seconds=23 * 3600))
    ok(await api(w.teacher, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url))
