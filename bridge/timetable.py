"""Telling what changed in a timetable between two readings (pure).

A lesson is known by its source's id (an iCalendar UID with its RECURRENCE-ID); a later
reading with a lower ``SEQUENCE`` than the one kept is an older copy and ignored (RFC 5545
§3.8.7.4). Changes that matter to a class: cancelled, another teacher (substitution),
another time or room (moved). The first reading of a timetable announces only cancellations:
everything else is simply the timetable.
"""

from __future__ import annotations

from bridge.model import ChangeKind, Lesson, LessonStatus, TimetableChange, lesson_from_json


def change_of(before: dict | None, after: Lesson) -> TimetableChange | None:
    """The change from ``before`` (the stored JSON of the lesson, None when first seen) to ``after``."""
    if before is None:
        if after.status == LessonStatus.CANCELLED:
            return TimetableChange(ChangeKind.CANCELLED, after)
        return None
    old = lesson_from_json(before)
    if after.sequence < old.sequence:
        return None
    if after.status == LessonStatus.CANCELLED and old.status != LessonStatus.CANCELLED:
        return TimetableChange(ChangeKind.CANCELLED, after, old)
    if after.status == LessonStatus.CANCELLED:
        return None
    if old.status == LessonStatus.CANCELLED:
        return TimetableChange(ChangeKind.ADDED, after, old)
    if (old.start, old.end, old.location) != (after.start, after.end, after.location):
        return TimetableChange(ChangeKind.MOVED, after, old)
    if old.teacher and after.teacher and old.teacher != after.teacher:
        return TimetableChange(ChangeKind.SUBSTITUTION, after, old)
    return None


def is_newer(before: dict | None, after: Lesson) -> bool:
    """Whether ``after`` should replace what is stored (not an older SEQUENCE)."""
    return before is None or after.sequence >= int(before.get("sequence") or 0)
