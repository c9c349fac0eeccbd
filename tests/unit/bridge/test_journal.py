"""The journal engine over its real database (SQLite through mautrix async_db), with the
homeserver and the provisioning service replaced by recorders (fast; the proof against a real
Synapse and the real appservice process is ``tests/integration/test_journal_bridge.py``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from mautrix.util.async_db import Database

from bridge.db import Store, upgrade_table
from bridge.directory import Directory
from bridge.journal import CommandHandler, DeliveryError, Journal, JournalSettings
from bridge.model import Lesson, LessonStatus, LineItem, Result, ScoreStatus, Snapshot, SourceError
from bridge.provisioning import ProvisioningError

MSK = ZoneInfo("Europe/Moscow")

DIRECTORY = {
    "org": "s1", "name": "Школа 1", "timezone": "Europe/Moscow", "language": "ru", "journal_bridge": True,
    "rooms": {"announcements": "!ann", "status": None},
    "classes": {"c5a": {"title": "5А", "rooms": {"class_chat": "!chat5a", "class_announcements": "!ann5a"},
                        "teachers": ["@teacher:hs"], "students": ["p1", "p2"]},
                "c6b": {"title": "6Б", "rooms": {"class_chat": "!chat6b", "class_announcements": "!ann6b"},
                        "teachers": ["@teacher2:hs"], "students": ["p3"]}},
    "students": {"p1": {"user_id": "@p1:hs", "name": "Иванов Иван", "classes": ["c5a"], "guardians": ["@g1:hs"],
                        "diary": None},
                 "p2": {"user_id": "@p2:hs", "name": "Петров Пётр", "classes": ["c5a"], "guardians": ["@g2:hs"],
                        "diary": "!diary-p2"},
                 "p3": {"user_id": None, "name": "Сидорова Анна", "classes": ["c6b"], "guardians": [],
                        "diary": None}},
    "teachers": {"t1": {"user_id": "@teacher:hs", "name": "Учитель", "classes": ["c5a"]},
                 "t2": {"user_id": "@teacher2:hs", "name": "Учитель 2", "classes": ["c6b"]}},
}


class Recorder:
    """The homeserver: every send recorded; a repeated transaction id gives the same event (like Synapse);
    rooms in ``refuse`` answer with an error."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []
        self.txns: dict[str, str] = {}
        self.refuse: set[str] = set()

    async def send(self, room_id: str, content: dict, txn_id: str) -> str:
        if room_id in self.refuse:
            raise DeliveryError("M_FORBIDDEN: not in the room")
        if txn_id in self.txns:
            return self.txns[txn_id]
        self.sent.append((room_id, content))
        self.txns[txn_id] = f"$e{len(self.sent)}"
        return self.txns[txn_id]

    def bodies(self, room: str | None = None) -> list[str]:
        return [c["body"] for r, c in self.sent if room is None or r == room]


class Provisioning:
    def __init__(self):
        self.d = Directory.from_json(DIRECTORY)
        self.diaries: list[str] = []
        self.down = False
        self.status = 0

    async def directory(self, org: str, fresh: bool = False) -> Directory:
        if self.down:
            raise ProvisioningError("down", self.status)
        return self.d

    def cached(self) -> list[Directory]:
        return [self.d]

    async def ensure_diary(self, org: str, person_id: str) -> str:
        self.diaries.append(person_id)
        room = f"!diary-{person_id}"
        self.d = self.d.with_diary(person_id, room)
        return room

    async def ensure_status_room(self, org: str) -> str:
        return "!status"


class Feed:
    """A source whose next readings are set by the test."""

    name = "gradebook"
    org = "s1"

    def __init__(self):
        self.records: list = []
        self.error: str | None = None
        self.complete = True

    async def read(self, http, validators):  # noqa: ANN001
        if self.error:
            raise SourceError(self.error)
        return Snapshot(tuple(self.records), complete=self.complete, validators={"etag": "x"})


