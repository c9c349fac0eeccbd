"""The journal bridge end to end: a real Synapse with Parta, the real appservice process
(``python -m bridge``), real journal files read by the real adapters, real clients reading.

The session's bridge (started by ``parta run`` with no sources) is replaced for this module by
one whose config lists a OneRoster gradebook drop folder and an iCalendar timetable of the
module's own school; the journal files are written by ``bridge.sources.write`` from the
specifications' shapes. Readings are triggered with the bridge's ``POST /_parta/journal/poll``
so that every step is deterministic. What is proven (issue 10's "Done when"): a teacher's
homework reaches the class chat (from the journal and with ``!дз``); a grade reaches only that
pupil's diary, read by the pupil and the guardians and by no other family; a changed grade edits
its message; a restart posts nothing again; a cancelled lesson is announced; a lesson's reminder
carries its call link.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from ruamel.yaml import YAML

from policies.templates import RoomRef, default_templates

from bridge.model import Lesson, LessonStatus, LineItem, Result, ScoreStatus
from bridge.sources.write import write_gradebook, write_timetable
from spaces_provisioner.cli.application_file import read_application_data
from spaces_provisioner.install.journal_bridge import as_token, bridge_config_path, start_bridge
from spaces_provisioner.install.processes import Service, _spawn

from ..helpers import EXAMPLE_APPLICATION, User, api, eventually, q
from ..processes import free_port
from ..schools import attack_cast, attack_school, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"
MSK = ZoneInfo("Europe/Moscow")
ITEM = "org.parta.journal.item"
_n = itertools.count(1)


class Bridge:
    """The module's bridge process: its config, readings on demand, restarts."""

    def __init__(self, root: Path, config: Path, log: Path, port: int, token: str):
        self.root, self.config, self.log, self.port, self.token = root, config, log, port, token
        self.service: Service | None = None

    def start(self) -> None:
        self.service = _spawn("journal bridge (test)", [__import__("sys").executable, "-m", "bridge", "-c",
                                                        str(self.config)], self.log,
                              f"http://127.0.0.1:{self.port}/_parta/journal/health")
        self.service.wait_healthy(60)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    async def poll(self) -> dict:
        async with aiohttp.ClientSession() as s, s.post(
                f"http://127.0.0.1:{self.port}/_parta/journal/poll",
                headers={"Authorization": f"Bearer {self.token}"}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


@dataclass
class World:
    org: str
    rooms: dict[str, str]
    admin: User
    teacher: User
    student: User
    classmate: User
    parent: User
    parent3: User
    journal: Path
    bridge: Bridge


def class_title() -> str:
    return attack_cast().class_title


def homework(due: date, **kw) -> LineItem:
    return LineItem(**{**dict(source="gb", item_id="li-1", class_id=attack_cast().class_id, title="Упражнение 12",
                              description="Стр. 40, письменно", subject="Русский язык", due=due), **kw})


def grade(student: str, score: float | None, **kw) -> Result:
    return Result(**{**dict(source="gb", item_id=f"res-{student}", line_item_id="li-1", student_id=student,
                            class_id=attack_cast().class_id, status=ScoreStatus.FULLY_GRADED, score=score,
                            comment="Хорошая работа", score_date=date.today()), **kw})


def lesson(item: str, start: datetime, **kw) -> Lesson:
    return Lesson(**{**dict(source="tt", item_id=item, class_title=class_title(), start=start,
                            end=start + timedelta(minutes=45), subject="Физика", teacher="Орлова А. Б.",
                            location="204"), **kw})


@pytest.fixture(scope="module")
async def w(hs, services, tmp_path_factory):
    c = attack_cast()
    settings = {**(read_application_data(EXAMPLE_APPLICATION).get("settings") or {}), "journal_bridge": True}
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("jb-roster")), settings=settings)
    org = a["org"]
    refs = {k: RoomRef(org, k, c.class_id) for k in ("class_chat", "class_announcements", "class_parents")}
    refs["status"] = RoomRef(org, "journal_status")
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    people = dict(admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
                  teacher=await hs.person(org, c.teacher, confirmed=True), student=await hs.person(org, c.student),
                  classmate=await hs.person(org, c.classmate), parent=await hs.person(org, c.parent),
                  parent3=await hs.person(org, c.parent3))
    journal = tmp_path_factory.mktemp("journal")
    root = hs.settings.root
    y = YAML()
    config = y.load(bridge_config_path(root).read_text(encoding="utf-8"))
    config = copy.deepcopy(config)
    config["sources"] = [
        {"name": "gb", "type": "oneroster_csv", "org": org, "path": str(journal / "gradebook")},
        {"name": "tt", "type": "ical", "org": org, "path": str(journal / "timetable.ics")},
        # a subscribed feed whose server is down (nothing listens on the port)
        {"name": "feed-down", "type": "ical", "org": org, "class_title": class_title(),
         "url": f"http://127.0.0.1:{free_port()}/private-0123456789abcdef/5a.ics?token=SECRET"},
    ]
    config["journal"]["poll_interval"] = 3600        # readings only when the test asks
    config["journal"]["absent_polls_to_cancel"] = 2
    config["journal"]["reminder_minutes"] = 15
    config["journal"]["failure_notice_after"] = 0     # tell the administrators at the first failure
    # no daily digest here: from the digest hour on (18:00 in the school's zone) it edits the diaries too, and
    # these tests count a diary's edits whatever the time of day; digests are tested with given times in tests/unit
    config["journal"]["digest_hour"] = 24
    config_path = journal / "journal-bridge.yaml"
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(config, f)
    write_gradebook(journal / "gradebook", [], [])
    write_timetable(journal / "timetable.ics", [])
    # the session's bridge gives way to this one (same registration, same port)
    session_bridge = next(s for s in services if s.name == "journal bridge")
    session_bridge.stop()
    bridge = Bridge(root, config_path, root / "logs" / "journal-bridge-test.log", int(config["appservice"]["port"]),
                    as_token(root) or "")
    bridge.start()
    # the first readings (of the empty journal written above) end before any test writes its own: a test's
    # file must never be taken by the bridge's startup reading instead of the test's own poll
    await bridge.poll()
    try:
        yield World(org=org, rooms=rooms, journal=journal, bridge=bridge, **people)
    finally:
        bridge.stop()
        restarted = start_bridge(root, root / "logs")
        assert restarted is not None
        restarted.wait_healthy(60)
        services[services.index(session_bridge)] = restarted


