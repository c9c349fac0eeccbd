"""What a roster changes in an organization: the difference between the database and a roster.

The roster is the school's word on the people it lists: their names and roles, their classes
(enrollments, with the class teacher marked) and their guardians. A later roster therefore
*replaces* what an earlier one said: a pupil moved to another class leaves the old one, a teacher
who no longer teaches a class leaves it, a person no longer listed leaves the school (``status``
``removed``: rooms left, the account suspended when no school remains, nothing erased). What
the roster never said is left alone: the application's contacts (``application:*``), people who
joined with a link and no roster entry (``account:*``), their enrollments and guardianships, and
classes missing from the roster (reported as kept).

:func:`diff` computes a :class:`RosterDiff` from one transaction's reads; :meth:`RosterDiff.apply`
writes it in the same transaction (a refused or interrupted import writes nothing). Counting and
listing the difference needs no write, so the same diff is the dry run.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.i18n import _
from policies.model import Roster

from spaces_provisioner.db import schema as st

#: Person ids the roster does not manage (the application's contacts, link-only accounts).
UNMANAGED_PREFIXES = ("application:", "account:")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def managed(person_id: str) -> bool:
    """Whether the roster is the word on this person (not an application contact or a link-only account)."""
    return not person_id.startswith(UNMANAGED_PREFIXES)


@dataclass
class RosterDiff:
    """The writes a roster makes, by kind; each entry is the row's key and its new values.

    ``people_removed`` are active roster people the roster no longer lists; ``kept_classes``
    classes it no longer lists (left as they are). ``active_people`` counts the roster people
    active before, for the share of removals.
    """

    classes_added: list[dict] = field(default_factory=list)
    classes_changed: list[dict] = field(default_factory=list)
    people_added: list[dict] = field(default_factory=list)
    people_changed: list[dict] = field(default_factory=list)
    people_removed: list[dict] = field(default_factory=list)
    enrollments_added: list[dict] = field(default_factory=list)
    enrollments_changed: list[dict] = field(default_factory=list)
    enrollments_removed: list[dict] = field(default_factory=list)
    guardianships_added: list[dict] = field(default_factory=list)
    guardianships_changed: list[dict] = field(default_factory=list)
    guardianships_removed: list[dict] = field(default_factory=list)
    kept_classes: list[str] = field(default_factory=list)
    active_people: int = 0

    KINDS = ("classes_added", "classes_changed", "people_added", "people_changed", "people_removed",
             "enrollments_added", "enrollments_changed", "enrollments_removed", "guardianships_added",
             "guardianships_changed", "guardianships_removed")

    @property
    def count(self) -> int:
        """Rows the roster writes (0: the roster says what the database already holds)."""
        return sum(len(getattr(self, k)) for k in self.KINDS)

    @property
    def removal_share(self) -> float:
        """The share of the school's roster people this roster removes (0.0 to 1.0)."""
        return len(self.people_removed) / self.active_people if self.active_people else 0.0

    def summary(self) -> dict[str, int]:
        """``{kind: count}`` for every kind, zeros included (the dry run's table)."""
        return {k: len(getattr(self, k)) for k in self.KINDS}

    def moves(self) -> int:
        """Students whose classes changed (an enrollment removed and another added)."""
        gone = Counter(e["person_id"] for e in self.enrollments_removed if e["role"] == "student")
        came = Counter(e["person_id"] for e in self.enrollments_added if e["role"] == "student")
        return len(set(gone) & set(came))

    def details(self) -> list[str]:
        """One line per write, for ``--verbose``/``--json`` (English, like the audit log)."""
        out: list[str] = []
        out += [f"class {c['title']} ({c['class_id']}): added" for c in self.classes_added]
        out += [f"class {c['title']} ({c['class_id']}): updated" for c in self.classes_changed]
        out += [f"person {p['person_id']} ({p['role']}): added" for p in self.people_added]
        out += [f"person {p['person_id']} ({p['role']}): updated" for p in self.people_changed]
        out += [f"person {p['person_id']} ({p['role']}): removed (no longer in the roster)"
                for p in self.people_removed]
        out += [f"enrollment {e['person_id']} in {e['class_id']} ({e['role']}): added"
                for e in self.enrollments_added]
        out += [f"enrollment {e['person_id']} in {e['class_id']} ({e['role']}): updated"
                for e in self.enrollments_changed]
        out += [f"enrollment {e['person_id']} in {e['class_id']} ({e['role']}): removed"
                for e in self.enrollments_removed]
        out += [f"guardian {g['guardian_id']} of {g['student_id']} ({g['relation']}): added"
                for g in self.guardianships_added]
        out += [f"guardian {g['guardian_id']} of {g['student_id']} ({g['relation']}): updated"
                for g in self.guardianships_changed]
        out += [f"guardian {g['guardian_id']} of {g['student_id']}: removed" for g in self.guardianships_removed]
        return out

    def apply(self, tx: Connection, org_id: str) -> None:
        """Write the difference in ``tx`` (the caller's transaction)."""
        for c in self.classes_added:
            tx.execute(st.classes.insert().values(org_id=org_id, **c))
        for c in self.classes_changed:
            tx.execute(st.classes.update().where(st.classes.c.org_id == org_id, st.classes.c.class_id == c["class_id"])
                       .values(title=c["title"], grades=c["grades"]))
        for p in self.people_added:
            tx.execute(st.people.insert().values(org_id=org_id, confirmed=False, status="active", **p))
        for p in self.people_changed:
            values = {k: v for k, v in p.items() if k != "person_id"}
            tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                st.people.c.person_id == p["person_id"]).values(**values))
        for p in self.people_removed:
            tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                st.people.c.person_id == p["person_id"]).values(status="removed"))
        for e in self.enrollments_removed:
            tx.execute(st.enrollments.delete().where(
                st.enrollments.c.org_id == org_id, st.enrollments.c.class_id == e["class_id"],
                st.enrollments.c.person_id == e["person_id"]))
        for e in self.enrollments_added:
            tx.execute(st.enrollments.insert().values(org_id=org_id, **e))
        for e in self.enrollments_changed:
            tx.execute(st.enrollments.update().where(
                st.enrollments.c.org_id == org_id, st.enrollments.c.class_id == e["class_id"],
                st.enrollments.c.person_id == e["person_id"]).values(role=e["role"], is_primary=e["is_primary"]))
        for g in self.guardianships_removed:
            tx.execute(st.guardianships.delete().where(
                st.guardianships.c.org_id == org_id, st.guardianships.c.student_id == g["student_id"],
                st.guardianships.c.guardian_id == g["guardian_id"]))
        for g in self.guardianships_added:
            tx.execute(st.guardianships.insert().values(org_id=org_id, **g))
        for g in self.guardianships_changed:
            tx.execute(st.guardianships.update().where(
                st.guardianships.c.org_id == org_id, st.guardianships.c.student_id == g["student_id"],
                st.guardianships.c.guardian_id == g["guardian_id"]).values(relation=g["relation"]))


