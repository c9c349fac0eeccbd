"""Schools the integration tests build, made by Parta's own generator (no third-party samples).

:func:`attack_school` is a two-class school (1А and 5А, five or six pupils each) small enough to
provision in seconds; :func:`attack_cast` picks from it the people the attack suite acts as, by
their relations (not by fixed ids), so the suite says what each person is to the others.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from policies.model import FullName

from spaces_provisioner.roster.generate import GeneratedSchool, SchoolSize, generate_school, write_oneroster

ATTACK_SIZE = SchoolSize(grades=(1, 5), letters=1, pupils_per_class=(5, 6))
ATTACK_SEED = 1


@functools.cache
def attack_school() -> GeneratedSchool:
    """The attack suite's school A (the same at every run)."""
    return generate_school(ATTACK_SIZE, seed=ATTACK_SEED)


def write_attack_roster(folder: Path) -> Path:
    """Write :func:`attack_school` as a OneRoster 1.2 roster into ``folder``; returns the folder."""
    write_oneroster(attack_school(), folder)
    return folder


@dataclass(frozen=True)
class Cast:
    """Roster person ids of the attack suite's people in school A, and their class.

    ``teacher`` is the class teacher of ``class_id`` (confirmed in the tests); ``unconfirmed``
    a teacher who does not teach that class; ``student``, ``classmate`` and ``student3`` are
    pupils of ``class_id``; ``parent`` a guardian of ``student`` only; ``parent3`` a guardian of
    ``student3`` only (no relation to ``student`` or ``classmate``); ``other_class`` a pupil of
    another class.
    """

    class_id: str
    class_title: str
    teacher: str
    unconfirmed: str
    student: str
    classmate: str
    student3: str
    parent: str
    parent3: str
    other_class: str

    def name(self, person_id: str) -> FullName:
        """The ФИО of a person of the cast."""
        school = attack_school()
        people = {p.source_id: p for p in (*school.teachers, *school.pupils, *school.guardians)}
        return people[person_id].name


@functools.cache
def attack_cast() -> Cast:
    """The cast, chosen by relations from :func:`attack_school`."""
    school = attack_school()
    demo = school.demo_people()
    student = school.pupil_by_id()[demo["student"]]
    cls = school.class_by_id()[student.class_id]
    mates = [p for p in school.pupils if p.class_id == cls.source_id and p.source_id != student.source_id
             and not set(p.guardian_ids) & set(student.guardian_ids)]
    classmate, student3 = mates[0], mates[1]
    parent3 = student3.guardian_ids[0]
    other = next(p for p in school.pupils if p.class_id != cls.source_id)
    return Cast(class_id=cls.source_id, class_title=cls.title, teacher=demo["teacher"],
                unconfirmed=demo["teacher_unconfirmed"], student=student.source_id,
                classmate=classmate.source_id, student3=student3.source_id, parent=demo["parent"],
                parent3=parent3, other_class=other.source_id)


def edit_roster(folder: Path, *, move: dict[str, str] | None = None, remove: set[str] | None = None,
                keep_only: int | None = None) -> Path:
    """Edit a OneRoster 1.2 roster written by :func:`write_attack_roster` in place, as a later export
    of the same school would differ: ``move`` pupils to other classes (person id → class id),
    ``remove`` people (leavers; their guardian links go too), or ``keep_only`` the first N people
    (a half-exported file). Returns the folder."""
    import csv

    move, remove = dict(move or {}), set(remove or ())

    def rewrite(name: str, keep, change=lambda row: row) -> list[dict]:
        path = folder / name
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header, rows = reader.fieldnames, [change(r) for r in reader if keep(r)]
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return rows

    if keep_only is not None:
        with (folder / "users.csv").open(encoding="utf-8", newline="") as f:
            ids = [r["sourcedId"] for r in csv.DictReader(f)]
        remove |= set(ids[keep_only:])

    def drop_agents(row: dict) -> dict:
        agents = [a for a in row.get("agentSourcedIds", "").split(",") if a and a not in remove]
        return {**row, "agentSourcedIds": ",".join(agents)}

    rewrite("users.csv", lambda r: r["sourcedId"] not in remove, drop_agents)
    rewrite("roles.csv", lambda r: r["userSourcedId"] not in remove)
    rewrite("enrollments.csv", lambda r: r["userSourcedId"] not in remove,
            lambda r: {**r, "classSourcedId": move.get(r["userSourcedId"], r["classSourcedId"])}
            if r["role"] == "student" else r)
    return folder
