"""Roster import: a parsed roster becomes the organization's classes, expected people,
enrollments and guardianships, then each class gets its rooms.

Declarative: only rows that differ are written, so the same roster again writes nothing
(``changes: 0``). People and classes absent from a later roster are kept and reported, never
erased silently.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.model import FullName, Role, Roster

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.ops.context import Context


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Rosters:
    """Roster operations of one installation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def import_roster(self, org_id: str, roster: Roster, actor: str) -> dict:
        """Record a parsed roster for ``org_id`` and build each class's rooms.

        People become expected members of their classes (accounts come later).
        People and classes missing from this roster are kept (reported, never erased).
        Returns ``{"format", "changes", "details", "problems", "kept"}``; raises 404
        ``M_NOT_FOUND`` for an unknown organization.
        """
        async with self.ctx.lock:
            changes = Changes()
            with self.ctx.store.begin() as tx:
                self.ctx.org_row(tx, org_id)
                sync_roster(tx, org_id, roster, changes)
                kept = missing_from_roster(tx, org_id, roster)
                if changes.count:
                    st.audit(tx, actor, "roster.import", org=org_id, format=roster.format, changes=changes.count)
            rchanges, _ids = await self.ctx.reconciler().reconcile(org_id)
            changes.extend(rchanges)
            return {"format": roster.format, **changes.to_json(),
                    "problems": [str(p) for p in roster.problems], "kept": kept}


def upsert(tx: Connection, table: sa.Table, keys: dict, values: dict) -> str | None:
    """Insert the row ``keys`` + ``values``, or update its ``values``; returns "added",
    "updated", or None when the row was already so (nothing written)."""
    where = [table.c[k] == v for k, v in keys.items()]
    row = tx.execute(sa.select(table).where(*where)).one_or_none()
    if row is None:
        tx.execute(table.insert().values(**keys, **values))
        return "added"
    if any(getattr(row, k) != v for k, v in values.items()):
        tx.execute(table.update().where(*where).values(**values))
        return "updated"
    return None


def upsert_person(tx: Connection, org_id: str, person_id: str, name: FullName, role: Role,
                  grades: tuple[str, ...], confirmed: bool | None = None) -> bool:
    """Insert or update one person row (``confirmed`` None: leave it as it is); True when something changed."""
    values: dict[str, Any] = dict(family_name=name.family_name, given_name=name.given_name,
                                  middle_name=name.middle_name, role=role.value, grades=_json(list(grades)))
    if confirmed is not None:
        values["confirmed"] = confirmed
    # a new row takes the column's default (not confirmed)
    return upsert(tx, st.people, {"org_id": org_id, "person_id": person_id}, values) is not None


def sync_roster(tx: Connection, org_id: str, roster: Roster, changes: Changes) -> None:
    """Write the roster's classes, people, enrollments and guardianships (only what differs)."""
    for c in roster.classes.values():
        done = upsert(tx, st.classes, {"org_id": org_id, "class_id": c.source_id},
                      {"title": c.title, "grades": _json(list(c.grades))})
        if done:
            changes.add(f"class {c.title} ({c.source_id}): {done}")
    for p in roster.people.values():
        if upsert_person(tx, org_id, p.source_id, p.name, p.role, p.grades):
            changes.add(f"person {p.source_id} ({p.role.value}): recorded")
    for e in roster.enrollments:
        done = upsert(tx, st.enrollments, {"org_id": org_id, "class_id": e.class_id, "person_id": e.person_id},
                      {"role": e.role.value, "is_primary": e.primary})
        if done:
            changes.add(f"enrollment {e.person_id} in {e.class_id} ({e.role.value}): {done}")
    for g in roster.guardianships:
        done = upsert(tx, st.guardianships, {"org_id": org_id, "student_id": g.student_id,
                                             "guardian_id": g.guardian_id}, {"relation": g.relation})
        if done:
            changes.add(f"guardian {g.guardian_id} of {g.student_id} ({g.relation}): {done}")


def missing_from_roster(tx: Connection, org_id: str, roster: Roster) -> dict:
    """Classes and roster people recorded before but absent from this roster (kept, not erased):
    ``{"classes": [ids], "people": [ids]}``."""
    classes = [r.class_id for r in tx.execute(sa.select(st.classes.c.class_id).where(st.classes.c.org_id == org_id))
               if r.class_id not in roster.classes]
    people = [r.person_id for r in tx.execute(sa.select(st.people.c.person_id).where(st.people.c.org_id == org_id))
              if r.person_id not in roster.people and not r.person_id.startswith("application:")]
    return {"classes": sorted(classes), "people": sorted(people)}
