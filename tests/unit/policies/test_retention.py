"""Retention per school year: when an archived class room's messages go (policies.retention)."""

from __future__ import annotations

import datetime

import pytest

from policies import org_settings
from policies.retention import RetentionRules, add_months

D = datetime.date


def test_defaults_keep_a_year_for_twelve_months():
    rules = RetentionRules.from_settings(org_settings.effective(None))
    assert rules.year_end == (6, 30) and rules.archived_months == 12
    assert rules.year_ends("2025/26") == D(2026, 6, 30)
    assert rules.purge_after("2025/26") == D(2027, 7, 1)
    assert not rules.is_due("2025/26", D(2027, 6, 30))
    assert rules.is_due("2025/26", D(2027, 7, 1))


def test_zero_months_purges_the_day_after_the_year_ends():
    rules = RetentionRules.from_settings({"school_year_end": "05-31", "retention_archived_months": 0})
    assert rules.purge_after("2024/25") == D(2025, 6, 1)
    assert rules.is_due("2024/25", D(2025, 6, 1)) and not rules.is_due("2025/26", D(2025, 6, 1))


def test_null_keeps_for_ever():
    rules = RetentionRules.from_settings({"retention_archived_months": None})
    assert rules.purge_after("1999/00") is None and not rules.is_due("1999/00", D(2100, 1, 1))


@pytest.mark.parametrize("settings", [{"school_year_end": "13-01"}, {"school_year_end": "02-30"},
                                      {"school_year_end": "June 30"}, {"retention_archived_months": -1},
                                      {"retention_archived_months": "12"}, {"retention_archived_months": True}])
def test_malformed_settings_are_refused(settings):
    with pytest.raises(ValueError):
        RetentionRules.from_settings(settings)


def test_a_year_label_must_be_a_school_year():
    with pytest.raises(ValueError):
        RetentionRules().year_ends("2025")


def test_add_months_clamps_to_the_month_end():
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2027, 12, 31), 2) == D(2028, 2, 29)
    assert add_months(D(2026, 6, 30), 18) == D(2027, 12, 30)


def test_direct_chats_keep_their_months():
    rules = RetentionRules.from_settings(org_settings.effective(None))
    now = datetime.datetime(2026, 12, 7, 16, 0, tzinfo=datetime.UTC)
    assert rules.direct_months is None and rules.direct_cutoff(now) is None
    rules = RetentionRules.from_settings({"retention_direct_chats_months": 6})
    assert rules.direct_cutoff(now) == datetime.datetime(2026, 6, 7, 16, 0, tzinfo=datetime.UTC)
    assert RetentionRules.from_settings({"retention_direct_chats_months": 0}).direct_cutoff(now) == now
    with pytest.raises(ValueError):
        RetentionRules.from_settings({"retention_direct_chats_months": 1.5})
