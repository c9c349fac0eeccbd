"""The school model: organizations, classes, people, enrollments and guardians.

Pure data (no Synapse, no network). Terms follow OneRoster 1.2 (§4 "Data model":
org, class, user, enrollment, academicSession) translated to the school words of
the glossary of docs/ARCHITECTURE.md; roles are Parta's roles from its role table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    """A person's role in one organization (docs/ARCHITECTURE.md, "Roles and default powers")."""

    ADMIN = "admin"
    HEAD = "head"
    TEACHER = "teacher"
    STUDENT = "student"
    PARENT = "parent"

    @property
    def is_staff(self) -> bool:
        """True for the adults who work at the school (admin, head, teacher)."""
        return self in (Role.ADMIN, Role.HEAD, Role.TEACHER)


class OrgKind(enum.StrEnum):
    """Kind of organization: general school, college (SPO), supplementary education."""

    GENERAL = "general"
    SPO = "spo"
    ADDITIONAL = "additional"


@dataclass(frozen=True)
class FullName:
    """ФИО: family name, given name and optional patronymic (``middle_name``)."""

    family_name: str
    given_name: str
    middle_name: str = ""

    @property
    def display(self) -> str:
        """The name in Russian order: "Family Given Middle"."""
        return " ".join(p for p in (self.family_name, self.given_name, self.middle_name) if p)


@dataclass(frozen=True)
class Person:
    """A person in a roster.

    ``source_id`` is the roster's ``sourcedId`` (unique within one roster import);
    ``role`` is the Parta role the roster gives; ``grades`` are the grade levels
    (OneRoster ``grades``), e.g. ``("05",)``.
    """

    source_id: str
    name: FullName
    role: Role
    grades: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchoolClass:
    """A class (OneRoster ``class``): a group of students taught together, e.g. "5А".

    ``source_id`` is the roster's ``sourcedId``; ``grades`` as in OneRoster.
    """

    source_id: str
    title: str
    grades: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enrollment:
    """A person's membership of a class (OneRoster ``enrollment``); role is TEACHER or STUDENT."""

    class_id: str
    person_id: str
    role: Role
    primary: bool = False


@dataclass(frozen=True)
class Guardianship:
    """A guardian (законный представитель) of a student.

    ``relation`` keeps the roster's word (``guardian``, ``parent``, ``relative``...).
    """

    student_id: str
    guardian_id: str
    relation: str = "guardian"


@dataclass(frozen=True)
class RowProblem:
    """A roster row that could not be used: ``file:line: reason``, or ``file:line:column: reason``
    when one cell is at fault (line is 1-based, header = 1; ``column`` as the file names it)."""

    file: str
    line: int
    reason: str
    column: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass
class Roster:
    """A whole roster after parsing: what a school's export says, normalized.

    ``format`` is one of ``oneroster-1.1``, ``oneroster-1.2``, ``sds-2.1``, ``sds-2``, ``sds-classic``,
    ``class-list``.
    Mappings are keyed by ``source_id``. ``problems`` lists the rows left out.
    """

    format: str
    classes: dict[str, SchoolClass] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    enrollments: list[Enrollment] = field(default_factory=list)
    guardianships: list[Guardianship] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    #: A OneRoster delta export (the manifest's ``file.*`` say ``delta``): only changes; what it
    #: does not name stays as it is, and ``deleted`` names what its ``tobedeleted`` rows remove:
    #: ``{"person": {ids}, "class": {ids}, "enrollment": {(class id, person id)}}``.
    delta: bool = False
    deleted: dict[str, set] = field(default_factory=dict)

    def students_of(self, class_id: str) -> list[str]:
        """Source ids of the students enrolled in ``class_id``."""
        return [e.person_id for e in self.enrollments if e.class_id == class_id and e.role is Role.STUDENT]

    def teachers_of(self, class_id: str) -> list[str]:
        """Source ids of the teachers enrolled in ``class_id``."""
        return [e.person_id for e in self.enrollments if e.class_id == class_id and e.role is Role.TEACHER]