def homework(**kw) -> LineItem:
    base = dict(source="gradebook", item_id="li1", class_id="c5a", title="Упр. 5 на с. 12", subject="Математика",
                due=date(2026, 9, 3))
    return LineItem(**{**base, **kw})


def grade(student="p1", score=4.0, **kw) -> Result:
    base = dict(source="gradebook", item_id=f"r-{student}", line_item_id="li1", student_id=student, class_id="c5a",
                status=ScoreStatus.FULLY_GRADED, score=score, text_score="", title="Упр. 5", subject="Математика",
                comment="Аккуратно", score_date=date(2026, 9, 2))
    return Result(**{**base, **kw})


@pytest.fixture
async def world(tmp_path):
    async def make():
        db = Database.create(f"sqlite:{tmp_path / 'journal.db'}", upgrade_table=upgrade_table)
        await db.start()
        return db

    db = await make()
    matrix, prov, feed = Recorder(), Provisioning(), Feed()
    settings = JournalSettings(poll_interval=1, absent_polls_to_cancel=2, failure_notice_after=0, digest_hour=18)
    j = Journal(Store(db), matrix, prov, [feed], settings, http=None)  # type: ignore[arg-type]
    yield j, matrix, prov, feed, make
    await db.stop()


async def test_homework_reaches_the_class_chat_once(world):
    j, matrix, prov, feed, _ = world
    feed.records = [homework()]
    s = await j.poll("gradebook")
    assert s["posted"] == 1
    assert matrix.sent[0][0] == "!chat5a"
    content = matrix.sent[0][1]
    assert "Домашнее задание" in content["body"] and "Упр. 5 на с. 12" in content["body"]
    assert content["org.parta.journal.item"]["kind"] == "line_item"
    again = await j.poll("gradebook")
    assert again["posted"] == again["edited"] == 0
    assert len(matrix.sent) == 1


async def test_grades_go_only_to_the_pupils_diary(world):
    j, matrix, prov, feed, _ = world
    feed.records = [homework(), grade("p1", 5), grade("p2", 3)]
    await j.poll("gradebook")
    rooms = [r for r, _ in matrix.sent]
    assert sorted(rooms) == ["!chat5a", "!diary-p1", "!diary-p2"]
    assert prov.diaries == ["p1"]  # p2 already had one
    assert "Оценка · Математика: 5" in matrix.bodies("!diary-p1")[0]
    assert "Аккуратно" in matrix.bodies("!diary-p1")[0]


async def test_a_changed_grade_edits_its_message_and_a_lowered_one_notifies(world):
    j, matrix, _, feed, _ = world
    feed.records = [grade("p1", 5)]
    await j.poll("gradebook")
    feed.records = [grade("p1", 3)]
    s = await j.poll("gradebook")
    assert s["edited"] == 1
    edit = matrix.sent[1][1]
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$e1"}
    assert "5 → 3" in edit["m.new_content"]["body"]
    assert "снижена" in matrix.sent[2][1]["body"]
    assert len(matrix.sent) == 3
    feed.records = [grade("p1", 4)]
    await j.poll("gradebook")
    assert len(matrix.sent) == 4  # raised: an edit, no extra notification


async def test_a_restart_posts_nothing_again(world):
    j, matrix, prov, feed, make = world
    feed.records = [homework(), grade("p1", 5)]
    await j.poll("gradebook")
    n = len(matrix.sent)
    db2 = await make()
    j2 = Journal(Store(db2), Recorder(), prov, [feed], j.settings, http=None)  # type: ignore[arg-type]
    s = await j2.poll("gradebook")
    assert s["posted"] == s["edited"] == 0 and len(matrix.sent) == n
    await db2.stop()


async def test_an_item_missing_from_several_readings_is_cancelled(world):
    j, matrix, _, feed, _ = world
    feed.records = [homework()]
    await j.poll("gradebook")
    feed.records = []
    assert (await j.poll("gradebook"))["cancelled"] == 0
    assert (await j.poll("gradebook"))["cancelled"] == 1
    assert "Отменено" in matrix.sent[-1][1]["m.new_content"]["body"]
    assert (await j.poll("gradebook"))["cancelled"] == 0   # once
    feed.records = [homework()]
    assert (await j.poll("gradebook"))["edited"] == 1       # back: edited again