def merge_delta(tx: Connection, org_id: str, delta: Roster) -> Roster:
    """A OneRoster delta laid over ``org_id``'s records: the whole roster it means.

    What the delta names replaces the records (a person, a class, an enrollment or guardianship
    by its key); its ``tobedeleted`` rows remove; everything else stays. References to what
    neither the delta nor the records hold become problems (``file`` the delta's name).
    """
    from policies.model import Enrollment, FullName, Guardianship, Person, Role, RowProblem, SchoolClass

    deleted = delta.deleted
    gone_people, gone_classes = deleted.get("person", set()), deleted.get("class", set())
    gone_enrollments = deleted.get("enrollment", set())
    classes = {r.class_id: SchoolClass(r.class_id, r.title, tuple(json.loads(r.grades or "[]")))
               for r in tx.execute(sa.select(st.classes).where(st.classes.c.org_id == org_id))}
    classes.update(delta.classes)
    people = {r.person_id: Person(r.person_id, FullName(r.family_name, r.given_name, r.middle_name), Role(r.role),
                                  tuple(json.loads(r.grades or "[]")))
              for r in tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                             st.people.c.status == "active"))
              if managed(r.person_id)}
    people.update(delta.people)
    for pid in gone_people:
        people.pop(pid, None)
    for cid in gone_classes:
        classes.pop(cid, None)
    named = {(e.class_id, e.person_id) for e in delta.enrollments}
    enrollments = [Enrollment(r.class_id, r.person_id, Role(r.role), bool(r.is_primary))
                   for r in tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id))
                   if (r.class_id, r.person_id) not in named | gone_enrollments]
    problems = list(delta.problems)
    for e in delta.enrollments:
        if e.class_id in classes and e.person_id in people:
            enrollments.append(e)
        elif e.class_id not in classes:
            problems.append(RowProblem("enrollments.csv", 0, _("unknown class {id}").format(id=e.class_id)))
        else:
            problems.append(RowProblem("enrollments.csv", 0, _("unknown person {id}").format(id=e.person_id)))
    enrollments = [e for e in enrollments if e.class_id in classes and e.person_id in people]
    guardians = {(r.student_id, r.guardian_id): Guardianship(r.student_id, r.guardian_id, r.relation)
                 for r in tx.execute(sa.select(st.guardianships).where(st.guardianships.c.org_id == org_id))}
    for g in delta.guardianships:
        old = guardians.get((g.student_id, g.guardian_id))
        # a delta's link to a guardian it does not list keeps the recorded relation word
        guardians[(g.student_id, g.guardian_id)] = old if old is not None and g.guardian_id not in delta.people else g
    guardianships = [g for g in guardians.values() if g.student_id in people and g.guardian_id in people]
    return Roster(format=delta.format, classes=classes, people=people, enrollments=enrollments,
                  guardianships=guardianships, problems=problems)


