"""Assembling a :class:`policies.model.Roster` from rows, whatever the file format.

The format readers (:mod:`.oneroster`, :mod:`.sds`) feed classes, people, role offers,
enrollments and guardian links here; this module checks references, resolves each
person's Parta role and records a :class:`RowProblem` for every row left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.i18n import _, ngettext
from policies.model import Enrollment, FullName, Guardianship, Person, Role, Roster, RowProblem, SchoolClass

# Role words of OneRoster 1.1 (users.role, enrollments.role) and 1.2 (RoleEnum), lower-cased.
ONEROSTER_ROLES: dict[str, Role] = {
    "teacher": Role.TEACHER,
    "aide": Role.TEACHER,
    "proctor": Role.TEACHER,
    "student": Role.STUDENT,
    "parent": Role.PARENT,
    "guardian": Role.PARENT,
    "relative": Role.PARENT,
    "administrator": Role.ADMIN,
    "siteadministrator": Role.ADMIN,
    "systemadministrator": Role.ADMIN,
    "districtadministrator": Role.ADMIN,
    "principal": Role.HEAD,
}

# Role words of SDS v2.1 (roles.role, enrollments.role, relationships.relationshipRole), lower-cased.
SDS_ROLES: dict[str, Role] = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    "professor": Role.TEACHER,
    "faculty": Role.TEACHER,
    "instructor": Role.TEACHER,
    "lecturer": Role.TEACHER,
    "adjunct": Role.TEACHER,
    "substitute": Role.TEACHER,
    "teacherassistant": Role.TEACHER,
    "guardian": Role.PARENT,
    "parent": Role.PARENT,
    "relative": Role.PARENT,
    "administrator": Role.ADMIN,
    "principal": Role.HEAD,
}

PARENTAL_WORDS = ("guardian", "parent", "relative")

# Ranks of role offers: the lowest rank wins, the first offer among equals.
PRIMARY, SECONDARY, ENROLLED = 0, 1, 2


def split_list(value: str) -> tuple[str, ...]:
    """A comma list (``"09,10,11"``, ``"a, b"``) as a tuple of stripped, non-empty items."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass
class _Pending:
    source_id: str
    name: FullName
    grades: list[str]
    file: str
    line: int
    offers: list[tuple[int, int, Role]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    role: Role | None = None


@dataclass
class _Link:
    file: str
    line: int
    student_id: str
    guardian_ids: tuple[str, ...]
    relation: str
    from_agents: bool


class RosterBuilder:
    """Collects rows of one roster and builds the :class:`Roster` (see :meth:`build`)."""

    def __init__(self, format: str, delta: bool = False) -> None:
        self.format = format
        self.delta = delta  # a OneRoster delta: references may name what the school already has
        self._deleted: dict[str, set] = {}
        self._classes: dict[str, SchoolClass] = {}
        self._class_lines: dict[str, tuple[str, int]] = {}
        self._people: dict[str, _Pending] = {}
        self._left_out: dict[tuple[str, str], str] = {}
        self._enrollments: list[Enrollment] = []
        self._enrollment_lines: dict[tuple[str, str, Role], int] = {}
        self._links: list[_Link] = []
        self._problems: list[RowProblem] = []
        self._order = 0

    # -- problems ---------------------------------------------------------------------
    def problem(self, file: str, line: int, reason: str, column: str = "") -> None:
        """Record that row ``file:line`` (cell ``column``) is left out because of ``reason``."""
        self._problems.append(RowProblem(file, line, reason, column))

    def missing_fields(self, file: str, line: int, values: dict[str, str]) -> bool:
        """Record a problem and return True if one of ``values`` (field → value) is empty."""
        empty = [name for name, value in values.items() if not value]
        if empty:
            self.problem(
                file,
                line,
                ngettext("required field {fields} is empty", "required fields {fields} are empty", len(empty)).format(
                    fields=", ".join(empty)
                ),
            )
        return bool(empty)

    def duplicate(self, file: str, line: int, source_id: str, first_line: int) -> None:
        """Record a duplicate ``sourcedId`` (the first row with it is kept)."""
        self.problem(
            file, line, _("duplicate sourcedId {id} (first at line {line})").format(id=source_id, line=first_line)
        )

    def tobedeleted(self, kind: str, file: str, line: int, source_id: str) -> None:
        """Record a ``status=tobedeleted`` row; references to ``source_id`` are reported too. In a
        delta it is a deletion (:meth:`delete`), not a problem."""
        if self.delta and source_id and kind in ("person", "class"):
            self.delete(kind, source_id)
        else:
            self.problem(file, line, _("marked tobedeleted"))
        if source_id:
            self._left_out.setdefault((kind, source_id), "tobedeleted")

    def left_out(self, kind: str, source_id: str, file: str, line: int) -> None:
        """Note that the row defining ``source_id`` (``kind`` class/person) was left out."""
        if source_id:
            self._left_out.setdefault((kind, source_id), f"{file}:{line}")

    # -- classes ----------------------------------------------------------------------
    def add_class(self, file: str, line: int, source_id: str, title: str, grades: tuple[str, ...]) -> None:
        """Add a class; a duplicate ``source_id`` is a problem."""
        if source_id in self._class_lines:
            self.duplicate(file, line, source_id, self._class_lines[source_id][1])
            return
        self._class_lines[source_id] = (file, line)
        self._classes[source_id] = SchoolClass(source_id, title, grades)

    def has_class(self, source_id: str) -> bool:
        """True if the class was added."""
        return source_id in self._classes

    # -- people -----------------------------------------------------------------------
    def add_person(self, file: str, line: int, source_id: str, name: FullName, grades: tuple[str, ...] = ()) -> bool:
        """Add a person (role to be resolved); False (and a problem) for a duplicate."""
        if source_id in self._people:
            self.duplicate(file, line, source_id, self._people[source_id].line)
            return False
        self._people[source_id] = _Pending(source_id, name, list(grades), file, line)
        return True

    def has_person(self, source_id: str) -> bool:
        """True if the person was added."""
        return source_id in self._people

    def family_name_of(self, source_id: str) -> str:
        """The family name of a person added before ("" for an unknown id)."""
        person = self._people.get(source_id)
        return person.name.family_name if person else ""

    def add_grade(self, person_id: str, grade: str) -> None:
        """Add a grade level to a known person."""
        pending = self._people[person_id]
        if grade and grade not in pending.grades:
            pending.grades.append(grade)

    def offer_role(self, person_id: str, role: Role, rank: int, word: str = "") -> None:
        """Offer ``role`` to a known person with ``rank`` (PRIMARY, SECONDARY, ENROLLED); a person
        only a delta's references name keeps the role the school has."""
        pending = self._people.get(person_id)
        if pending is None:
            return
        self._order += 1
        pending.offers.append((rank, self._order, role))
        if word:
            pending.words.append(word.lower())

    # -- references -------------------------------------------------------------------
    def class_ref_problem(self, class_id: str) -> str | None:
        """None if ``class_id`` is a known class (or, in a delta, one the school may have), else
        the reason a reference to it fails."""
        if class_id in self._classes or (self.delta and ("class", class_id) not in self._left_out):
            return None
        return self._ref_reason("class", class_id)

    def person_ref_problem(self, person_id: str) -> str | None:
        """None if ``person_id`` is a known person (or, in a delta, one the school may have), else
        the reason a reference to it fails."""
        if person_id in self._people or (self.delta and ("person", person_id) not in self._left_out):
            return None
        return self._ref_reason("person", person_id)

    def delete(self, kind: str, key: object) -> None:
        """A delta's ``tobedeleted`` row: ``kind`` person, class or enrollment (``(class, person)``)."""
        self._deleted.setdefault(kind, set()).add(key)

    def _ref_reason(self, kind: str, source_id: str) -> str:
        why = self._left_out.get((kind, source_id))
        if kind == "class":
            if why == "tobedeleted":
                return _("class {id} is marked tobedeleted").format(id=source_id)
            if why:
                return _("class {id} was left out (see {where})").format(id=source_id, where=why)
            return _("unknown class {id}").format(id=source_id)
        if why == "tobedeleted":
            return _("person {id} is marked tobedeleted").format(id=source_id)
        if why:
            return _("person {id} was left out (see {where})").format(id=source_id, where=why)
        return _("unknown person {id}").format(id=source_id)

    # -- enrollments and guardians -----------------------------------------------------
    def add_enrollment(
        self, file: str, line: int, class_id: str, person_id: str, role_word: str, roles: dict[str, Role], primary: bool
    ) -> None:
        """Add an enrollment row (teacher or student); any other role or a bad reference is a problem.

        The enrollment's role is also offered to the person (rank ENROLLED).
        """
        reason = self.class_ref_problem(class_id) or self.person_ref_problem(person_id)
        if reason:
            self.problem(file, line, reason)
            return
        role = roles.get(role_word.lower())
        if role is None:
            self.problem(file, line, _("unknown role {role}").format(role=role_word))
            return
        if role not in (Role.TEACHER, Role.STUDENT):
            self.problem(file, line, _("role {role} cannot be enrolled in a class (only teacher or student)").format(
                role=role_word))
            return
        key = (class_id, person_id, role)
        if key in self._enrollment_lines:
            self.problem(
                file,
                line,
                _("duplicate enrollment of {person} in class {class_id} (first at line {line})").format(
                    person=person_id, class_id=class_id, line=self._enrollment_lines[key]
                ),
            )
            return
        self._enrollment_lines[key] = line
        self._enrollments.append(Enrollment(class_id, person_id, role, primary))
        self.offer_role(person_id, role, ENROLLED)

    def add_relationship(self, file: str, line: int, student_id: str, guardian_id: str, relation: str) -> None:
        """SDS: ``guardian_id`` is a guardian of ``student_id`` (checked in :meth:`build`).

        Only ``relation`` guardian, parent or relative makes a guardianship; other SDS
        words (aide, doctor, other) are problems.
        """
        if relation.lower() not in PARENTAL_WORDS:
            self.problem(
                file,
                line,
                _("relationship {role} does not make a guardian (expected guardian, parent or relative)").format(
                    role=relation
                ),
            )
            return
        self._links.append(_Link(file, line, student_id, (guardian_id,), relation, from_agents=False))

    def add_agents(self, file: str, line: int, person_id: str, agent_ids: tuple[str, ...]) -> None:
        """OneRoster ``agentSourcedIds`` of a person's row (checked in :meth:`build`).

        Agents of a student are the student's guardians; agents of anyone else make no
        guardianship, and only an agent that does not exist is a problem.
        """
        if agent_ids:
            self._links.append(_Link(file, line, person_id, agent_ids, "", from_agents=True))

    # -- result -----------------------------------------------------------------------
    def build(self) -> Roster:
        """Resolve roles and guardian links; return the roster with its problems sorted by file and line.

        A person's role is the first PRIMARY offer, else the first SECONDARY one, else
        the first enrollment's, else PARENT if the person is somebody's guardian; a
        person left with no role is a problem and is left out.
        """
        for pending in self._people.values():
            if pending.offers:
                pending.role = min(pending.offers)[2]
        guardianships: list[Guardianship] = []
        seen: dict[tuple[str, str], int] = {}
        for link in self._links:
            for guardianship in self._resolve_link(link, seen):
                guardianships.append(guardianship)
        for g in guardianships:
            guardian = self._people.get(g.guardian_id)
            if guardian is not None and guardian.role is None:
                guardian.role = Role.PARENT
        people: dict[str, Person] = {}
        for pending in self._people.values():
            if pending.role is None:
                self.problem(
                    pending.file,
                    pending.line,
                    _("person {id} has no role (no role row, enrollment or guardian relationship names it)").format(
                        id=pending.source_id
                    ),
                )
                continue
            people[pending.source_id] = Person(pending.source_id, pending.name, pending.role, tuple(pending.grades))
        files = {p.file for p in self._problems}
        order = {name: i for i, name in enumerate(sorted(files))}
        problems = sorted(self._problems, key=lambda p: (order[p.file], p.line))
        return Roster(
            format=self.format,
            classes=dict(self._classes),
            people=people,
            enrollments=list(self._enrollments),
            guardianships=guardianships,
            problems=problems,
            delta=self.delta,
            deleted={k: set(v) for k, v in self._deleted.items()},
        )

    def _resolve_link(self, link: _Link, seen: dict[tuple[str, str], int]) -> list[Guardianship]:
        if link.from_agents:
            owner = self._people[link.student_id]
            found: list[Guardianship] = []
            for agent_id in link.guardian_ids:
                reason = self.person_ref_problem(agent_id)
                if reason:
                    self.problem(link.file, link.line, _("agentSourcedIds: {reason}").format(reason=reason))
                    continue
                if owner.role is not Role.STUDENT or agent_id == owner.source_id:
                    continue
                agent = self._people.get(agent_id)
                if agent is None:  # a delta's reference to a guardian the school has (checked on import)
                    if (owner.source_id, agent_id) not in seen:
                        seen[(owner.source_id, agent_id)] = link.line
                        found.append(Guardianship(owner.source_id, agent_id, "guardian"))
                    continue
                if agent.role is Role.STUDENT:
                    self.problem(
                        link.file, link.line, _("agent {id} is a student, not a guardian").format(id=agent_id)
                    )
                    continue
                if (owner.source_id, agent_id) in seen:
                    continue
                seen[(owner.source_id, agent_id)] = link.line
                relation = next((w for w in agent.words if w in PARENTAL_WORDS), "guardian")
                found.append(Guardianship(owner.source_id, agent_id, relation))
            return found
        guardian_id = link.guardian_ids[0]
        reason = self.person_ref_problem(link.student_id) or self.person_ref_problem(guardian_id)
        if reason:
            self.problem(link.file, link.line, reason)
            return []
        student = self._people[link.student_id]
        if student.role is not Role.STUDENT:
            self.problem(link.file, link.line, _("{id} is not a student").format(id=link.student_id))
            return []
        if self._people[guardian_id].role is Role.STUDENT or guardian_id == link.student_id:
            self.problem(link.file, link.line, _("{id} is a student, not a guardian").format(id=guardian_id))
            return []
        key = (link.student_id, guardian_id)
        if key in seen:
            self.problem(
                link.file,
                link.line,
                _("duplicate relationship of {student} and {guardian} (first at line {line})").format(
                    student=link.student_id, guardian=guardian_id, line=seen[key]
                ),
            )
            return []
        seen[key] = link.line
        return [Guardianship(link.student_id, guardian_id, link.relation)]
