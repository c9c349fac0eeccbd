"""The ЭлЖур API v1.4 source against a stub (devkey/vendor/auth_token, response envelope, errors).

The answers are written here in the shapes of the published API as public clients observe them
(``response.state/error/result``, ``students`` keyed by id); the pupils are made up.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridge.model import Lesson, LineItem, Result, SourceError
from bridge.sources.base import SOURCE_TYPES
from bridge.sources.eljur import EljurSource

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 9, 7, 8, 0, tzinfo=MSK)
PUPIL, OTHER = "5001", "5002"


def ok(result: dict) -> dict:
    return {"response": {"state": 200, "error": None, "result": result}}


def fail(state: int, error: str) -> dict:
    return {"response": {"state": state, "error": error, "result": {}}}


def answers(student: str) -> dict[str, dict]:
    pupil = {"name": student, "title": "Ершова Алина"}
    return {
        "getschedule": {"students": {student: {**pupil, "days": {
            "20260907": {"name": "20260907", "title": "Понедельник", "items": {
                "1": {"num": "1", "name": "Алгебра", "room": "12", "teacher": "Орлова В. П.",
                      "starttime": "08:30:00", "endtime": "09:15:00", "topic": "Уравнения"},
                "2": {"num": "2", "name": "Английский язык", "grp": "1 группа", "room": "31",
                      "teacher": "Ким Л. С.", "starttime": "09:25:00", "endtime": "10:10:00"}}}}}}},
        "gethomework": {"students": {student: {**pupil, "days": {
            "20260908": {"name": "20260908", "title": "Вторник", "items": [
                {"name": "Алгебра", "grp": "", "homework": {"1": {"id": 1, "value": "№ 101, 102", "individual": False},
                                                             "2": {"id": 2, "value": "доклад", "individual": True}},
                 "files": []}]}}}}},
        "getmarks": {"students": {student: {**pupil, "lessons": [
            {"name": "Алгебра", "average": "4.5", "marks": [
                {"value": "5", "weight": 1, "date": "2026-09-07", "lesson_id": "77", "nm": "1", "comment": "",
                 "lesson_comment": "Уравнения", "mtype": {"id": 3, "short": "КР", "type": "Контрольная работа"}},
                {"value": "4/5", "weight": 1, "date": "2026-09-07", "lesson_id": "77", "nm": "2", "comment": "устно"},
                {"value": "н", "weight": 0, "date": "2026-09-08", "lesson_id": "77", "nm": "1", "count": False}]}]}}},
    }


class Eljur:
    """A stub of api.eljur.ru: /api/{method}."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.changed = False
        app = web.Application()
        app.router.add_get("/api/{method}", self.method)
        self.server = TestServer(app, host="127.0.0.1")

    async def method(self, request: web.Request) -> web.Response:
        method, q = request.match_info["method"], dict(request.query)
        self.calls.append((method, q))
        if q.get("devkey") != "dev-1" or q.get("out_format") != "json":
            return web.json_response(fail(400, "не удалось авторизовать разработчика"), status=400)
        if method == "auth":
            if (q.get("login"), q.get("password")) == ("ershova", "pw"):
                return web.json_response(ok({"token": "tok-from-login", "expires": "2026-10-01 00:00:00"}))
            return web.json_response(fail(400, "неверный логин или пароль"))
        if q.get("auth_token") not in ("tok-1", "tok-from-login"):
            return web.json_response(fail(403, "Доступ запрещён"))
        if method == "getrules":
            return web.json_response(ok({"relations": {"students": {PUPIL: {"class": "7В", "title": "Ершова Алина"}}}}))
        if q.get("student") == "9999":
            return web.json_response(fail(500, "внутренняя ошибка"), status=500)
        body = answers(q["student"])[method]
        if self.changed and method == "getschedule":
            body["students"][q["student"]]["days"]["20260907"]["items"]["1"]["room"] = "14"
        return web.json_response(ok(body))

    def config(self, **extra) -> dict:
        return {"name": "eljur", "org": "gym5", "vendor": "gym5", "devkey": "dev-1", "auth_token": "tok-1",
                "url": str(self.server.make_url("/api/")), "students": [{"id": PUPIL, "class": "7В"}], **extra}


@pytest.fixture
async def eljur():
    stub = Eljur()
    await stub.server.start_server()
    yield stub
    await stub.server.close()


def test_registered():
    assert SOURCE_TYPES["eljur"] is EljurSource


