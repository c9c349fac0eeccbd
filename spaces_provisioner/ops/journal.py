"""What the journal bridge needs of the provisioning service: the directory it routes by, the
pupils' diaries and the journal status room.

The bridge (``bridge/``, an application service: ``Settings.journal_bridge_user_id``) posts homework
into class chats and class announcement rooms, grades into each pupil's diary room and failure
notices into the journal status room. It makes no room itself: every room it posts in is made by
the Parta bot like every school room, from ``policies/data/rooms.yaml`` (kinds ``diary`` and
``journal_status``), and kept in order by the reconciler, which also invites the bridge and gives it
its power while the organization's setting ``journal_bridge`` is on.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from policies.capabilities import deny
from policies.i18n import N_, _
from policies.model import FullName, Role
from policies.templates import JOURNAL_BRIDGE_SETTING, RoomRef

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import Errcode, ProvisioningError, check, not_found
from spaces_provisioner.ops.context import Context

#: The class rooms the directory names, by kind.
CLASS_ROOMS = ("class_chat", "class_announcements", "class_parents")
#: The refusal of the bridge's rooms for an organization that does not use the bridge.
BRIDGE_OFF = N_("{org} does not use the journal bridge: set journal_bridge: true in its application's settings")


class Journal:
    """The journal bridge's side of the service (operator only, like every route it calls)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def _bridge_on(self, tx: Any, org_id: str) -> dict:
        """The organization's effective settings; 403 ``journal_bridge_off`` when the bridge is off."""
        settings = self.ctx.org_settings(tx, org_id)
        if not settings.get(JOURNAL_BRIDGE_SETTING):
            check(deny("journal_bridge_off", BRIDGE_OFF, org=org_id))
        return settings

    def directory(self, org_id: str) -> dict:
        """The directory the bridge routes by::

            {"org", "name", "timezone", "language", "journal_bridge": bool,
             "rooms": {"announcements": room id, "status": room id | null},
             "classes": {class id: {"title", "rooms": {"class_chat", "class_announcements", "class_parents"},
                                    "teachers": [user ids], "homeroom": [user ids], "students": [person ids]}},
             "students": {person id: {"user_id": str | null, "name": "Фамилия Имя", "classes": [class ids],
                                      "guardians": [user ids], "diary": room id | null}},
             "teachers": {person id: {"user_id": str | null, "name", "classes"}}}

        Only active people; teachers (in ``classes`` and ``teachers``) only once the school confirmed
        them, with accounts for the class lists (``homeroom``: the class teachers); guardians only
        with accounts. Room ids are null for rooms not made yet. 404 ``M_NOT_FOUND`` for an unknown
        organization.
        """
        with self.ctx.store.begin() as tx:
            org = self.ctx.org_row(tx, org_id)
            settings = self.ctx.org_settings(tx, org_id)
            rooms = {r.key: r.room_id for r in tx.execute(sa.select(st.rooms).where(st.rooms.c.org_id == org_id))}
            classes = {r.class_id: r.title for r in tx.execute(
                sa.select(st.classes).where(st.classes.c.org_id == org_id).order_by(st.classes.c.class_id))}
            people = {r.person_id: r for r in tx.execute(sa.select(st.people).where(
                st.people.c.org_id == org_id, st.people.c.status == "active"))}
            enrollments = tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id)).all()
            guardianships = tx.execute(sa.select(st.guardianships).where(
                st.guardianships.c.org_id == org_id)).all()

        def name(r: Any) -> str:
            return FullName(r.family_name, r.given_name).display

        def teacher(r: Any) -> bool:
            return r is not None and r.role == Role.TEACHER and bool(r.confirmed)

        out_classes: dict[str, dict] = {}
        for cid, title in classes.items():
            out_classes[cid] = {"title": title,
                                "rooms": {k: rooms.get(RoomRef(org_id, k, cid).key) for k in CLASS_ROOMS},
                                "teachers": [], "homeroom": [], "students": []}
        person_classes: dict[str, list[str]] = {}
        for e in enrollments:
            p = people.get(e.person_id)
            if p is None or e.class_id not in out_classes:
                continue
            c = out_classes[e.class_id]
            if e.role == Role.STUDENT and p.role == Role.STUDENT:
                c["students"].append(p.person_id)
            elif e.role == Role.TEACHER and teacher(p):
                if p.user_id:
                    c["teachers"].append(p.user_id)
                    if e.is_primary:
                        c["homeroom"].append(p.user_id)
            else:
                continue
            person_classes.setdefault(p.person_id, []).append(e.class_id)
        for c in out_classes.values():
            for k in ("teachers", "homeroom", "students"):
                c[k] = sorted(set(c[k]))
        guardians: dict[str, set[str]] = {}
        for g in guardianships:
            parent = people.get(g.guardian_id)
            if parent is not None and parent.user_id:
                guardians.setdefault(g.student_id, set()).add(parent.user_id)
        students = {pid: {"user_id": r.user_id, "name": name(r), "classes": sorted(person_classes.get(pid, [])),
                          "guardians": sorted(guardians.get(pid, set())),
                          "diary": rooms.get(RoomRef(org_id, "diary", person_id=pid).key)}
                    for pid, r in sorted(people.items()) if r.role == Role.STUDENT}
        teachers = {pid: {"user_id": r.user_id, "name": name(r), "classes": sorted(person_classes.get(pid, [])),
                          "diary": rooms.get(RoomRef(org_id, "teacher_journal", person_id=pid).key)}
                    for pid, r in sorted(people.items()) if teacher(r)}
        return {"org": org_id, "name": org.name, "timezone": settings.get("timezone") or "Europe/Moscow",
                "language": settings.get("language") or self.ctx.settings.language,
                "journal_bridge": bool(settings.get(JOURNAL_BRIDGE_SETTING)),
                "rooms": {"announcements": rooms.get(RoomRef(org_id, "announcements").key),
                          "status": rooms.get(RoomRef(org_id, "journal_status").key)},
                "classes": out_classes, "students": students, "teachers": teachers}

    async def ensure_diary(self, org_id: str, person_id: str, actor: str) -> dict:
        """The diary room of one pupil, made when missing and brought in order: the pupil's and the
        guardians' accounts joined, people who are no longer guardians taken out, the bridge invited.
        For a confirmed teacher: the teacher's journal room (the teacher alone with the bridge).
        Idempotent (a re-run answers ``changes: 0``).

        Returns ``{"room_id", "members": [user ids], "changes", "details"}``.
        Raises 404 ``M_NOT_FOUND`` (unknown organization or person), 400 ``M_INVALID_PARAM`` with
        reason ``not_a_student`` (a person who is neither an active student nor a confirmed teacher),
        403 ``journal_bridge_off``.
        """
        async with self.ctx.lock:
            changes = Changes()
            reconciler = self.ctx.reconciler()
            with self.ctx.store.begin() as tx:
                self.ctx.org_row(tx, org_id)
                row = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                            st.people.c.person_id == person_id)).one_or_none()
                if row is None:
                    raise not_found(_("Organization {org} has no person {person} in its roster").format(
                        org=org_id, person=person_id))
                is_teacher = row.role == Role.TEACHER and bool(row.confirmed)
                if row.role != Role.STUDENT and not is_teacher or row.status != "active":
                    raise ProvisioningError(400, Errcode.INVALID_PARAM, _(
                        "{person} is not an active student or confirmed teacher of {org}: diaries are for "
                        "pupils, journal rooms for teachers").format(
                        person=person_id, org=org_id), reason="not_a_student")
                self._bridge_on(tx, org_id)
                plan = reconciler.diary_plan(tx, org_id, person_id)
            room_id = await reconciler.ensure_diary(plan, changes)
            if changes.count:
                with self.ctx.store.begin() as tx:
                    st.audit(tx, actor, "journal.diary", org=org_id, person=person_id, room=room_id)
            return {"room_id": room_id, "members": plan.members, **changes.to_json()}

    async def ensure_status_room(self, org_id: str, actor: str) -> dict:
        """The organization's journal status room (kind ``journal_status``: its administrators and
        head, and the bridge; read-only for people). Every reconcile of an organization with the
        bridge on builds it; this reconciles when it is missing.

        Returns ``{"room_id", "changes", "details"}``. Raises 404 ``M_NOT_FOUND``, 403 ``journal_bridge_off``.
        """
        async with self.ctx.lock:
            changes = Changes()
            key = RoomRef(org_id, "journal_status").key
            with self.ctx.store.begin() as tx:
                self.ctx.org_row(tx, org_id)
                self._bridge_on(tx, org_id)
                room_id = tx.execute(sa.select(st.rooms.c.room_id).where(st.rooms.c.key == key)).scalar()
            if room_id is None:
                changes, room_ids = await self.ctx.reconciler().reconcile(org_id)
                room_id = room_ids[key]
                with self.ctx.store.begin() as tx:
                    st.audit(tx, actor, "journal.status_room", org=org_id, room=room_id)
            return {"room_id": room_id, **changes.to_json()}