async def messages(u: User, room: str) -> list[dict]:
    """The room's messages as ``u`` reads them (newest last); raises on a refusal."""
    r = await u.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "100"})
    return [e for e in reversed(r["chunk"]) if e["type"] == "m.room.message"]


async def diary_of(hs, w: World, person_id: str, group: str = "students") -> str:
    """A pupil's diary (``group="teachers"``: a teacher's journal room) as the operator's directory names it."""
    code, body = await api(hs.settings.operator_token, "GET", f"/organizations/{w.org}/journal", None,
                           hs.settings.provisioning_url)
    assert code == 200, body
    room = body[group][person_id]["diary"]
    assert room, body[group][person_id]
    return room


async def test_homework_and_grades_reach_the_right_rooms(hs, w):
    c = attack_cast()
    student3 = attack_school().pupil_by_id()[c.student3]
    write_gradebook(w.journal / "gradebook", [homework(date.today() + timedelta(days=1))],
                    [grade(c.student, 4), grade(c.classmate, 5),
                     grade(student3.source_id, None, status=ScoreStatus.NOT_SUBMITTED, missing=True)])
    summary = await w.bridge.poll()
    gb = next(s for s in summary["sources"] if s["source"] == "gb")
    assert gb["error"] is None and gb["posted"] >= 4, summary
    # homework in the class chat, read by a pupil of the class, with the structured record
    chat = await messages(w.student, w.rooms["class_chat"])
    hw = [e for e in chat if e["content"].get(ITEM, {}).get("kind") == "line_item"]
    assert len(hw) == 1 and "Упражнение 12" in hw[0]["content"]["body"]
    assert hw[0]["sender"] == hs.settings.journal_bridge_user_id
    # no grade ever in a group room
    for key in ("class_chat", "class_announcements", "class_parents"):
        for e in await messages(w.teacher, w.rooms[key]):
            assert e["content"].get(ITEM, {}).get("kind") != "result", (key, e["content"])
    # the grade in the pupil's diary, read by the pupil and the guardian
    diary = await diary_of(hs, w, c.student)
    for u in (w.student, w.parent):
        got = [e for e in await messages(u, diary) if e["content"].get(ITEM, {}).get("kind") == "result"]
        assert len(got) == 1 and "Оценка · Русский язык: 4" in got[0]["content"]["body"], u.user_id
        assert "Хорошая работа" in got[0]["content"]["body"]
    # ... and by no other family: the classmate, another pupil's parent (not members, cannot read or join)
    for u in (w.classmate, w.parent3):
        code, body = await u.attempt("GET", f"{V}/rooms/{q(diary)}/messages", query={"dir": "b"})
        assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
        code, body = await u.attempt("POST", f"{V}/join/{q(diary)}", {})
        assert code == 403 and body.get("org.parta.reason") == "diary_family_only", body
    # the classmate's own diary has only the classmate's grade
    mine = await diary_of(hs, w, c.classmate)
    got = [e["content"]["body"] for e in await messages(w.classmate, mine)]
    assert any("Русский язык: 5" in b for b in got) and not any(": 4" in b for b in got)
    # who has not handed in: the teacher alone, in the teacher's journal room
    journal = await diary_of(hs, w, c.teacher, "teachers")
    got = [e["content"]["body"] for e in await messages(w.teacher, journal)]
    assert len(got) == 1 and "Не сдали «Упражнение 12»" in got[0] and student3.name.family_name in got[0], got
    for u in (w.student, w.parent):
        code, body = await u.attempt("POST", f"{V}/join/{q(journal)}", {})
        assert code == 403 and body.get("org.parta.reason") == "diary_family_only", body