async def test_schedule_homework_marks(eljur, http):
    snap = await EljurSource(eljur.config(), now=lambda: NOW).read(http, {})
    assert snap is not None and snap.complete
    method, q = eljur.calls[0]
    assert method == "getschedule" and q["days"] == "20260831-20260921" and q["student"] == PUPIL
    assert {k: q[k] for k in ("devkey", "vendor", "auth_token", "out_format")} == {
        "devkey": "dev-1", "vendor": "gym5", "auth_token": "tok-1", "out_format": "json"}
    assert [c[0] for c in eljur.calls] == ["getschedule", "gethomework", "getmarks"]   # class given: no getrules
    records = {r.item_id: r for r in snap.records}

    algebra, english = records["7В/20260907/1"], records["7В/20260907/2/1 группа"]
    assert isinstance(algebra, Lesson) and algebra.class_title == "7В" and algebra.subject == "Алгебра"
    assert algebra.start == datetime(2026, 9, 7, 8, 30, tzinfo=MSK) and algebra.end == datetime(2026, 9, 7, 9, 15,
                                                                                                 tzinfo=MSK)
    assert algebra.teacher == "Орлова В. П." and algebra.location == "12" and algebra.topic == "Уравнения"
    assert english.subject == "Английский язык"

    hw = records["7В/20260908/Алгебра/1"]
    assert isinstance(hw, LineItem) and hw.description == "№ 101, 102" and hw.due == date(2026, 9, 8)
    assert "7В/20260908/Алгебра/2" not in records                  # individual homework left out

    five, split = records[f"{PUPIL}/20260907/77/1"], records[f"{PUPIL}/20260907/77/2"]
    assert isinstance(five, Result) and five.score == 5.0 and five.text_score == "5" and five.student_id == PUPIL
    assert five.title == "Контрольная работа" and five.line_item_id == "7В/20260907/Алгебра" and five.graded
    assert five.score_date == date(2026, 9, 7) and five.class_title == "7В"
    assert split.score is None and split.text_score == "4/5" and split.comment == "устно"
    assert not any(isinstance(r, Result) and r.text_score == "н" for r in snap.records)   # an absence, not a mark


async def test_unchanged_answers_give_none(eljur, http):
    src = EljurSource(eljur.config(), now=lambda: NOW)
    snap = await src.read(http, {})
    assert await src.read(http, snap.validators) is None
    eljur.changed = True
    changed = await src.read(http, snap.validators)
    assert changed is not None and {r.item_id: r for r in changed.records}["7В/20260907/1"].location == "14"


async def test_class_from_getrules_and_login(eljur, http):
    cfg = eljur.config(students=[PUPIL], auth_token=None, login="ershova", password="pw")
    snap = await EljurSource(cfg, now=lambda: NOW).read(http, {})
    assert [c[0] for c in eljur.calls[:2]] == ["auth", "getrules"]
    assert eljur.calls[1][1]["auth_token"] == "tok-from-login"
    assert {r.class_title for r in snap.records} == {"7В"}


async def test_errors_carry_eljur_text(eljur, http):
    with pytest.raises(SourceError) as err:
        await EljurSource(eljur.config(devkey="wrong"), now=lambda: NOW).read(http, {})
    assert "не удалось авторизовать разработчика" in str(err.value) and err.value.retry is False
    with pytest.raises(SourceError) as err:
        await EljurSource(eljur.config(auth_token="old"), now=lambda: NOW).read(http, {})
    assert "Доступ запрещён" in str(err.value) and "getschedule" in str(err.value) and err.value.retry is False
    with pytest.raises(SourceError) as err:
        await EljurSource(eljur.config(students=[{"id": "9999", "class": "1А"}]), now=lambda: NOW).read(http, {})
    assert "внутренняя ошибка" in str(err.value) and err.value.retry is True
    with pytest.raises(SourceError) as err:
        cfg = eljur.config(auth_token=None, login="ershova", password="bad")
        await EljurSource(cfg, now=lambda: NOW).read(http, {})
    assert "неверный логин или пароль" in str(err.value) and err.value.retry is False


def test_config_errors():
    with pytest.raises(ValueError, match="devkey"):
        EljurSource({"name": "e", "vendor": "v", "auth_token": "t", "students": ["1"]})
    with pytest.raises(ValueError, match="auth_token"):
        EljurSource({"name": "e", "vendor": "v", "devkey": "d", "students": ["1"]})
    with pytest.raises(ValueError, match="students"):
        EljurSource({"name": "e", "vendor": "v", "devkey": "d", "auth_token": "t"})
    assert EljurSource({"name": "e", "vendor": "v", "devkey": "d", "auth_token": "t", "students": ["1"]}).url \
        == "https://api.eljur.ru/api/"
