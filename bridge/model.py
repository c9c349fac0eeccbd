"""The one internal model every journal source is translated into.

Sources (``bridge.sources``) read a journal's own format and return a :class:`Snapshot` of
these records; everything after them (the router, the store, the renderers) knows only this
module. Ids are the source's own (a OneRoster ``sourcedId``, an iCalendar ``UID`` with its
``RECURRENCE-ID``, a «Моя школа» lesson id); ``class_id`` and ``student_id`` are the roster's
ids as Parta's provisioner knows them (a OneRoster gradebook and a OneRoster roster of one
school share them), or a class title such as ``"5А"`` when the source only has names
(``class_title``), resolved by the router.

Sources followed: OneRoster 1.2 Gradebook (lineItem §4.3, result §4.6, scoreStatus
§4.13.5), RFC 5545 (VEVENT: UID, RECURRENCE-ID, STATUS, SEQUENCE), the «Моя школа» Schedule
contract (``lesson``: subject, topic, homework, attendance, score).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import ClassVar


class ScoreStatus(StrEnum):
    """OneRoster 1.2 ``ScoreStatusEnum`` (Gradebook §4.13.5)."""

    EXEMPT = "exempt"
    FULLY_GRADED = "fully graded"
    NOT_SUBMITTED = "not submitted"
    PARTIALLY_GRADED = "partially graded"
    SUBMITTED = "submitted"


def _jsonable(value: object) -> object:
    # Matrix events are canonical JSON, which has no floats (spec: "Canonical JSON"): a whole
    # number goes as an integer, anything else as its decimal text
    if isinstance(value, float):
        return int(value) if value.is_integer() else f"{value:g}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Record:
    """Common part of every record: the source's name (from the bridge's config) and its id there."""

    kind: ClassVar[str] = "record"

    source: str
    item_id: str

    @property
    def key(self) -> tuple[str, str, str]:
        """``(source, kind, item_id)``: what the bridge's database de-duplicates on."""
        return (self.source, self.kind, self.item_id)

    def to_json(self) -> dict:
        """The record as JSON-ready data (dates as ISO 8601 strings; numbers as integers, or as text
        when not whole, since Matrix events allow no floats)."""
        return {"kind": self.kind, **{k: _jsonable(v) for k, v in asdict(self).items()}}

    def fingerprint(self) -> str:
        """sha256 (hex) of the record's content: a changed record has a new fingerprint."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)
                              .encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LineItem(Record):
    """An assignment or homework (OneRoster ``lineItem``; a «Моя школа» lesson's ``homework``).

    ``due``: the date (or moment) it is due; ``assigned``: when it was set. ``teacher_id``:
    the roster id of the teacher who set it, when the source says.
    """

    kind: ClassVar[str] = "line_item"

    class_id: str = ""
    title: str = ""
    description: str = ""
    subject: str = ""
    category: str = ""
    assigned: date | None = None
    due: date | datetime | None = None
    teacher_id: str | None = None
    class_title: str = ""
    max_score: float | None = None


@dataclass(frozen=True)
class Result(Record):
    """One pupil's result for a line item (OneRoster ``result``): a grade, or the lack of one.

    ``status`` keeps "not submitted" (``missing`` / ``NOT_SUBMITTED``) apart from "submitted,
    not graded yet" (``SUBMITTED``). ``score`` is numeric when the journal gives a number,
    ``text_score`` the mark as written ("5", "зачёт", "н").
    """

    kind: ClassVar[str] = "result"

    line_item_id: str = ""
    student_id: str = ""
    class_id: str = ""
    status: ScoreStatus = ScoreStatus.FULLY_GRADED
    score: float | None = None
    text_score: str = ""
    comment: str = ""
    score_date: date | None = None
    late: bool = False
    missing: bool = False
    incomplete: bool = False
    title: str = ""            # the line item's title, copied so that a result can be shown alone
    subject: str = ""
    class_title: str = ""

    @property
    def graded(self) -> bool:
        """True when there is a mark to show (a score or a text score) and the work is not missing."""
        return (self.score is not None or bool(self.text_score)) and self.status in (
            ScoreStatus.FULLY_GRADED, ScoreStatus.PARTIALLY_GRADED)


class LessonStatus(StrEnum):
    """A lesson as the timetable says: on, or cancelled (RFC 5545 ``STATUS:CANCELLED``)."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Lesson(Record):
    """One lesson of the timetable (one occurrence; an RRULE is expanded by the source).

    ``start``/``end`` are timezone-aware. ``online_url``: the call link when the lesson is
    online. ``sequence``: RFC 5545 ``SEQUENCE`` (a higher one supersedes). ``teacher``: the
    teacher's name as the timetable writes it (a substitution changes it).
    """

    kind: ClassVar[str] = "lesson"

    class_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    subject: str = ""
    topic: str = ""
    teacher: str = ""
    location: str = ""
    status: LessonStatus = LessonStatus.SCHEDULED
    online_url: str | None = None
    sequence: int = 0
    class_title: str = ""
    homework: str = ""


class ChangeKind(StrEnum):
    """What happened to a lesson between two readings of the timetable."""

    CANCELLED = "cancelled"
    SUBSTITUTION = "substitution"      # another teacher
    MOVED = "moved"                    # another time or place
    ADDED = "added"                    # a lesson that was not in the timetable


@dataclass(frozen=True)
class TimetableChange:
    """A change of one lesson: what it was (``before``, None when added) and what it is now."""

    kind: ChangeKind
    lesson: Lesson
    before: Lesson | None = None


@dataclass(frozen=True)
class Snapshot:
    """What one reading of a source gave.

    ``complete``: the records are the source's whole current content (a full CSV drop, a
    feed), so a record missing from it may have been withdrawn; False for a source that only
    gives what changed (ЭлЖур's ``getupdates``). ``validators``: the HTTP caching validators
    to send next time (``{"etag": ..., "last_modified": ...}``). ``since``: for a source read
    over a window of days (a timetable, a diary), the window's first day: a record dated
    before it that is missing has left the window, it was not withdrawn.
    """

    records: tuple[Record, ...] = ()
    complete: bool = True
    validators: dict = field(default_factory=dict)
    since: date | None = None


class SourceError(Exception):
    """A source could not be read: the message names the place (file:line, URL) and the fix.

    ``retry``: whether polling again may help (a network failure) or not until someone
    changes something (a malformed file, refused credentials).
    """

    def __init__(self, message: str, *, retry: bool = True):
        super().__init__(redact_urls(message))
        self.retry = retry


_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?:[^/@\s]*@)?(?P<rest>[^\s?#]*?)(?:\?[^\s#]*?)?(?:#\S*?)?"
                  r"(?=:?(?:\s|$))", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with every URL cut to scheme, host and path: a query (``?token=…``, ``devkey=…``) and
    user information (``user:password@``) are secrets that error texts (logs, the bridge's health,
    the administrators' notices) must not carry."""
    return _URL.sub(lambda m: m["scheme"] + _SECRET_SEGMENT.sub("…", m["rest"]), text)


#: A path segment that looks like a key (a private calendar's "private-0123abcd…" address).
_SECRET_SEGMENT = re.compile(r"[A-Za-z0-9_-]*(?=[A-Za-z_-]*\d)(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}")


@dataclass(frozen=True)
class MissingSummary(Record):
    """Who has not handed in a line item: made by the router for the teacher's eyes only.

    ``item_id`` is the line item's id; ``students``: the pupils' names, sorted.
    """

    kind: ClassVar[str] = "missing_summary"

    class_id: str = ""
    title: str = ""
    students: tuple[str, ...] = ()


def lesson_from_json(data: dict) -> Lesson:
    """A :class:`Lesson` back from :meth:`Record.to_json` (as the bridge's database keeps it)."""
    def moment(v: object) -> datetime | None:
        return datetime.fromisoformat(str(v)) if v else None

    return Lesson(source=data["source"], item_id=data["item_id"], class_id=data.get("class_id", ""),
                  start=moment(data.get("start")), end=moment(data.get("end")), subject=data.get("subject", ""),
                  topic=data.get("topic", ""), teacher=data.get("teacher", ""), location=data.get("location", ""),
                  status=LessonStatus(data.get("status", "scheduled")), online_url=data.get("online_url"),
                  sequence=int(data.get("sequence") or 0), class_title=data.get("class_title", ""),
                  homework=data.get("homework", ""))