async def test_a_changed_grade_edits_its_message(hs, w):
    c = attack_cast()
    diary = await diary_of(hs, w, c.student)
    before = await messages(w.parent, diary)
    original = next(e for e in before if e["content"].get(ITEM, {}).get("kind") == "result")
    write_gradebook(w.journal / "gradebook", [homework(date.today() + timedelta(days=1))],
                    [grade(c.student, 3, comment="Есть ошибки"), grade(c.classmate, 5)])
    await w.bridge.poll()
    after = await messages(w.parent, diary)
    new = after[len(before):]
    edits = [e for e in new if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"]
    assert len(edits) == 1 and edits[0]["content"]["m.relates_to"]["event_id"] == original["event_id"]
    assert "4 → 3" in edits[0]["content"]["m.new_content"]["body"]
    assert "Есть ошибки" in edits[0]["content"]["m.new_content"]["body"]
    # a lowered grade is material: one notification of its own
    notes = [e for e in new if "m.relates_to" not in e["content"]]
    assert len(notes) == 1 and "снижена" in notes[0]["content"]["body"]


async def test_a_restart_or_a_repeated_reading_posts_nothing_again(hs, w):
    c = attack_cast()
    rooms = [w.rooms["class_chat"], await diary_of(hs, w, c.student)]
    counts = [len(await messages(w.teacher if r == w.rooms["class_chat"] else w.parent, r)) for r in rooms]
    await w.bridge.poll()
    w.bridge.stop()
    w.bridge.start()
    summary = await w.bridge.poll()
    assert all(s["posted"] == s["edited"] == 0 for s in summary["sources"]), summary
    (w.journal / "gradebook" / "results.csv").write_text(
        (w.journal / "gradebook" / "results.csv").read_text(encoding="utf-8"), encoding="utf-8")
    await w.bridge.poll()
    assert [len(await messages(w.teacher if r == w.rooms["class_chat"] else w.parent, r)) for r in rooms] == counts


async def test_timetable_changes_and_reminders_reach_class_announcements(hs, w):
    now = datetime.now(MSK).replace(second=0, microsecond=0)
    soon = lesson("lesson-soon", now + timedelta(minutes=10), online_url="https://call.school.test/5a-physics")
    tomorrow = lesson("lesson-tomorrow", now + timedelta(days=1), subject="Химия")
    write_timetable(w.journal / "timetable.ics", [soon, tomorrow])
    await w.bridge.poll()
    ann = w.rooms["class_announcements"]

    async def bodies():
        return [e["content"]["body"] for e in await messages(w.student, ann)]

    got = await bodies()
    reminders = [b for b in got if "Физика" in b and "мин" in b]
    assert len(reminders) == 1 and "https://call.school.test/5a-physics" in reminders[0], got
    assert not any("Химия" in b for b in got)  # the timetable itself is not news
    write_timetable(w.journal / "timetable.ics",
                    [soon, lesson("lesson-tomorrow", tomorrow.start, subject="Химия", sequence=1,
                                  status=LessonStatus.CANCELLED)])
    await w.bridge.poll()
    await w.bridge.poll()
    got = await bodies()
    assert len([b for b in got if "Урок отменён: Химия" in b]) == 1, got
    assert len([b for b in got if "Физика" in b and "мин" in b]) == 1, got  # reminded once


async def test_teachers_post_homework_from_the_chat(hs, w):
    chat = w.rooms["class_chat"]
    await w.teacher.put(f"{V}/rooms/{q(chat)}/send/m.room.message/dz{next(_n)}",
                        {"msgtype": "m.text", "body": "!дз Выучить стихотворение до 15.12"})

    async def posted():
        return [e for e in await messages(w.student, chat)
                if e["sender"] == hs.settings.journal_bridge_user_id and "Выучить стихотворение" in
                e["content"].get("body", "")]

    got = await eventually(posted, 30)
    assert len(got) == 1 and "15 декабря" in got[0]["content"]["body"]
    assert got[0]["content"][ITEM]["teacher_id"] == attack_cast().teacher
    # a pupil's attempt: refused with a reason, nothing recorded
    await w.student.put(f"{V}/rooms/{q(chat)}/send/m.room.message/dz{next(_n)}",
                        {"msgtype": "m.text", "body": "!дз Ничего не задано"})

    async def refusal():
        return [e for e in await messages(w.student, chat) if "только учителя класса" in e["content"].get("body", "")]

    assert await eventually(refusal, 30)
    await asyncio.sleep(1)
    assert not [e for e in await messages(w.student, chat) if e["sender"] == hs.settings.journal_bridge_user_id
                and "Ничего не задано" in e["content"].get("body", "") and ITEM in e["content"]]


async def test_a_source_that_fails_is_told_once_to_the_administrators(hs, w):
    """The feed that is down: each reading fails; the administrators get one notice in the journal status
    room (without the feed's secrets), the health endpoint counts the failures, the others go on."""
    summaries = [await w.bridge.poll() for _ in range(2)]
    for summary in summaries:
        down = next(s for s in summary["sources"] if s["source"] == "feed-down")
        assert down["error"] and "SECRET" not in down["error"] and "0123456789abcdef" not in down["error"]
        assert all(s["error"] is None for s in summary["sources"] if s["source"] != "feed-down"), summary
    notices = [e["content"] for e in await messages(w.admin, w.rooms["status"])]
    told = [c for c in notices if "feed-down" in c["body"]]
    assert len(told) == 1 and told[0]["msgtype"] == "m.notice", notices
    assert "недоступен" in told[0]["body"] and "SECRET" not in told[0]["body"]
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{w.bridge.port}/_parta/journal/health") as r:
            health = await r.json()
        async with s.get(f"http://127.0.0.1:{w.bridge.port}/_parta/journal/health",
                         headers={"Authorization": f"Bearer {w.bridge.token}"}) as r:
            detail = await r.json()
    assert health["sources"]["feed-down"]["failures"] >= 2 and "last_error" not in health["sources"]["feed-down"]
    assert detail["sources"]["feed-down"]["last_error"] and health["sources"]["gb"]["failures"] == 0
    # a pupil cannot read the status room
    code, body = await w.student.attempt("GET", f"{V}/rooms/{q(w.rooms['status'])}/messages", query={"dir": "b"})
    assert code == 403, body
