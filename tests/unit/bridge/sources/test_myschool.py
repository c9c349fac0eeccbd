"""The «Моя школа» Schedule source against a stub journal (OAuth 2 token endpoint, ETag/304, OperationOutcome).

The Schedule bodies are written here from the contract's field list (``school[].class[].lesson[]``
with subject, topic, homework, period, classroom, teacher, attendance.code, score[]); the
pupils and teachers are made up.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridge.model import Lesson, LessonStatus, LineItem, Result, SourceError
from bridge.sources.base import SOURCE_TYPES
from bridge.sources.myschool import MySchoolSource, outcome_error

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 9, 7, 8, 0, tzinfo=MSK)
PUPIL_A, PUPIL_B, UNKNOWN = "1000000001", "1000000002", "1000000404"


def schedule(student: str) -> dict:
    """One pupil's Schedule: two lessons of 5А (the second one is shared by both pupils)."""
    marks = {PUPIL_A: [{"code": "5", "weight": 2, "score": "5", "scoreSystem": "5"},
                       {"code": "н", "score": "н"}],
             PUPIL_B: [{"id": "m-77", "code": "zach", "weight": 1, "score": "зачёт", "scoreSystem": "pass"}]}
    return {"resourceType": "Schedule", "id": student, "school": [{"id": "sch-5", "name": "Гимназия № 5", "class": [{
        "id": "cls-5a", "name": "5А",
        "lesson": [
            {"id": "L-100", "date": "2026-09-07", "start": "09:00", "end": "09:45", "period": 1,
             "subject": {"name": "Математика", "code": "MATH"}, "topic": "Натуральные числа",
             "homework": "№ 12, 14\nповторить таблицу", "classroom": {"name": "12"},
             "teacher": {"lastName": "Орлова", "firstName": "Вера", "middleName": "Павловна"},
             "attendance": {"code": "н" if student == PUPIL_A else ""}, "score": marks[student]},
            {"id": "L-101", "date": "2026-09-08", "period": {"number": 2, "start": "10:00", "end": "10:45"},
             "subject": "Русский язык", "topic": "Повторение", "classroom": "7", "teacher": "Соколов И. А.",
             "homework": [{"id": "hw-1", "text": "упр. 5", "dueDate": "2026-09-10"}], "status": "cancelled"},
        ]}]}]}


