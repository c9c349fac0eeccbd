"""A school as the bridge routes by: classes, pupils, guardians, teachers and their rooms.

Read from the provisioning service (``GET /api/v1/organizations/{org}/journal``, see
``spaces_provisioner/api/journal.py``); this module is the parsed, immutable form, so that
the router (``bridge.router``) stays pure and testable over generated schools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


def class_key(title: str) -> str:
    """A class title in one spelling: "5 а", "5-А", "5a" → "5А" (Latin look-alikes folded to Cyrillic)."""
    t = re.sub(r"[\s\-«»\"'.]", "", title or "").upper()
    return t.translate(str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ"))


@dataclass(frozen=True)
class ClassInfo:
    """A class: its title, rooms by kind (``class_chat``, ``class_announcements``...), teachers' user ids."""

    class_id: str
    title: str
    rooms: Mapping[str, str]
    teachers: frozenset[str]
    students: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudentInfo:
    """A pupil: the account (None before registration), name, classes, guardians' user ids, diary room."""

    person_id: str
    user_id: str | None
    name: str
    classes: tuple[str, ...]
    guardians: frozenset[str]
    diary: str | None = None


@dataclass(frozen=True)
class TeacherInfo:
    """A confirmed teacher: the account, name, classes and journal room (who has not handed in work)."""

    person_id: str
    user_id: str | None
    name: str
    classes: tuple[str, ...]
    diary: str | None = None


@dataclass(frozen=True)
class Directory:
    """One organization: ``classes`` and ``students`` by roster id; ``timezone`` an IANA name."""

    org: str
    name: str
    timezone: str = "Europe/Moscow"
    language: str = "ru"
    enabled: bool = True
    announcements: str | None = None
    status_room: str | None = None
    classes: Mapping[str, ClassInfo] = field(default_factory=dict)
    students: Mapping[str, StudentInfo] = field(default_factory=dict)
    teachers: Mapping[str, TeacherInfo] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping) -> Directory:
        """Parse the provisioning service's answer (shape in ``spaces_provisioner/api/journal.py``)."""
        classes = {cid: ClassInfo(cid, c.get("title") or cid, dict(c.get("rooms") or {}),
                                  frozenset(c.get("teachers") or ()), tuple(c.get("students") or ()))
                   for cid, c in (data.get("classes") or {}).items()}
        students = {pid: StudentInfo(pid, s.get("user_id"), s.get("name") or pid, tuple(s.get("classes") or ()),
                                     frozenset(s.get("guardians") or ()), s.get("diary"))
                    for pid, s in (data.get("students") or {}).items()}
        teachers = {pid: TeacherInfo(pid, t.get("user_id"), t.get("name") or pid, tuple(t.get("classes") or ()),
                                     t.get("diary"))
                    for pid, t in (data.get("teachers") or {}).items()}
        rooms = data.get("rooms") or {}
        return cls(org=data["org"], name=data.get("name") or data["org"], timezone=data.get("timezone") or
                   "Europe/Moscow", language=data.get("language") or "ru",
                   enabled=bool(data.get("journal_bridge", True)), announcements=rooms.get("announcements"),
                   status_room=rooms.get("status"), classes=classes, students=students, teachers=teachers)

    def find_class(self, class_id: str, class_title: str = "") -> ClassInfo | None:
        """The class by roster id, else by title in any common spelling (``class_key``)."""
        if class_id and class_id in self.classes:
            return self.classes[class_id]
        wanted = class_key(class_title or class_id)
        if not wanted:
            return None
        for c in self.classes.values():
            if class_key(c.title) == wanted:
                return c
        return None

    def teacher_of(self, user_id: str, class_id: str) -> bool:
        """Whether ``user_id`` is a confirmed teacher of the class."""
        c = self.classes.get(class_id)
        return c is not None and user_id in c.teachers

    def class_of_room(self, room_id: str) -> tuple[ClassInfo, str] | None:
        """The class and room kind of one of its rooms."""
        for c in self.classes.values():
            for kind, rid in c.rooms.items():
                if rid == room_id:
                    return c, kind
        return None

    def diary_of(self, person_id: str) -> str | None:
        """The diary of a pupil, or the journal room of a teacher, when it exists."""
        if person_id in self.students:
            return self.students[person_id].diary
        t = self.teachers.get(person_id)
        return t.diary if t else None

    def with_diary(self, person_id: str, room_id: str) -> Directory:
        """A copy where the person's diary (a teacher's: journal room) is ``room_id`` (after the
        provisioner created it)."""
        students, teachers = dict(self.students), dict(self.teachers)
        if person_id in students:
            s = students[person_id]
            students[person_id] = StudentInfo(s.person_id, s.user_id, s.name, s.classes, s.guardians, room_id)
        elif person_id in teachers:
            t = teachers[person_id]
            teachers[person_id] = TeacherInfo(t.person_id, t.user_id, t.name, t.classes, room_id)
        return Directory(self.org, self.name, self.timezone, self.language, self.enabled, self.announcements,
                         self.status_room, self.classes, students, teachers)
