"""The iCalendar timetable source (RFC 5545): expansion, overrides, cancellations, feeds, errors.

The calendars are written here from RFC 5545 §3.6.1/§3.8 (people are made up). "Now" is
Monday 2026-09-07 08:00 Moscow time, so the default window is 2026-09-06 .. 2026-09-21.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridge.model import LessonStatus, SourceError
from bridge.sources.base import SOURCE_TYPES
from bridge.sources.ical import IcalSource, find_online_url, split_description

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 9, 7, 8, 0, tzinfo=MSK)

VTIMEZONE_MSK = """BEGIN:VTIMEZONE
TZID:Europe/Moscow
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
TZNAME:MSK
END:STANDARD
END:VTIMEZONE"""

# Weekly maths on Monday and Wednesday 09:00; Wed 9th moved to Thu 10th 12:00 (another room,
# a substitute teacher), Mon 14th cancelled in an override, Wed 16th removed by EXDATE.
RRULE_FEED = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Parta tests//EN
{VTIMEZONE_MSK}
BEGIN:VEVENT
UID:math-5a@gym5.example
DTSTAMP:20260901T000000Z
DTSTART;TZID=Europe/Moscow:20260907T090000
DTEND;TZID=Europe/Moscow:20260907T094500
RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261231T000000Z
EXDATE;TZID=Europe/Moscow:20260916T090000
SUMMARY:Математика
LOCATION:каб. 12
ORGANIZER;CN="Орлова Вера Павловна":mailto:orlova@gym5.example
ATTENDEE;CN=Пупкин Пётр;ROLE=REQ-PARTICIPANT:mailto:pupil@gym5.example
SEQUENCE:1
END:VEVENT
BEGIN:VEVENT
UID:math-5a@gym5.example
DTSTAMP:20260905T000000Z
RECURRENCE-ID;TZID=Europe/Moscow:20260909T090000
DTSTART;TZID=Europe/Moscow:20260910T120000
DTEND;TZID=Europe/Moscow:20260910T124500
SUMMARY:Математика
LOCATION:каб. 7
X-TEACHER:Соколов Илья Андреевич
SEQUENCE:2
END:VEVENT
BEGIN:VEVENT
UID:math-5a@gym5.example
DTSTAMP:20260906T000000Z
RECURRENCE-ID;TZID=Europe/Moscow:20260914T090000
DTSTART;TZID=Europe/Moscow:20260914T090000
DTEND;TZID=Europe/Moscow:20260914T094500
SUMMARY:Математика
STATUS:CANCELLED
SEQUENCE:3
END:VEVENT
END:VCALENDAR
"""

# One VEVENT per lesson, as some exporters write them: no RRULE, a UID reused for two lessons,
# the class in CATEGORIES, a call link in X-GOOGLE-CONFERENCE, homework in DESCRIPTION.
ONE_PER_LESSON_FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Parta tests//EN
BEGIN:VEVENT
UID:lesson-history-6b
DTSTAMP:20260901T000000Z
DTSTART:20260908T060000Z
DTEND:20260908T064500Z
SUMMARY:История
CATEGORIES:6Б,История
DESCRIPTION:Древний Египет\\nДомашнее задание: §5\\, вопросы 1-3
X-GOOGLE-CONFERENCE:https://meet.example/abc-defg-hij
END:VEVENT
BEGIN:VEVENT
UID:lesson-history-6b
DTSTAMP:20260901T000000Z
DTSTART:20260910T060000Z
DTEND:20260910T064500Z
SUMMARY:История
CATEGORIES:6Б
LOCATION:онлайн\\, ссылка в описании
DESCRIPTION:Месопотамия. Подключение: https://call.example/room/42.
END:VEVENT
BEGIN:VEVENT
UID:lesson-history-6b-far
DTSTAMP:20260901T000000Z
DTSTART:20261008T060000Z
DTEND:20261008T064500Z
SUMMARY:История
CATEGORIES:6Б
END:VEVENT
END:VCALENDAR
"""

# Google's style: floating times and X-WR-TIMEZONE naming the zone they are in.
X_WR_FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
X-WR-CALNAME:7В
X-WR-TIMEZONE:Asia/Yekaterinburg
BEGIN:VEVENT
UID:bio-7v@google.example
DTSTAMP:20260901T000000Z
DTSTART:20260908T100000
DTEND:20260908T104500
RRULE:FREQ=WEEKLY;COUNT=2
SUMMARY:Биология
END:VEVENT
END:VCALENDAR
"""