async def test_a_partial_reading_cancels_nothing(world):
    j, matrix, _, feed, _ = world
    feed.records = [homework()]
    await j.poll("gradebook")
    feed.records, feed.complete = [], False
    for _ in range(3):
        assert (await j.poll("gradebook"))["cancelled"] == 0


async def test_missing_work_is_kept_apart_and_the_teacher_gets_who(world):
    j, matrix, prov, feed, _ = world
    feed.records = [homework(teacher_id="t1"),
                    grade("p1", None, status=ScoreStatus.NOT_SUBMITTED, missing=True),
                    grade("p2", None, status=ScoreStatus.SUBMITTED)]
    await j.poll("gradebook")
    assert "Не сдано" in matrix.bodies("!diary-p1")[0]
    assert "ещё не оценена" in matrix.bodies("!diary-p2")[0]
    teacher_room = "!diary-t1"
    assert matrix.bodies(teacher_room) and "Иванов Иван" in matrix.bodies(teacher_room)[0]
    assert "Петров" not in matrix.bodies(teacher_room)[0]
    assert all("Иванов" not in b for b in matrix.bodies("!diary-p2"))


def lesson(**kw) -> Lesson:
    start = datetime(2026, 9, 2, 9, 0, tzinfo=MSK)
    base = dict(source="gradebook", item_id="L1", class_id="c5a", start=start, end=start + timedelta(minutes=45),
                subject="Физика", teacher="Орлова А. Б.", location="204")
    return Lesson(**{**base, **kw})


async def test_timetable_changes_are_announced_once(world):
    j, matrix, _, feed, _ = world
    feed.records = [lesson()]
    await j.poll("gradebook")
    assert matrix.sent == []  # the timetable itself is not news
    feed.records = [lesson(teacher="Соколов В. Г.", sequence=1)]
    await j.poll("gradebook")
    assert "Замена" in matrix.bodies("!ann5a")[0] and "вместо Орлова" in matrix.bodies("!ann5a")[0]
    feed.records = [lesson(teacher="Соколов В. Г.", sequence=2, status=LessonStatus.CANCELLED)]
    await j.poll("gradebook")
    await j.poll("gradebook")
    bodies = matrix.bodies("!ann5a")
    assert len(bodies) == 2 and "Урок отменён: Физика" in bodies[1]
    feed.records = [lesson(teacher="Орлова А. Б.", sequence=1)]  # an older copy: ignored
    await j.poll("gradebook")
    assert len(matrix.bodies("!ann5a")) == 2


async def test_reminders_with_the_call_link(world):
    j, matrix, _, feed, _ = world
    feed.records = [lesson(online_url="https://call.example/5a")]
    await j.poll("gradebook")
    start = feed.records[0].start
    assert await j.remind(start - timedelta(minutes=40)) == 0
    assert await j.remind(start - timedelta(minutes=10)) == 1
    assert await j.remind(start - timedelta(minutes=5)) == 0
    body = matrix.bodies("!ann5a")[0]
    assert "Через 10 мин: Физика в 09:00" in body and "https://call.example/5a" in body


async def test_one_digest_per_child_per_day_edited_as_the_day_goes_on(world):
    j, matrix, _, feed, _ = world
    feed.records = [homework(due=date(2026, 9, 3)), grade("p1", 5)]
    await j.poll("gradebook")
    before = datetime(2026, 9, 2, 17, 0, tzinfo=MSK)
    assert await j.digest(before) == 0
    at = datetime(2026, 9, 2, 18, 5, tzinfo=MSK)
    assert await j.digest(at) == 2  # p1 (grade + homework) and p2 (homework)
    digest = matrix.bodies("!diary-p1")[-1]
    assert "Оценки: Математика: 5" in digest and "Домашнее задание на завтра" in digest
    assert matrix.sent[-1][1]["msgtype"] == "m.notice"
    reads = []
    real = j.store.posted_of_source

    async def counted(source):
        reads.append(source)
        return await real(source)

    j.store.posted_of_source = counted  # type: ignore[method-assign]
    assert await j.digest(at + timedelta(minutes=30)) == 0
    assert reads == []  # nothing new since: the posted rows are not read again
    feed.records = [homework(due=date(2026, 9, 3)), grade("p1", 5), grade("p1", 4, item_id="r2", title="Тест")]
    await j.poll("gradebook")
    assert await j.digest(at + timedelta(hours=1)) == 1
    assert matrix.sent[-1][1]["m.relates_to"]["rel_type"] == "m.replace"


