"""The quiet-hours wraps fit the pinned Synapse, and their decision drops only held-back users."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from unittest import mock

from synapse_module import quiet_hours


def test_targets_match_the_pinned_synapse():
    quiet_hours.check_target()  # raises QuietTargetError when Synapse's shapes change


async def test_filter_drops_only_the_quiet_users():
    q = quiet_hours.QuietHours(mock.Mock(), mock.Mock(), mock.Mock(), "@bot:s", "ru",
                               now=lambda: dt.datetime.now(dt.UTC))
    event = SimpleNamespace(event_id="$e", type="m.room.message", is_state=lambda: False)
    q._creating["$e"] = event
    hours = mock.Mock()
    start = dt.datetime(2026, 12, 7, 17, tzinfo=dt.UTC)

    async def quiet_for(ev, recipients):
        assert ev is event and sorted(recipients) == ["@a:s", "@t:s"]
        return [("@t:s", start, hours)]
    q.quiet_for = quiet_for
    actions = {"@t:s": ["notify"], "@a:s": ["notify"], "@u:s": []}
    assert await q.filter("$e", actions, False) == {"@a:s": ["notify"], "@u:s": []}
    assert await q.filter("$e", actions, True) == {"@t:s": [], "@a:s": ["notify"], "@u:s": []}
    assert q._pending["$e"] == [("@t:s", start, hours)]
    # an event the wrap did not see is left alone
    assert await q.filter("$other", actions, False) == actions


class _Look:
    """Parta's records for :meth:`QuietHours.quiet_for`: one school ``o``, a teacher with hours."""

    def __init__(self, kind: str, hours: dict, settings: dict | None = None):
        from policies.capabilities import Account, RoomInfo

        self.roomInfo = RoomInfo(kind=kind, org="o")
        self.settings = {"timezone": "Europe/Moscow", **(settings or {})}
        self.hours = hours
        self.people = {u: Account.from_registry(u, {"orgs": {"o": {"role": r, "confirmed": True}}})
                       for u, r in (("@t:s", "teacher"), ("@p:s", "parent"), ("@a:s", "admin"), ("@c:s", "teacher"))}
        self.people["@x:s"] = Account.from_registry("@x:s", {"orgs": {"z": {"role": "parent"}}})

    async def room(self, _room_id):
        return self.roomInfo

    async def person(self, user_id):
        return self.people[user_id]

    def person_now(self, user_id):
        return None

    async def org(self, _org):
        return {"settings": self.settings}

    async def registry_id(self):
        return "!registry"

    async def _state(self, *_args):
        return self.hours


ALWAYS_QUIET = {"days": [1], "from": "00:00", "to": "00:01"}
NOW = dt.datetime(2026, 12, 8, 20, 0, tzinfo=dt.UTC)  # a Tuesday night in Moscow


def _quiet(look: _Look) -> quiet_hours.QuietHours:
    return quiet_hours.QuietHours(mock.Mock(), look, mock.Mock(), "@bot:s", "ru", now=lambda: NOW)  # type: ignore[arg-type]


def _event(sender: str, **content) -> SimpleNamespace:
    return SimpleNamespace(event_id="$e", type="m.room.message", sender=sender, room_id="!r",
                           content={"msgtype": "m.text", "body": "?", **content}, is_state=lambda: False)


async def test_a_parents_direct_message_at_night_is_held_back_for_the_teacher_only():
    q = _quiet(_Look("dm", ALWAYS_QUIET))
    quiet = await q.quiet_for(_event("@p:s"), ["@t:s", "@a:s"])
    assert [u for u, _start, _hours in quiet] == ["@t:s"]
    start = quiet[0][1]
    assert start == dt.datetime(2026, 12, 6, 21, 1, tzinfo=dt.UTC)  # Monday 00:01 in Moscow


async def test_what_passes_in_the_window():
    q = _quiet(_Look("class_parents", ALWAYS_QUIET))
    assert await q.quiet_for(_event("@p:s", **{"org.parta.urgent": True}), ["@t:s"]) == []
    assert await q.quiet_for(_event("@a:s"), ["@t:s"]) == []   # the administration (default settings)
    assert await q.quiet_for(_event("@c:s"), ["@t:s"]) == []   # a colleague
    assert await q.quiet_for(_event("@x:s"), ["@t:s"]) == []   # someone of another school
    assert await q.quiet_for(_event("@bot:s"), ["@t:s"]) == []  # the bot's own notices
    assert await q.quiet_for(_event("@p:s"), []) == []         # nobody to notify
    assert await _quiet(_Look("diary", ALWAYS_QUIET)).quiet_for(_event("@p:s"), ["@t:s"]) == []
    assert await _quiet(_Look("class_parents", {})).quiet_for(_event("@p:s"), ["@t:s"]) == []  # no hours set
    # office hours now: nothing held back
    day = {"days": [2], "from": "22:00", "to": "23:59"}
    assert await _quiet(_Look("class_parents", day)).quiet_for(_event("@p:s"), ["@t:s"]) == []


async def test_a_school_that_holds_back_the_administration():
    q = _quiet(_Look("announcements", ALWAYS_QUIET, {"quiet_hours_silence": ["parent", "admin"]}))
    assert [u for u, *_ in await q.quiet_for(_event("@a:s"), ["@t:s"])] == ["@t:s"]
    assert await q.quiet_for(_event("@a:s", **{"org.parta.urgent": True}), ["@t:s"]) == []


async def test_a_failed_read_lets_the_message_notify():
    q = _quiet(_Look("dm", ALWAYS_QUIET))
    q._creating["$e"] = _event("@p:s")

    async def broken(_event, _recipients):
        raise RuntimeError("database gone")
    q.quiet_for = broken
    assert await q.filter("$e", {"@t:s": ["notify"]}, False) == {"@t:s": ["notify"]}