class Journal:
    """A stub regional journal: /token (client credentials) and /fhir/Schedule/{id}."""

    def __init__(self):
        self.tokens = 0
        self.revoked: set[str] = set()
        self.requests: list[tuple[str, dict, dict]] = []
        self.changed: set[str] = set()     # pupils whose Schedule has a new version
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_get("/fhir/Schedule/{id}", self.schedule)
        self.server = TestServer(app, host="127.0.0.1")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        basic = base64.b64decode(request.headers["Authorization"].split()[1]).decode()
        if form.get("grant_type") != "client_credentials" or basic != "parta:s3cret":
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens += 1
        return web.json_response({"access_token": f"t{self.tokens}", "token_type": "Bearer", "expires_in": 3600})

    async def schedule(self, request: web.Request) -> web.Response:
        student = request.match_info["id"]
        self.requests.append((student, dict(request.query), dict(request.headers)))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token.startswith("t") or token in self.revoked:
            return web.json_response({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "security", "diagnostics": "token expired"}]}, status=401)
        if student == UNKNOWN:
            return web.json_response({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-found", "diagnostics": f"Обучающийся {student} не найден"}]},
                status=404, content_type="application/fhir+json")
        etag = f'"{student}-{2 if student in self.changed else 1}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304)
        body = schedule(student)
        if student in self.changed:
            body["school"][0]["class"][0]["lesson"][1]["topic"] = "Имя существительное"
        return web.json_response(body, headers={"ETag": etag}, content_type="application/fhir+json")

    def config(self, **extra) -> dict:
        return {"name": "region", "org": "gym5", "url": str(self.server.make_url("/fhir")),
                "token_url": str(self.server.make_url("/token")), "client_id": "parta", "client_secret": "s3cret",
                "students": [PUPIL_A, PUPIL_B], **extra}


@pytest.fixture
async def journal():
    stub = Journal()
    await stub.server.start_server()
    yield stub
    await stub.server.close()


def test_registered():
    assert SOURCE_TYPES["myschool"] is MySchoolSource


async def test_schedule_mapped(journal, http):
    src = MySchoolSource(journal.config(), now=lambda: NOW)
    snap = await src.read(http, {})
    assert snap is not None and snap.complete
    student, query, headers = journal.requests[0]
    assert (student, query) == (PUPIL_A, {"start": "2026-08-31", "end": "2026-09-21"})
    assert headers["Authorization"] == "Bearer t1" and journal.tokens == 1     # one token for every pupil
    by_kind: dict[str, list] = {}
    for record in snap.records:
        by_kind.setdefault(record.kind, []).append(record)
    lessons = {lesson.item_id: lesson for lesson in by_kind["lesson"]}
    assert set(lessons) == {"L-100", "L-101"}                  # shared lessons kept once
    math, russian = lessons["L-100"], lessons["L-101"]
    assert isinstance(math, Lesson) and math.class_title == "5А" and math.subject == "Математика"
    assert math.start == datetime(2026, 9, 7, 9, 0, tzinfo=MSK) and math.end == datetime(2026, 9, 7, 9, 45, tzinfo=MSK)
    assert math.teacher == "Орлова Вера Павловна" and math.location == "12" and math.topic == "Натуральные числа"
    assert math.homework == "№ 12, 14\nповторить таблицу" and math.status is LessonStatus.SCHEDULED
    assert russian.start == datetime(2026, 9, 8, 10, 0, tzinfo=MSK) and russian.status is LessonStatus.CANCELLED
    assert russian.teacher == "Соколов И. А." and russian.location == "7"

    items = {item.item_id: item for item in by_kind["line_item"]}
    assert set(items) == {"L-100/homework", "L-101/homework/hw-1"}
    hw = items["L-100/homework"]
    assert isinstance(hw, LineItem) and hw.title == "№ 12, 14" and hw.due == date(2026, 9, 7)
    assert hw.subject == "Математика" and hw.class_title == "5А" and hw.category == "homework"
    assert items["L-101/homework/hw-1"].due == date(2026, 9, 10)

    results = {r.item_id: r for r in by_kind["result"]}
    assert set(results) == {f"L-100/{PUPIL_A}/0", f"L-100/{PUPIL_B}/m-77"}    # "н" is not a mark
    five, credit = results[f"L-100/{PUPIL_A}/0"], results[f"L-100/{PUPIL_B}/m-77"]
    assert isinstance(five, Result) and five.student_id == PUPIL_A and five.score == 5.0 and five.text_score == "5"
    assert five.line_item_id == "L-100" and five.score_date == date(2026, 9, 7) and five.graded
    assert five.title == "Натуральные числа" and five.subject == "Математика"
    assert credit.score is None and credit.text_score == "зачёт" and credit.graded


async def test_etag_304_gives_none_and_partial_change_refetches(journal, http):
    src = MySchoolSource(journal.config(), now=lambda: NOW)
    snap = await src.read(http, {})
    assert snap.validators[f"{PUPIL_A}.etag"] == f'"{PUPIL_A}-1"'
    assert await src.read(http, snap.validators) is None
    assert journal.requests[-1][2]["If-None-Match"] == f'"{PUPIL_B}-1"'
    # one pupil's Schedule changed (new ETag): the other, answering 304, is asked again plainly
    journal.changed.add(PUPIL_B)
    count = len(journal.requests)
    again = await src.read(http, snap.validators)
    assert again is not None and len(journal.requests) == count + 3
    assert "If-None-Match" not in journal.requests[-1][2] and journal.requests[-1][0] == PUPIL_A
    assert {r.key for r in again.records} == {r.key for r in snap.records}
    assert again.validators[f"{PUPIL_B}.etag"] == f'"{PUPIL_B}-2"'
    # the shared lesson comes from the first pupil's Schedule, the first reading wins
    assert [r.topic for r in again.records if r.item_id == "L-101"] == ["Повторение"]


async def test_operation_outcome_diagnostics(journal, http):
    src = MySchoolSource(journal.config(students=[PUPIL_A, UNKNOWN]), now=lambda: NOW)
    with pytest.raises(SourceError) as err:
        await src.read(http, {})
    assert f"Обучающийся {UNKNOWN} не найден" in str(err.value) and "not-found" in str(err.value)
    assert f"/Schedule/{UNKNOWN}" in str(err.value) and err.value.retry is False


async def test_revoked_token_is_renewed_once(journal, http):
    src = MySchoolSource(journal.config(students=[PUPIL_A]), now=lambda: NOW)
    await src.read(http, {})
    journal.revoked.add("t1")
    assert await src.read(http, {}) is not None and journal.tokens == 2
    journal.revoked.add("t2")
    journal.revoked.add("t3")
    with pytest.raises(SourceError) as err:
        await src.read(http, {})
    assert "token expired" in str(err.value) and err.value.retry is False


async def test_bad_credentials(journal, http):
    src = MySchoolSource(journal.config(client_secret="wrong"), now=lambda: NOW)
    with pytest.raises(SourceError) as err:
        await src.read(http, {})
    assert "client_id and client_secret" in str(err.value) and err.value.retry is False


def test_outcome_error_rules():
    transient = outcome_error("u", {"resourceType": "OperationOutcome", "issue": [
        {"severity": "warning", "code": "informational", "diagnostics": "slow"},
        {"severity": "error", "code": "transient", "diagnostics": "ведутся работы"}]}, 503)
    assert transient is not None and transient.retry and "ведутся работы" in str(transient)
    assert "slow" not in str(transient)
    assert outcome_error("u", {"resourceType": "Schedule"}, 200) is None
    with pytest.raises(ValueError, match="students"):
        MySchoolSource({"name": "x", "url": "u", "token_url": "t", "client_id": "c", "client_secret": "s"})


async def test_not_a_schedule(journal, http):
    async def other(request):
        return web.json_response({"resourceType": "Bundle"})
    app = web.Application()
    app.router.add_get("/fhir/Schedule/{id}", other)
    app.router.add_post("/token", journal.token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        cfg = dict(journal.config(), url=str(server.make_url("/fhir")), token_url=str(server.make_url("/token")))
        with pytest.raises(SourceError) as err:
            await MySchoolSource(cfg, now=lambda: NOW).read(http, {})
        assert "'Bundle'" in str(err.value) and err.value.retry is False
    finally:
        await server.close()


def test_body_round_trips_as_json():
    # the fixture is plain JSON, as the journal sends it
    assert json.loads(json.dumps(schedule(PUPIL_A), ensure_ascii=False))["resourceType"] == "Schedule"
