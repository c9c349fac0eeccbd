"""The new school year's rules: promotions, graduation, the year's label, archived power levels."""

from __future__ import annotations

import datetime

from policies.rollover import archived_power_levels, promote, promotions, school_year


def test_a_class_moves_up_a_grade():
    p = promote("class-05a", "5А", 11)
    assert (p.new_id, p.title, p.grades, p.graduates) == ("class-06a", "6А", ("06",), False)
    assert promote("class-09", "9", 11).new_id == "class-10"


def test_a_roster_id_is_kept_with_the_new_title():
    p = promote("112001", "10Б", 11)
    assert (p.new_id, p.title) == ("112001", "11Б")


def test_the_final_grade_graduates():
    assert promote("class-11a", "11А", 11).graduates
    assert promote("class-09a", "9А", 9).graduates  # a basic school ends at 9
    assert not promote("class-08a", "8А", 9).graduates


def test_a_class_without_a_grade_stays():
    assert promote("club-chess", "Шахматный кружок", 11) is None


def test_promotions_free_derived_ids_from_the_top():
    order = [p.class_id for p in promotions({"class-05a": "5А", "class-06a": "6А", "class-11a": "11А"}, 11)]
    assert order == ["class-11a", "class-06a", "class-05a"]


def test_the_year_label():
    assert school_year(datetime.date(2026, 6, 20)) == "2025/26"
    assert school_year(datetime.date(2026, 9, 1)) == "2025/26"


def test_archived_rooms_are_read_only():
    pl = archived_power_levels({"users": {"@parta:s": 150, "@admin:s": 100, "@teacher:s": 50},
                                "events_default": 0, "events": {"m.reaction": 0, "m.room.name": 100},
                                "state_default": 50, "invite": 50, "redact": 50})
    assert pl["users"] == {"@parta:s": 150, "@admin:s": 100}
    assert pl["events_default"] == 100 and pl["events"]["m.reaction"] == 100 and pl["invite"] == 100
