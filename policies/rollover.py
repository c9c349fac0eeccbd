"""The new school year: which class becomes which, who graduates, and the archive's power levels.

Pure rules for ``parta year rollover`` (:mod:`spaces_provisioner.ops.rollover`). A class is a
cohort: 5А becomes 6А with the same pupils; the final grade (the organization's ``final_grade``,
default 11) graduates out. A class id Parta derives from the title (``class-05a``, the class
lists' and the demo generator's) follows the grade (``class-06a``), so that next year's list of
the same school matches it; any other id (a OneRoster ``sourcedId``) is kept with the new title.

Last year's class rooms are archived: kept, still readable by their members, written by nobody
(:func:`archived_power_levels`), and under a name that carries the year (:func:`archived_name`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: A class title: the grade and the letter ("5А", "10Б", "11"); what class lists write is
#: normalised before it reaches the database.
TITLE = re.compile(r"^\s*(\d{1,2})\s*(.*?)\s*$")
#: A class id Parta derived from a title: ``class-05a``.
DERIVED_ID = re.compile(r"^(class-)(\d{2})([a-z]*)$")


@dataclass(frozen=True)
class Promotion:
    """What one class becomes: ``new_id`` (may equal the old), ``title``, ``grades`` (OneRoster
    codes), or ``graduates`` (the final grade: its pupils leave the school)."""

    class_id: str
    new_id: str
    title: str
    grades: tuple[str, ...]
    graduates: bool = False


def promote(class_id: str, title: str, final_grade: int) -> Promotion | None:
    """The class's next year; None when its title names no grade (a club, a group: kept as it is).

    ``promote("class-05a", "5А", 11)`` → ``Promotion("class-05a", "class-06a", "6А", ("06",))``;
    the final grade → ``graduates=True``.
    """
    m = TITLE.match(title)
    if m is None:
        return None
    grade, letter = int(m.group(1)), m.group(2)
    if grade >= final_grade:
        return Promotion(class_id, class_id, title, (f"{grade:02d}",), graduates=True)
    derived = DERIVED_ID.match(class_id)
    new_id = f"{derived.group(1)}{grade + 1:02d}{derived.group(3)}" if derived else class_id
    return Promotion(class_id, new_id, f"{grade + 1}{letter}", (f"{grade + 1:02d}",))


def promotions(classes: Mapping[str, str], final_grade: int) -> list[Promotion]:
    """:func:`promote` for every class ``{class_id: title}``, the highest grade first (so that a
    derived id is free before the class below takes it)."""
    out = [p for cid, title in classes.items() if (p := promote(cid, title, final_grade)) is not None]
    return sorted(out, key=lambda p: (-int(p.grades[0]), p.class_id))


def school_year(today: datetime.date | None = None) -> str:
    """The label of the school year a rollover made in ``today``'s calendar year closes: the year
    that ended (or ends) that summer, ``"2025/26"`` for a rollover in June or in September 2026."""
    y = (today or datetime.date.today()).year
    return f"{y - 1}/{y % 100:02d}"


def archived_name(name: str, year: str) -> str:
    """The archived room's name: ``"5А: чат класса (2025/26)"``."""
    return f"{name} ({year})"


def archived_power_levels(current: Mapping) -> dict:
    """``m.room.power_levels`` of an archived room: every event and action needs 100; only those
    who had 100 keep it (the school's administrators, to moderate what stays); the bot's own
    level (above 100) stays. Members keep reading."""
    pl = {k: v for k, v in current.items() if k not in ("users", "events", "notifications")}
    for key in ("events_default", "state_default", "invite", "kick", "ban", "redact"):
        pl[key] = max(int(current.get(key, 0) or 0), 100)
    pl["events"] = {etype: max(int(level), 100) for etype, level in (current.get("events") or {}).items()}
    pl["users"] = {u: int(level) for u, level in (current.get("users") or {}).items() if int(level) >= 100}
    pl["users_default"] = 0
    pl["notifications"] = {"room": 100}
    return pl
