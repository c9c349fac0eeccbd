"""The new school year (``parta year rollover``): last year's class rooms archived, pupils a grade up.

Order, each step safe to repeat after an interruption:

1. Every class-scoped room of the organization (class space, chat, announcements, parents' chat)
   is archived: its address (alias) freed, its name given the year («5А: чат класса (2025/26)»),
   its power levels made read-only (:func:`policies.rollover.archived_power_levels`), its
   ``org.parta.room`` tag turned to kind ``archive`` (which nobody joins), and its database entry
   moved to ``archive/<year>/<key>``. Members stay: they keep reading. A room already archived is
   skipped (found by its tag).
2. The classes move up (:func:`policies.rollover.promotions`): 5А becomes 6А with the same pupils
   and teachers; the final grade's pupils graduate (status ``removed``: rooms left, account
   suspended when no school remains, nothing erased). With a roster, the roster says instead
   (imported declaratively, as ``parta roster import`` does: moves, newcomers, leavers).
3. The reconciler builds the new year's rooms and places everyone.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from policies.model import Roster
from policies.rollover import archived_name, archived_power_levels, promotions, school_year
from policies.state_events import PartaEventTypes

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.faults import crash_point
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.rosters import Rosters

#: The ``org.parta.room`` kind of an archived room: no template, so every rule treats it as closed.
ARCHIVE_KIND = "archive"


class Rollover:
    """The year's rollover of one organization."""

    def __init__(self, ctx: Context, rosters: Rosters):
        self.ctx = ctx
        self.rosters = rosters

    async def rollover(self, org_id: str, actor: str, roster: Roster | None = None, year: str | None = None,
                       dry_run: bool = False) -> dict:
        """Archive ``org_id``'s class rooms of ``year`` (default: the year that ends this summer,
        ``policies.rollover.school_year``) and start the next one.

        Returns ``{"year", "dry_run", "archived": [room keys], "promoted": [{"class_id", "new_id",
        "title"}], "graduated": [person ids], "roster": import answer | None, "changes"}`` (and
        ``"already": true`` when this year's rollover was made before: only the placement is
        finished, nothing is archived or promoted twice).
        Raises 404 ``M_NOT_FOUND`` for an unknown organization; with a roster, what the import raises.
        """
        year = year or school_year()
        async with self.ctx.lock:
            with self.ctx.store.begin() as tx:
                self.ctx.org_row(tx, org_id)
                settings = self.ctx.org_settings(tx, org_id)
                classes = {r.class_id: r.title for r in tx.execute(sa.select(st.classes).where(
                    st.classes.c.org_id == org_id))}
                rooms = [(r.key, r.room_id) for r in tx.execute(sa.select(st.rooms).where(
                    st.rooms.c.org_id == org_id, ~st.rooms.c.key.like("archive/%")))]
            class_kinds = {k for k, t in self.ctx.templates.kinds.items() if t.scope == "class"}
            to_archive = [(key, room_id) for key, room_id in rooms if key.split("/", 1)[1].split("@", 1)[0]
                          in class_kinds]
            plan = [] if roster is not None else promotions(classes, int(settings.get("final_grade", 11)))
            graduating = [p.class_id for p in plan if p.graduates]
            with self.ctx.store.begin() as tx:
                graduates = sorted({e.person_id for e in tx.execute(sa.select(st.enrollments).where(
                    st.enrollments.c.org_id == org_id, st.enrollments.c.class_id.in_(graduating),
                    st.enrollments.c.role == "student"))})
            answer: dict[str, Any] = {
                "year": year, "dry_run": dry_run, "archived": [k for k, _r in to_archive],
                "promoted": [{"class_id": p.class_id, "new_id": p.new_id, "title": p.title}
                             for p in plan if not p.graduates],
                "graduated": graduates, "roster": None, "changes": 0}
            if dry_run:
                if roster is not None:
                    answer["roster"] = await self.rosters.import_locked(org_id, roster, actor, dry_run=True)
                return answer
            changes = Changes()
            marker = f"rollover/{org_id}"
            with self.ctx.store.begin() as tx:
                done = tx.execute(sa.select(st.state.c.value).where(st.state.c.key == marker)).scalar()
            if done == year:
                # this year's rollover was made (perhaps interrupted before its rooms were built):
                # never a second promotion; finish the placement
                rchanges, _ids = await self.ctx.reconciler().reconcile(org_id)
                return {**answer, "archived": [], "promoted": [], "graduated": [], "already": True,
                        "changes": rchanges.count}
            for key, room_id in to_archive:
                await self._archive(org_id, key, room_id, year, changes)
            if roster is None:
                self._promote(org_id, plan, graduates, actor, year, changes, marker)
                rchanges, _ids = await self.ctx.reconciler().reconcile(org_id)
                changes.extend(rchanges)
            else:
                # the roster is the school's word on the new year: moves, newcomers and leavers
                with self.ctx.store.begin() as tx:
                    _mark(tx, marker, year)
                answer["roster"] = await self.rosters.import_locked(org_id, roster, actor,
                                                                    confirm_mass_removal=True)
                for line in answer["roster"]["details"]:
                    changes.add(line)
            with self.ctx.store.begin() as tx:
                st.audit(tx, actor, "year.rollover", org=org_id, year=year, archived=len(to_archive),
                         graduated=len(graduates), roster=roster is not None)
            answer["changes"] = changes.count
            return answer

    async def _archive(self, org_id: str, key: str, room_id: str, year: str, changes: Changes) -> None:
        """One class room read-only under the year's name, its address freed, its entry moved."""
        bot = self.ctx.bot
        state = await bot.room_state(room_id)
        tag = state.get((PartaEventTypes.ROOM, "")) or {}
        if tag.get("kind") != ARCHIVE_KIND:
            alias = (state.get(("m.room.canonical_alias", "")) or {}).get("alias")
            if alias:
                await bot.delete_alias(alias)
                await bot.send_state(room_id, "m.room.canonical_alias", "", {})
            name = (state.get(("m.room.name", "")) or {}).get("name") or key
            await bot.send_state(room_id, "m.room.name", "", {"name": archived_name(name, year)})
            await bot.send_state(room_id, "m.room.power_levels", "",
                                 archived_power_levels(state.get(("m.room.power_levels", "")) or {}))
            # the tag last: a run stopped before it archives the room again, from the start
            await bot.send_state(room_id, PartaEventTypes.ROOM, "",
                                 {**tag, "kind": ARCHIVE_KIND, "archived_kind": tag.get("kind"), "year": year})
            changes.add(f"{key}: archived as {year}")
            crash_point("rollover.archived")
        with self.ctx.store.begin() as tx:
            tx.execute(st.rooms.update().where(st.rooms.c.key == key).values(key=f"archive/{year}/{key}"))

    def _promote(self, org_id: str, plan, graduates: list[str], actor: str, year: str, changes: Changes,
                 marker: str) -> None:
        """The classes a grade up and the final grade's pupils graduated, in one transaction with
        the year's marker (a re-run never promotes twice)."""
        with self.ctx.store.begin() as tx:
            _mark(tx, marker, year)
            for p in plan:
                if p.graduates:
                    tx.execute(st.enrollments.delete().where(st.enrollments.c.org_id == org_id,
                                                             st.enrollments.c.class_id == p.class_id))
                    tx.execute(st.classes.delete().where(st.classes.c.org_id == org_id,
                                                         st.classes.c.class_id == p.class_id))
                    changes.add(f"class {p.title} ({p.class_id}): graduated")
                    continue
                tx.execute(st.classes.update().where(st.classes.c.org_id == org_id,
                                                     st.classes.c.class_id == p.class_id)
                           .values(class_id=p.new_id, title=p.title, grades=json.dumps(list(p.grades))))
                if p.new_id != p.class_id:
                    tx.execute(st.enrollments.update().where(st.enrollments.c.org_id == org_id,
                                                             st.enrollments.c.class_id == p.class_id)
                               .values(class_id=p.new_id))
                pupils = [e.person_id for e in tx.execute(sa.select(st.enrollments.c.person_id).where(
                    st.enrollments.c.org_id == org_id, st.enrollments.c.class_id == p.new_id,
                    st.enrollments.c.role == "student"))]
                if pupils:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id.in_(pupils))
                               .values(grades=json.dumps(list(p.grades))))
                changes.add(f"class {p.class_id} → {p.title} ({p.new_id})")
            # a parent whose every child graduated leaves with them
            gone = set(graduates)
            staying = {g.guardian_id for g in tx.execute(sa.select(st.guardianships).where(
                st.guardianships.c.org_id == org_id)) if g.student_id not in gone}
            parents = {g.guardian_id for g in tx.execute(sa.select(st.guardianships).where(
                st.guardianships.c.org_id == org_id, st.guardianships.c.student_id.in_(graduates)))}
            for person_id in sorted(gone | (parents - staying)):
                tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                    st.people.c.person_id == person_id).values(status="removed"))
                changes.add(f"person {person_id}: graduated" if person_id in gone else
                            f"person {person_id}: left with the graduated children")
            # last year's class links lead to classes that are no more
            tx.execute(st.links.update().where(st.links.c.org_id == org_id, st.links.c.class_id.is_not(None),
                                               st.links.c.revoked.is_(False)).values(revoked=True))
            if graduates:
                st.audit(tx, actor, "year.graduated", org=org_id, year=year, people=graduates)


def _mark(tx: Any, key: str, year: str) -> None:
    tx.execute(st.state.delete().where(st.state.c.key == key))
    tx.execute(st.state.insert().values(key=key, value=year))
