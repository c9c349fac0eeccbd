"""Quiet hours' pure rules: windows on the school's clock, who is held back, who sets the hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from policies import quiet_hours as qh
from policies.capabilities import Account, default_capabilities
from policies.i18n import set_language

MSK = "Europe/Moscow"
WEEKDAYS = qh.OfficeHours.parse({"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "20:00"})


def at(text: str, zone: str = MSK) -> dt.datetime:
    """An aware instant from the school's wall clock (``2026-12-07 23:00`` is a Monday)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_parse_and_content_round_trip():
    assert WEEKDAYS is not None
    assert WEEKDAYS.to_content() == {"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "20:00"}
    assert qh.OfficeHours.parse(WEEKDAYS.to_content()) == WEEKDAYS
    assert qh.OfficeHours.parse({}) is None and qh.OfficeHours.parse(None) is None


@pytest.mark.parametrize("bad", [
    {"days": [], "from": "08:00", "to": "20:00"}, {"days": [0], "from": "08:00", "to": "20:00"},
    {"days": [8], "from": "08:00", "to": "20:00"}, {"days": [True], "from": "08:00", "to": "20:00"},
    {"days": "1-5", "from": "08:00", "to": "20:00"}, {"days": [1], "from": "24:00", "to": "20:00"},
    {"days": [1], "from": "8", "to": "20:00"}, {"days": [1], "from": "08:00"},
    {"days": [1], "from": "8:0", "to": "9:00"},
    {"days": [1], "from": "08:00", "to": "08:00"}, {"days": [1], "from": "-1:00", "to": "08:00"},
])
def test_unreadable_hours_are_refused(bad):
    with pytest.raises(qh.OfficeHoursError):
        qh.OfficeHours.parse(bad)


def test_window_on_a_weekday_evening_starts_at_the_days_end():
    assert WEEKDAYS is not None
    assert WEEKDAYS.window_start(at("2026-12-07 12:00"), MSK) is None  # Monday noon: office hours
    start = WEEKDAYS.window_start(at("2026-12-07 23:00"), MSK)
    assert start == at("2026-12-07 20:00").astimezone(dt.UTC)
    # the same window the next morning before 08:00
    assert WEEKDAYS.window_start(at("2026-12-08 07:59"), MSK) == start
    assert WEEKDAYS.window_start(at("2026-12-08 08:00"), MSK) is None


def test_the_weekend_is_one_window_from_friday_evening():
    assert WEEKDAYS is not None
    friday_end = at("2026-12-11 20:00").astimezone(dt.UTC)
    for moment in ("2026-12-11 20:00", "2026-12-12 12:00", "2026-12-13 23:59", "2026-12-14 07:00"):
        assert WEEKDAYS.window_start(at(moment), MSK) == friday_end, moment


def test_the_zone_counts_not_the_servers_clock():
    assert WEEKDAYS is not None
    # 17:30 UTC on a Monday is 20:30 in Moscow (quiet) and 19:30 in Kaliningrad (office hours)
    instant = dt.datetime(2026, 12, 7, 17, 30, tzinfo=dt.UTC)
    assert WEEKDAYS.window_start(instant, MSK) is not None
    assert WEEKDAYS.window_start(instant, "Europe/Kaliningrad") is None


def test_hours_past_midnight():
    night = qh.OfficeHours.parse({"days": [1], "from": "22:00", "to": "02:00"})
    assert night is not None
    assert night.window_start(at("2026-12-07 23:00"), MSK) is None
    assert night.window_start(at("2026-12-08 01:00"), MSK) is None  # Monday's period runs into Tuesday
    assert night.window_start(at("2026-12-08 03:00"), MSK) == at("2026-12-08 02:00").astimezone(dt.UTC)


def test_describe_in_both_languages():
    assert WEEKDAYS is not None
    assert WEEKDAYS.describe("ru") == "Пн–Пт 08:00–20:00"
    assert WEEKDAYS.describe("en") == "Mon–Fri 08:00–20:00"
    odd = qh.OfficeHours.parse({"days": [1, 3, 6, 7], "from": "9:00", "to": "13:30"})
    assert odd is not None and odd.describe("ru") == "Пн, Ср, Сб–Вс 09:00–13:30"
    text = qh.notice_text("Орлова Анна", WEEKDAYS, "ru")
    assert "Орлова Анна" in text and "Пн–Пт 08:00–20:00" in text


def test_the_direct_chat_notice_names_the_teacher_the_chat_and_the_hours():
    assert WEEKDAYS is not None
    text = qh.dm_notice_text("Орлова Анна", None, WEEKDAYS, "ru")
    assert text.startswith("Орлова Анна сейчас вне рабочего времени")
    assert "в вашем личном чате с Орлова Анна" in text and "Пн–Пт 08:00–20:00" in text
    assert "«Экскурсия»" in qh.dm_notice_text("Орлова Анна", "Экскурсия", WEEKDAYS, "ru")
    assert "your direct chat with Anna Orlova" in qh.dm_notice_text("Anna Orlova", None, WEEKDAYS, "en")


def test_own_hours_win_over_the_schools_and_broken_ones_count_as_none():
    school = {"office_hours": {"days": [1, 2, 3, 4, 5, 6], "from": "08:00", "to": "18:00"}}
    assert qh.hours_of({}, school) == qh.OfficeHours.parse(school["office_hours"])
    assert qh.hours_of(WEEKDAYS.to_content() if WEEKDAYS else None, school) == WEEKDAYS
    assert qh.hours_of({"days": [9]}, school) == qh.OfficeHours.parse(school["office_hours"])
    assert qh.hours_of(None, None) is None  # the default: no quiet hours


@pytest.mark.parametrize(("recipient", "sender", "kind", "urgent", "held"), [
    ("teacher", "parent", "class_parents", False, True),
    ("teacher", "student", "dm", False, True),
    ("teacher_unconfirmed", "parent", "dm", False, True),
    ("teacher", "parent", "class_parents", True, False),        # urgent
    ("teacher", "teacher", "class_chat", False, False),          # a colleague
    ("teacher", "admin", "announcements", False, False),         # the administration (default)
    ("head", "parent", "dm", False, False),                      # only teachers have quiet hours
    ("teacher", "parent", "diary", False, False),                # not a room quiet hours cover
    ("teacher", None, "chat", False, False),                     # someone of another organization
])
def test_who_is_held_back(recipient, sender, kind, urgent, held):
    assert qh.silences(recipient, sender, kind, None, urgent) is held


def test_a_school_can_hold_back_more_roles():
    settings = {"quiet_hours_silence": ["student", "parent", "admin", "teacher"]}
    assert qh.silences("teacher", "admin", "announcements", settings, False)
    assert qh.silences("teacher", "teacher_unconfirmed", "chat", settings, False)
    assert not qh.silences("teacher", "admin", "announcements", settings, True)


def test_who_sets_office_hours():
    caps = default_capabilities()
    teacher = Account.from_registry("@t:s", {"orgs": {"o": {"role": "teacher", "confirmed": True}}})
    colleague = Account.from_registry("@c:s", {"orgs": {"o": {"role": "teacher", "confirmed": True}}})
    pupil = Account.from_registry("@p:s", {"orgs": {"o": {"role": "student"}}})
    head = Account.from_registry("@h:s", {"orgs": {"o": {"role": "head"}}})
    other_head = Account.from_registry("@x:s", {"orgs": {"z": {"role": "head"}}})
    assert qh.may_set_office_hours(teacher, teacher, caps)
    assert qh.may_set_office_hours(None, teacher, caps)
    assert qh.may_set_office_hours(head, teacher, caps)
    for who in (colleague, pupil, other_head):
        assert qh.may_set_office_hours(who, teacher, caps).reason == "office_hours_not_yours"
    assert qh.may_set_office_hours(pupil, pupil, caps).reason == "not_a_teacher"


@pytest.fixture(autouse=True)
def _russian():
    set_language("ru")
    yield
