"""Issue 12, scheduled announcements: a teacher's and the administration's messages sent later in
their own name (MSC4140 delayed events), through ``/api/v1/scheduled-messages`` with their own Matrix
access token, against a real Synapse with Parta.

- ``parta init`` turns delayed events on (``max_event_delay_duration: 24h``).
- A class teacher's announcement scheduled a few seconds ahead is listed until then, is not in the
  room before its time, and arrives at its time as the teacher's own message (the parent reads it);
  the scheduling is in the audit log.
- A cancelled message is gone from the list and from the homeserver's delayed events.
- ``send_at`` as a time of day is its next occurrence in the school's time zone.

The refusals (a pupil into a read-only room, someone else's cancellation...) are in
``test_scheduled_attacks.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from ruamel.yaml import YAML

from spaces_provisioner.db import schema as st
from spaces_provisioner.ops.scheduled import digest

from ..helpers import api, eventually, ok, q
from .lessons_world import Lessons, build

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"
MSC4140 = "/_matrix/client/unstable/org.matrix.msc4140"


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Lessons:
    return await build(hs, tmp_path_factory)


async def messages(user, room: str) -> list[dict]:
    """The room's latest text messages as ``user`` reads them (``/messages``, newest first)."""
    only_messages = json.dumps({"types": ["m.room.message"]})
    body = ok(await user.attempt("GET", f"{V}/rooms/{q(room)}/messages",
                                 query={"dir": "b", "limit": "30", "filter": only_messages}))
    return body["chunk"]


def test_init_enables_delayed_events(installation):
    """MSC4140 is on (Synapse: ``msc4140_enabled`` = a positive ``max_event_delay_duration`` and
    ``msc4140_max_delayed_events_per_user``, 100 by default) and allows a day."""
    data = YAML().load(installation.homeserver_config.read_text(encoding="utf-8"))
    assert data["max_event_delay_duration"] == "24h"
    assert "msc4140_max_delayed_events_per_user" not in (data.get("experimental_features") or {})


async def test_scheduled_announcement_arrives_at_its_time(w, hs):
    room = w.rooms["class_announcements"]
    text = f"Завтра урок физкультуры на улице, возьмите форму ({time.time_ns()})"
    before = time.time()
    s = ok(await api(w.teacher, "POST", "/scheduled-messages", {"room_id": room, "body": text, "delay_seconds": 4},
                     base=hs.settings.provisioning_url))
    assert s["room_id"] == room and s["id"].startswith("syd_") and 3000 <= s["delay_ms"] <= 4000
    send_at = datetime.fromisoformat(s["send_at"]).timestamp()
    assert s["send_at_local"].endswith("+03:00")  # the school's zone (Europe/Moscow)
    # listed, soonest first, with the room's name; not in the room yet
    listed = ok(await api(w.teacher, "GET", "/scheduled-messages", base=hs.settings.provisioning_url))["scheduled"]
    mine = [m for m in listed if m["id"] == s["id"]]
    assert mine and mine[0]["body"] == text and mine[0]["room_id"] == room and mine[0]["room_name"]
    assert abs(datetime.fromisoformat(mine[0]["send_at"]).timestamp() - send_at) <= 1
    assert not [m for m in await messages(w.parent, room) if m["content"].get("body") == text]

    async def arrived():
        return [m for m in await messages(w.parent, room) if m["content"].get("body") == text]

    got = await eventually(arrived, timeout=30)
    assert got, "the scheduled announcement did not arrive"
    ev = got[0]
    assert ev["sender"] == w.teacher.user_id  # the teacher's own message, not the bot's
    lateness = ev["origin_server_ts"] / 1000 - send_at
    assert -1.0 <= lateness <= 10.0, lateness
    print(f"scheduled 4 s ahead: arrived {ev['origin_server_ts'] / 1000 - before:.2f} s after the request, "
          f"{lateness:+.2f} s after its send time")
    # gone from the list once sent
    listed = ok(await api(w.teacher, "GET", "/scheduled-messages", base=hs.settings.provisioning_url))["scheduled"]
    assert s["id"] not in {m["id"] for m in listed}
    # audited: who, which room, when it goes; the delay id only as a digest
    store = st.Store(hs.settings.database)
    try:
        with store.begin() as tx:
            lines = tx.execute(sa.select(st.audit_log).where(st.audit_log.c.action == "announcement.schedule"))
            rows = [r for r in lines if json.loads(r.detail).get("ref") == digest(s["id"])]
    finally:
        store.close()
    assert len(rows) == 1 and rows[0].actor == w.teacher.user_id
    detail = json.loads(rows[0].detail)
    assert detail["room"] == room and detail["org"] == w.org and detail["kind"] == "class_announcements"
    assert s["id"] not in rows[0].detail


async def test_administration_schedules_in_the_school_announcements(w, hs):
    room = w.rooms["announcements"]
    s = ok(await api(w.admin, "POST", "/scheduled-messages", {
        "room_id": room, "body": "Родительское собрание в четверг в 18:00", "send_at": "07:30",
        "formatted_body": "<b>Родительское собрание</b> в четверг в 18:00"}, base=hs.settings.provisioning_url))
    at = datetime.fromisoformat(s["send_at_local"])
    assert (at.hour, at.minute) == (7, 30) and at.utcoffset().total_seconds() == 3 * 3600
    now = datetime.now(ZoneInfo("Europe/Moscow"))
    assert 0 < (at - now).total_seconds() <= 24 * 3600
    ok(await api(w.admin, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url))


async def test_cancelled_message_is_gone(w, hs):
    room = w.rooms["class_chat"]
    s = ok(await api(w.teacher, "POST", "/scheduled-messages", {
        "room_id": room, "body": "Напоминание: контрольная в пятницу", "delay_seconds": 3600},
        base=hs.settings.provisioning_url))
    own = ok(await w.teacher.attempt("GET", f"{MSC4140}/delayed_events"))["delayed_events"]
    assert s["id"] in {d["delay_id"] for d in own}
    assert ok(await api(w.teacher, "DELETE", f"/scheduled-messages/{q(s['id'])}",
                        base=hs.settings.provisioning_url)) == {}
    listed = ok(await api(w.teacher, "GET", "/scheduled-messages", base=hs.settings.provisioning_url))["scheduled"]
    assert s["id"] not in {m["id"] for m in listed}
    own = ok(await w.teacher.attempt("GET", f"{MSC4140}/delayed_events"))["delayed_events"]
    assert s["id"] not in {d["delay_id"] for d in own}
    # a second cancellation finds nothing
    code, body = await api(w.teacher, "DELETE", f"/scheduled-messages/{q(s['id'])}", base=hs.settings.provisioning_url)
    assert code == 404 and body["org.parta.reason"] == "scheduled_not_found", body


async def test_pupil_schedules_in_the_class_chat(w, hs):
    """Scheduling is posting later: a pupil may schedule where the pupil may post (the class chat)."""
    room = w.rooms["class_chat"]
    text = f"Не забудьте учебники ({time.time_ns()})"
    s = ok(await api(w.student, "POST", "/scheduled-messages", {"room_id": room, "body": text, "delay_seconds": 1},
                     base=hs.settings.provisioning_url))
    await asyncio.sleep(0.5)

    async def arrived():
        return [m for m in await messages(w.classmate, room) if m["content"].get("body") == text]

    got = await eventually(arrived, timeout=30)
    assert got and got[0]["sender"] == w.student.user_id, s
