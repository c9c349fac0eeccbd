"""When a scheduled message goes (``ops.scheduled.send_time``): ISO 8601 with or without an offset, a
time of day alone in the school's zone, or seconds from now; every wrong shape is 400 M_BAD_JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from spaces_provisioner.errors import ProvisioningError
from spaces_provisioner.ops.scheduled import digest, send_time

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 23:30 in Moscow


def test_seconds_from_now():
    assert send_time(None, 5, MSK, NOW) == NOW + timedelta(seconds=5)


def test_times_beyond_any_delay_stay_far():
    assert send_time(None, 10**20, MSK, NOW) - NOW >= timedelta(days=100)
    assert send_time("9999-12-31T23:59:59-05:00", None, MSK, NOW) - NOW >= timedelta(days=100)


def test_time_of_day_is_its_next_occurrence_in_the_schools_zone():
    # 23:30 in Moscow: 08:00 is tomorrow morning, 23:45 still today
    assert send_time("08:00", None, MSK, NOW) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    assert send_time("23:45", None, MSK, NOW) == datetime(2026, 12, 7, 20, 45, tzinfo=UTC)
    assert send_time("7:05", None, MSK, NOW) == datetime(2026, 12, 8, 4, 5, tzinfo=UTC)


def test_iso_without_offset_is_the_schools_time_with_offset_is_as_given():
    assert send_time("2026-12-08T08:00", None, MSK, NOW) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    assert send_time("2026-12-08T08:00:00+05:00", None, MSK, NOW) == datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
    assert send_time("2026-12-08T08:00:00Z", None, MSK, NOW) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("send_at, delay", [
    (None, None), ("08:00", 5),                      # neither, both
    (None, 0), (None, -3), (None, 1.5), (None, True), (None, "5"),
    (8, None), ("завтра", None), ("25:00", None), ("2026-13-01T08:00", None),
    ("2026-12-07T23:00", None),                      # 23:00 in Moscow has passed at 23:30
    ("2026-12-07T20:29:59Z", None),
])
def test_wrong_times_are_refused(send_at, delay):
    with pytest.raises(ProvisioningError) as e:
        send_time(send_at, delay, MSK, NOW)
    assert e.value.status == 400 and e.value.errcode == "M_BAD_JSON" and e.value.message


def test_the_audit_log_keeps_a_digest_not_the_delay_id():
    d = digest("syd_abcdefghijklmnopqrst")
    assert len(d) == 16 and "abcdef" not in d and d == digest("syd_abcdefghijklmnopqrst")
