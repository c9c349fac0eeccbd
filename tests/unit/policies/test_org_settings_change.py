"""policies.org_settings_change: which settings the administration may change and the rules of each value."""

from __future__ import annotations

import pytest

from policies import org_settings
from policies.i18n import set_language
from policies.org_settings_change import CHANGEABLE, check_changes


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    set_language(None)


def test_every_default_of_a_changeable_setting_may_be_stored():
    assert check_changes({k: org_settings.defaults()[k] for k in CHANGEABLE}) == []


@pytest.mark.parametrize("name,value,fix", [
    ("students_may_message_classmates", "yes", "true or false"),
    ("retention_archived_months", 0, "1 to 1200"),
    ("retention_direct_chats_months", True, "1 to 1200"),
    ("max_guardians_per_child", 11, "1 to 10"),
    ("parent_email_grades", [0], "1 to 11"),
    ("quiet_hours_silence", ["admin"], "student, parent, teacher"),
    ("timezone", "Mars/Olympus", "Europe/Moscow"),
    ("school_year_end", "6-30", "MM-DD"),
    ("office_hours", {"days": [8], "from": "08:00", "to": "20:00"}, "weekdays"),
    ("office_hours", "8-20", "null or hours"),
    ("language", "en", "students_may_message_classmates"),
])
def test_a_bad_value_names_the_setting_and_the_fix(name, value, fix):
    [(named, message)] = check_changes({name: value})
    assert named == name and fix in message


def test_good_values_and_an_empty_change():
    assert check_changes({"office_hours": {"days": [1, 2], "from": "08:00", "to": "18:00"},
                          "retention_archived_months": None, "quiet_hours_silence": []}) == []
    assert [n for n, _m in check_changes({})] == ["settings"]
    assert [n for n, _m in check_changes([1])] == ["settings"]
