"""Where each record goes: pure rules over a :class:`~bridge.directory.Directory`.

- A line item (homework) → the class chat of its class.
- A result → only the diary of its pupil (the pupil, the pupil's guardians and the bridge):
  a grade, "submitted, not graded yet", or "not submitted"; never a group room.
- Every pupil who has not handed in a line item → one summary for the teachers of that line
  item (the teacher who set it, else the class's confirmed teachers), in each teacher's own
  journal room; parents see only their own child's "not submitted".
- Lessons are not routed here: the timetable (``bridge.timetable``) tells their changes and
  reminders, which go to the class announcements room.

A :class:`Delivery` names either a room or the person whose diary it goes to (the poller
asks the provisioning service for diaries that do not exist yet). The privacy property
(no family ever gets another family's grades; grades never reach a group room) is tested
over generated schools in ``tests/unit/bridge/test_router_privacy.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.directory import Directory
from bridge.model import LineItem, MissingSummary, Record, Result, ScoreStatus


@dataclass(frozen=True)
class Delivery:
    """One message to post: the record, what it is (``homework``, ``grade``, ``submitted``,
    ``missing``, ``missing_summary``) and where: ``room_id``, or ``diary_of`` (a person id)."""

    record: Record
    what: str
    room_id: str | None = None
    diary_of: str | None = None

    @property
    def target(self) -> str:
        """The room id, or ``diary:PERSON`` before the diary is known (a stable key either way)."""
        return self.room_id or f"diary:{self.diary_of}"


def is_missing(r: Result) -> bool:
    """Not handed in: ``missing`` or the status "not submitted" (OneRoster 1.2 §4.13.5)."""
    return r.missing or r.status == ScoreStatus.NOT_SUBMITTED


def route(records: Iterable[Record], d: Directory) -> list[Delivery]:
    """The deliveries of a reading's records; records for unknown classes or pupils go nowhere."""
    out: list[Delivery] = []
    missing: dict[str, list[Result]] = defaultdict(list)
    items: dict[str, LineItem] = {}
    for rec in records:
        if isinstance(rec, LineItem):
            items[rec.item_id] = rec
            c = d.find_class(rec.class_id, rec.class_title)
            if c is not None and c.rooms.get("class_chat"):
                out.append(Delivery(rec, "homework", room_id=c.rooms["class_chat"]))
        elif isinstance(rec, Result):
            if rec.student_id not in d.students or rec.status == ScoreStatus.EXEMPT:
                continue
            if is_missing(rec):
                out.append(Delivery(rec, "missing", diary_of=rec.student_id))
                missing[rec.line_item_id].append(rec)
            elif rec.graded:
                out.append(Delivery(rec, "grade", diary_of=rec.student_id))
            elif rec.status == ScoreStatus.SUBMITTED:
                out.append(Delivery(rec, "submitted", diary_of=rec.student_id))
    for line_item_id, results in sorted(missing.items()):
        out += _missing_summaries(line_item_id, results, items.get(line_item_id), d)
    return out


def _missing_summaries(line_item_id: str, results: list[Result], item: LineItem | None,
                       d: Directory) -> list[Delivery]:
    first = results[0]
    c = d.find_class(first.class_id or (item.class_id if item else ""), first.class_title)
    if c is None:
        return []
    teachers = [t for t in d.teachers.values() if t.user_id and (
        (item is not None and item.teacher_id == t.person_id) or (
            (item is None or not item.teacher_id or item.teacher_id not in d.teachers) and t.user_id in c.teachers))]
    summary = MissingSummary(source=first.source, item_id=line_item_id, class_id=c.class_id,
                             title=(item.title if item else first.title) or line_item_id,
                             students=tuple(sorted(d.students[r.student_id].name for r in results)))
    return [Delivery(summary, "missing_summary", diary_of=t.person_id) for t in teachers]