FLOATING_FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Parta tests//EN
BEGIN:VEVENT
UID:pe-5a
DTSTAMP:20260901T000000Z
DTSTART:20260908T110000
DTEND:20260908T114500
SUMMARY:Физкультура
END:VEVENT
END:VCALENDAR
"""


def source(tmp_path, text: str, **config) -> IcalSource:
    path = tmp_path / "timetable.ics"
    path.write_text(text, encoding="utf-8")
    return IcalSource({"name": "tt", "org": "gym5", "path": str(path), **config}, now=lambda: NOW)


def by_start(snapshot) -> dict[str, object]:
    return {lesson.start.astimezone(MSK).strftime("%m-%d %H:%M"): lesson for lesson in snapshot.records}


def test_registered():
    assert SOURCE_TYPES["ical"] is IcalSource


async def test_rrule_expanded_with_override_cancellation_and_exdate(tmp_path, http):
    snap = await source(tmp_path, RRULE_FEED, class_title="5А").read(http, {})
    assert snap is not None and snap.complete
    lessons = by_start(snap)
    # Mon 7, (Wed 9 → Thu 10 12:00), Mon 14 cancelled, (Wed 16 EXDATE), Mon 21; Wed 23 is after the window
    assert sorted(lessons) == ["09-07 09:00", "09-10 12:00", "09-14 09:00", "09-21 09:00"]
    first, moved, cancelled = lessons["09-07 09:00"], lessons["09-10 12:00"], lessons["09-14 09:00"]
    assert first.subject == "Математика" and first.location == "каб. 12" and first.class_title == "5А"
    assert first.teacher == "Орлова Вера Павловна"          # ORGANIZER CN, not the pupil attendee
    assert first.status is LessonStatus.SCHEDULED and first.sequence == 1
    assert first.end - first.start == timedelta(minutes=45)
    assert first.item_id == "math-5a@gym5.example/2026-09-07T06:00:00+00:00"
    # the moved one keeps the id of its original slot (RECURRENCE-ID), with its own SEQUENCE
    assert moved.item_id == "math-5a@gym5.example/2026-09-09T06:00:00+00:00"
    assert moved.location == "каб. 7" and moved.teacher == "Соколов Илья Андреевич" and moved.sequence == 2
    assert cancelled.status is LessonStatus.CANCELLED and cancelled.sequence == 3
    assert all(lesson.start.tzinfo is not None and lesson.end.tzinfo is not None for lesson in snap.records)


async def test_item_ids_stable_across_readings(tmp_path, http):
    src = source(tmp_path, RRULE_FEED, class_id="class-5a")
    first = {lesson.item_id: lesson for lesson in (await src.read(http, {})).records}
    src._now = lambda: NOW + timedelta(days=1)
    second = {lesson.item_id: lesson for lesson in (await src.read(http, {})).records}
    shared = set(first) & set(second)
    assert len(shared) >= 3
    assert all(first[i].fingerprint() == second[i].fingerprint() for i in shared)
    assert all(lesson.class_id == "class-5a" and lesson.class_title == "" for lesson in second.values())


async def test_one_event_per_lesson_feed(tmp_path, http):
    snap = await source(tmp_path, ONE_PER_LESSON_FEED).read(http, {})
    lessons = by_start(snap)
    assert sorted(lessons) == ["09-08 09:00", "09-10 09:00"]          # the October one is outside the window
    tue, thu = lessons["09-08 09:00"], lessons["09-10 09:00"]
    assert tue.item_id != thu.item_id                                   # same UID, told apart by the start
    assert tue.item_id == "lesson-history-6b/2026-09-08T06:00:00+00:00"
    assert tue.class_title == thu.class_title == "6Б"                   # from CATEGORIES
    assert tue.topic == "Древний Египет" and tue.homework == "§5, вопросы 1-3"
    assert tue.online_url == "https://meet.example/abc-defg-hij"
    assert thu.online_url == "https://call.example/room/42"             # from DESCRIPTION, full stop dropped
    assert thu.teacher == ""


async def test_x_wr_timezone_and_floating_times(tmp_path, http):
    snap = await source(tmp_path, X_WR_FEED).read(http, {})
    starts = [lesson.start for lesson in snap.records]
    assert starts[0] == datetime(2026, 9, 8, 5, 0, tzinfo=UTC)           # 10:00 in Yekaterinburg (+05)
    assert starts[0].utcoffset() == timedelta(hours=3)                   # given in the source's timezone
    assert len(starts) == 2
    floating = await source(tmp_path, FLOATING_FEED, timezone="Asia/Novosibirsk").read(http, {})
    assert floating.records[0].start == datetime(2026, 9, 8, 11, 0, tzinfo=ZoneInfo("Asia/Novosibirsk"))


async def test_unchanged_file_is_none_until_the_day_changes(tmp_path, http):
    src = source(tmp_path, RRULE_FEED)
    snap = await src.read(http, {})
    assert set(snap.validators) == {"hash", "window"}
    assert await src.read(http, snap.validators) is None
    src._now = lambda: NOW + timedelta(days=1)       # the window moved on: read again
    again = await src.read(http, snap.validators)
    assert again is not None and again.validators["hash"] == snap.validators["hash"]
    (tmp_path / "timetable.ics").write_text(RRULE_FEED.replace("каб. 12", "каб. 14"), encoding="utf-8")
    changed = await src.read(http, again.validators)
    assert changed is not None and by_start(changed)["09-21 09:00"].location == "каб. 14"


async def test_broken_file_names_file_and_line(tmp_path, http):
    broken = RRULE_FEED.replace("SUMMARY:Математика\nLOCATION:каб. 12", "SUMMARY:Математика\nthis is not ical")
    with pytest.raises(SourceError) as err:
        await source(tmp_path, broken).read(http, {})
    line = broken.splitlines().index("this is not ical") + 1
    assert f"timetable.ics:{line}:" in str(err.value) and "export it again" in str(err.value)
    assert err.value.retry is False

    bad_value = FLOATING_FEED.replace("DTSTART:20260908T110000", "DTSTART:2026-09-08 11:00")
    with pytest.raises(SourceError) as err:
        await source(tmp_path, bad_value).read(http, {})
    assert f"timetable.ics:{bad_value.splitlines().index('DTSTART:2026-09-08 11:00') + 1}:" in str(err.value)
    assert "DTSTART" in str(err.value) and "pe-5a" in str(err.value) and err.value.retry is False

    with pytest.raises(SourceError) as err:
        await source(tmp_path, "<html>Not found</html>\n").read(http, {})
    assert "timetable.ics" in str(err.value) and err.value.retry is False


async def test_missing_file(tmp_path, http):
    src = IcalSource({"name": "tt", "org": "gym5", "path": str(tmp_path / "none.ics")}, now=lambda: NOW)
    with pytest.raises(SourceError) as err:
        await src.read(http, {})
    assert "none.ics" in str(err.value) and "path" in str(err.value) and err.value.retry is False


def test_config_errors():
    with pytest.raises(ValueError, match="exactly one of 'path'"):
        IcalSource({"name": "tt"})
    with pytest.raises(ValueError, match="unknown timezone"):
        IcalSource({"name": "tt", "path": "x.ics", "timezone": "Mars/Olympus"})
    fixed = IcalSource({"name": "tt", "path": "x.ics", "now": "2026-09-07T08:00:00+03:00"})
    assert fixed.window() == (datetime(2026, 9, 6, tzinfo=MSK), datetime(2026, 9, 22, tzinfo=MSK))


async def test_url_feed_etag_and_304(http):
    requests: list[dict] = []

    async def feed(request: web.Request) -> web.Response:
        requests.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=RRULE_FEED.encode(), content_type="text/calendar", headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/5a.ics", feed)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        src = IcalSource({"name": "tt", "org": "gym5", "url": str(server.make_url("/5a.ics"))}, now=lambda: NOW)
        snap = await src.read(http, {})
        assert snap is not None and len(snap.records) == 4 and snap.validators["etag"] == '"v1"'
        assert await src.read(http, snap.validators) is None
        assert requests[1]["If-None-Match"] == '"v1"'
        src._now = lambda: NOW + timedelta(days=1)       # a new day: fetched unconditionally
        assert await src.read(http, snap.validators) is not None
        assert "If-None-Match" not in requests[2]
    finally:
        await server.close()


def test_helpers():
    assert split_description("Тема\nДЗ: упр. 5") == ("Тема", "упр. 5")
    assert split_description("Только тема") == ("Только тема", "")
    import icalendar
    event = icalendar.Event()
    event.add("LOCATION", "http://insecure.example/x")
    event.add("URL", "https://lesson.example/join")
    assert find_online_url(event) == "https://lesson.example/join"