def diff(tx: Connection, org_id: str, roster: Roster) -> RosterDiff:
    """The difference between ``org_id``'s records and ``roster`` (reads only); a delta roster is
    first laid over the records (:func:`merge_delta`)."""
    if roster.delta:
        roster = merge_delta(tx, org_id, roster)
    d = RosterDiff()
    classes = {r.class_id: r for r in tx.execute(sa.select(st.classes).where(st.classes.c.org_id == org_id))}
    for c in roster.classes.values():
        values = {"class_id": c.source_id, "title": c.title, "grades": _json(list(c.grades))}
        old = classes.get(c.source_id)
        if old is None:
            d.classes_added.append(values)
        elif (old.title, old.grades) != (values["title"], values["grades"]):
            d.classes_changed.append(values)
    d.kept_classes = sorted(c for c in classes if c not in roster.classes)

    people = {r.person_id: r for r in tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id))}
    d.active_people = sum(1 for r in people.values() if managed(r.person_id) and r.status == "active")
    for p in roster.people.values():
        values = {"person_id": p.source_id, "family_name": p.name.family_name, "given_name": p.name.given_name,
                  "middle_name": p.name.middle_name, "role": p.role.value, "grades": _json(list(p.grades))}
        old = people.get(p.source_id)
        if old is None:
            d.people_added.append(values)
            continue
        changed = {k: v for k, v in values.items() if getattr(old, k) != v}
        if old.status != "active":
            changed["status"] = "active"  # listed again: back in the school
        if changed:
            d.people_changed.append({"person_id": p.source_id, "role": values["role"], **changed})
    for person_id, r in sorted(people.items()):
        if managed(person_id) and r.status == "active" and person_id not in roster.people:
            d.people_removed.append({"person_id": person_id, "role": r.role})

    # enrollments and guardianships: the roster's replace the roster's, others are left alone
    listed = set(roster.people)
    old_enrollments = {(e.class_id, e.person_id): e for e in tx.execute(
        sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id))}
    new_enrollments = {(e.class_id, e.person_id): e for e in roster.enrollments}
    for key, e in new_enrollments.items():
        row: dict[str, Any] = {"class_id": e.class_id, "person_id": e.person_id, "role": e.role.value,
                               "is_primary": e.primary}
        old_row = old_enrollments.get(key)
        if old_row is None:
            d.enrollments_added.append(row)
        elif (old_row.role, bool(old_row.is_primary)) != (row["role"], row["is_primary"]):
            d.enrollments_changed.append(row)
    for key, old in sorted(old_enrollments.items()):
        # a person no longer listed keeps their records (status removed): nothing is erased
        if key not in new_enrollments and old.person_id in listed:
            d.enrollments_removed.append({"class_id": old.class_id, "person_id": old.person_id, "role": old.role})

    old_guardians = {(g.student_id, g.guardian_id): g for g in tx.execute(
        sa.select(st.guardianships).where(st.guardianships.c.org_id == org_id))}
    new_guardians = {(g.student_id, g.guardian_id): g for g in roster.guardianships}
    for key, g in new_guardians.items():
        old = old_guardians.get(key)
        if old is None:
            d.guardianships_added.append({"student_id": g.student_id, "guardian_id": g.guardian_id,
                                          "relation": g.relation})
        elif old.relation != g.relation:
            d.guardianships_changed.append({"student_id": g.student_id, "guardian_id": g.guardian_id,
                                            "relation": g.relation})
    for (student, guardian), old in sorted(old_guardians.items()):
        if (student, guardian) not in new_guardians and student in listed and guardian in listed:
            d.guardianships_removed.append({"student_id": student, "guardian_id": guardian,
                                            "relation": old.relation})
    return d