async def test_a_failing_source_tells_the_administrators_once(world):
    j, matrix, _, feed, _ = world
    feed.error = "http://journal.example/: HTTP 503"
    for _ in range(3):
        s = await j.poll("gradebook")
        assert s["error"]
    assert len(matrix.bodies("!status")) == 1 and "HTTP 503" in matrix.bodies("!status")[0]
    state = await j.store.source_state("gradebook")
    assert j.next_delay(state) == 8 and state.failures == 3
    feed.error = None
    await j.poll("gradebook")
    assert len(matrix.bodies("!status")) == 2 and "снова доступен" in matrix.bodies("!status")[1]
    assert j.next_delay(await j.store.source_state("gradebook")) == 1


async def test_teachers_post_homework_from_the_chat(world):
    j, matrix, _, _, _ = world
    h = CommandHandler(j)
    today = date(2026, 9, 2)
    assert await h.on_message("!chat5a", "@teacher:hs", "$c1", "!дз Выучить стих до 05.09", today) == "recorded"
    assert "Выучить стих" in matrix.bodies("!chat5a")[0] and "5 сентября" in matrix.bodies("!chat5a")[0]
    assert await h.on_message("!chat5a", "@teacher:hs", "$c1", "!дз Выучить стих до 05.09", today) is None
    assert await h.on_message("!chat5a", "@p1:hs", "$c2", "!дз ничего не задано", today) == "not_teacher"
    assert "только учителя класса 5А" in matrix.bodies("!chat5a")[-1]
    assert await h.on_message("!chat5a", "@teacher2:hs", "$c3", "!дз чужой класс", today) == "not_teacher"
    assert await h.on_message("!chat5a", "@teacher:hs", "$c4", "привет", today) is None
    assert await h.on_message("!chat5a", "@teacher:hs", "$c5", "!дз", today) == "malformed"


async def test_a_refused_message_is_tried_again_and_stops_nothing_else(world):
    j, matrix, _, feed, _ = world
    matrix.refuse.add("!diary-p2")
    feed.records = [homework(), grade("p1", 5), grade("p2", 4)]
    s = await j.poll("gradebook")
    assert s["failed"] == 1 and s["posted"] == 2 and "r-p2" in s["problems"][0]
    assert matrix.bodies("!diary-p2") == []
    matrix.refuse.clear()
    s = await j.poll("gradebook")
    assert s["posted"] == 1 and len(matrix.bodies("!diary-p2")) == 1


async def test_a_command_that_cannot_be_posted_is_answered(world):
    j, matrix, _, _, _ = world
    h = CommandHandler(j)
    assert await h.on_message("!chat5a", "@teacher:hs", "$c9", "!дз " + "Ж" * 3000, date(2026, 9, 2)) == "malformed"
    reply = matrix.sent[-1][1]
    assert "слишком длинное" in reply["body"] and reply["m.relates_to"] == {"m.in_reply_to": {"event_id": "$c9"}}


async def test_an_organization_not_provisioned_yet_is_no_failure(world):
    j, matrix, prov, feed, _ = world
    prov.down = True
    prov.status = 404
    s = await j.poll("gradebook")
    assert s["error"] and (await j.store.source_state("gradebook")).failures == 0
    prov.status = 0
    s = await j.poll("gradebook")
    assert (await j.store.source_state("gradebook")).failures == 1
