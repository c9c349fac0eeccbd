"""Reconcile one organization on the homeserver with the desired state (idempotent).

Desired state comes from the provisioning database (the approved application, the
roster, the people with accounts) rendered by ``policies.templates``; current
state is read from the homeserver as the bot. Only differences are written, so a
second run writes nothing; a run that stopped midway resumes where it stopped
(rooms are found again by the database or by their alias).

Order: rooms (parents before children, created with their full initial state),
then every room's state (``m.space.child`` links need the children's ids), then
memberships (space before its rooms: restricted joins need the parent space),
then the registry entries the Synapse module reads; last, the pupils' diaries.

The journal bridge (an application service's user, ``Settings.journal_bridge_user_id``) is part
of the desired state of the rooms it serves while the organization has ``journal_bridge`` on: its
power level from the templates, and an invitation from the bot (the bridge accepts invitations
itself; nobody logs in as it). Turned off, its power goes and it is taken out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies import names
from policies.capabilities import Account, RoomInfo, default_capabilities
from policies.federation import is_confirmed_staff, may_stay_in_network_room, may_take_part_in_partner_room, server_of
from policies.model import FullName, Role
from policies.placement import OrgPeople
from policies.state_events import PartaEventTypes, user_state_key
from policies.templates import RoomRef, Templates

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.db.health import record_reconcile
from spaces_provisioner.db.queries import account_from_db, org_own_settings
from spaces_provisioner.faults import crash_point
from spaces_provisioner.homeserver.bot import BotClient, MatrixRequestError

log = logging.getLogger("parta.reconcile")

#: Requests to the homeserver in flight at once when placing people (bounded: Synapse answers
#: them on one main thread; more in flight only queue there).
JOIN_CONCURRENCY = 8
T = TypeVar("T")


def server_display_name(name: FullName, badge: str | None, marker: str, fallback: str) -> str:
    """The display name the server sets: the cleaned name, plus the badge for confirmed teachers.

    A name that imitates the badge (or is otherwise refused by ``policies.names``) loses
    its symbols; if nothing usable remains, the login name stands in.
    """
    try:
        return names.display_name(name.family_name, name.given_name, name.middle_name, badge=badge, marker=marker)
    except names.NameRefused:
        parts = ["".join(ch for ch in part if not unicodedata.category(ch).startswith("S"))
                 for part in (name.family_name, name.given_name, name.middle_name)]
        try:
            return names.display_name(*parts, badge=badge, marker=marker)
        except names.NameRefused:
            return fallback + (badge or "")


@dataclass
class OrgSnapshot:
    """What the database says of one organization."""

    org_id: str
    name: str
    language: str
    settings: dict
    classes: dict[str, str]                  # class id → title
    people: OrgPeople
    person_classes: dict[str, list[str]]     # user id → class ids (students and teachers)
    display_names: dict[str, FullName]       # user id → name


def load_snapshot(tx: Connection, org_id: str, default_language: str) -> OrgSnapshot:
    """Read one organization from the provisioning database."""
    org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == org_id)).one()
    payload = json.loads(org.payload)
    settings = payload.get("settings") or {}
    classes = {r.class_id: r.title for r in tx.execute(
        sa.select(st.classes).where(st.classes.c.org_id == org_id).order_by(st.classes.c.class_id))}
    rows = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id, st.people.c.status == "active",
                                                 st.people.c.user_id.is_not(None))).all()
    by_person = {r.person_id: r for r in rows}
    people = OrgPeople()
    full_names: dict[str, FullName] = {}
    for r in rows:
        people.roles[r.user_id] = Role(r.role)
        if r.confirmed:
            people.confirmed.add(r.user_id)
        full_names[r.user_id] = FullName(r.family_name, r.given_name, r.middle_name)
    active = {r.person_id for r in tx.execute(sa.select(st.people.c.person_id).where(
        st.people.c.org_id == org_id, st.people.c.status == "active"))}
    person_classes: dict[str, list[str]] = {}
    for e in tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id)):
        if e.role == Role.TEACHER and e.is_primary and e.class_id in classes and e.person_id in active:
            people.named_homeroom.add(e.class_id)
        p = by_person.get(e.person_id)
        if p is None or e.class_id not in classes:
            continue
        target = people.class_students if e.role == Role.STUDENT else people.class_teachers
        target.setdefault(e.class_id, set()).add(p.user_id)
        if e.role == Role.TEACHER and e.is_primary:
            people.homeroom.setdefault(e.class_id, set()).add(p.user_id)
        person_classes.setdefault(p.user_id, []).append(e.class_id)
    for g in tx.execute(sa.select(st.guardianships).where(st.guardianships.c.org_id == org_id)):
        student, guardian = by_person.get(g.student_id), by_person.get(g.guardian_id)
        if student is not None and guardian is not None:
            people.children.setdefault(guardian.user_id, set()).add(student.user_id)
    for guardian_id, kids in people.children.items():
        kid_classes = {c for kid in kids for c in person_classes.get(kid, [])}
        person_classes.setdefault(guardian_id, []).extend(sorted(kid_classes))
    return OrgSnapshot(org_id=org_id, name=org.name, language=settings.get("language") or default_language,
                       settings=settings, classes=classes, people=people,
                       person_classes={u: sorted(set(c)) for u, c in person_classes.items()},
                       display_names=full_names)


async def each(items: Iterable[T], work: Callable[[T], Awaitable[None]], limit: int | None = None) -> None:
    """``await work(item)`` for every item, at most ``limit`` (default ``JOIN_CONCURRENCY``) at a
    time: requests about different people go to the homeserver together rather than in turn."""
    semaphore = asyncio.Semaphore(limit or JOIN_CONCURRENCY)

    async def one(item: T) -> None:
        async with semaphore:
            await work(item)

    await asyncio.gather(*(one(i) for i in items))


@dataclass
class DiaryPlan:
    """What the database says one pupil's diary should be: ``members`` are the user ids of the
    pupil and the pupil's guardians who have accounts (empty once the pupil has left)."""

    ref: RoomRef
    room_id: str | None
    person_name: str
    class_title: str | None
    org_name: str
    language: str
    settings: dict
    members: list[str]


def is_absent(content: dict | None) -> bool:
    """Whether state content means "nothing here" (absent or ``{}``: a removed widget or role)."""
    return not content


class Reconciler:
    """Brings one organization's rooms, memberships and registry entries to the desired state."""

    def __init__(self, bot: BotClient, store: st.Store, templates: Templates, server_name: str,
                 registry_id: str, language: str, badge: str = names.BADGE_DEFAULT,
                 bridge_user_id: str | None = None):
        self.bridge = bridge_user_id
        self.bot = bot
        self.store = store
        self.templates = templates
        self.server_name = server_name
        self.registry_id = registry_id
        self.language = language
        self.badge = badge
        self._stale_roles: dict[str, list[str]] = {}
        self._touched: set[str] = set()  # accounts whose registry entry the last reconcile wrote
        self._was_staff: set[str] = set()  # of those, the ones confirmed staff before it (partner invitations)

    async def reconcile(self, org_id: str, only_users: set[str] | None = None) -> tuple[Changes, dict[str, str]]:
        """Reconcile ``org_id``; returns (changes, {room key: room id}).

        ``only_users``: a newcomer's registration touches only the rooms where these people
        (and their children or guardians) are placed or hold power, the school space, and their
        registry entries and display names, instead of every room of the organization.
        The pupils' diaries follow (all of them; with ``only_users``, those of these people).
        """
        try:
            changes, room_ids = await self._reconcile_rooms(org_id, only_users)
            await self._sync_diaries(org_id, only_users, changes)
        except Exception as e:  # noted for the console's health column, then raised as before
            record_reconcile(self.store, org_id, 0, f"{type(e).__name__}: {e}"[:500])
            raise
        record_reconcile(self.store, org_id, changes.count, None)
        return changes, room_ids

    async def _reconcile_rooms(self, org_id: str, only_users: set[str] | None) -> tuple[Changes, dict[str, str]]:
        with self.store.begin() as tx:
            snap = load_snapshot(tx, org_id, self.language)
            known = {r.key: r.room_id for r in tx.execute(
                sa.select(st.rooms).where(st.rooms.c.org_id == org_id))}
        changes = Changes()
        refs = self.templates.refs_for_org(org_id, list(snap.classes), snap.settings, known)
        room_ids: dict[str, str] = {}
        placements = {ref.key: self._placement(snap, ref) for ref in refs}
        for ref in refs:
            room_ids[ref.key] = await self._ensure_room(ref, snap, known, room_ids, placements, changes)
        children: dict[str, list[tuple[RoomRef, str]]] = {}
        for ref in refs:
            parent = self.templates.parent_of(ref)
            if parent is not None:
                children.setdefault(parent.key, []).append((ref, room_ids[ref.key]))
        created = changes.count > 0  # new rooms need their links in every parent: do it all
        affected = None if only_users is None or created else set(only_users) | self._related(snap, only_users)
        if affected is not None and not any(affected & set(placements[r.key][1]) for r in refs):
            # newcomers with no power anywhere (pupils, parents: the 1 September wave): only their
            # own entries and memberships change, read and written per person, never a room's whole state
            await self._place_people(snap, refs, room_ids, placements, affected, changes)
            return changes, room_ids
        sync = refs if affected is None else [
            ref for ref in refs if ref.kind == "school_space"
            or affected & (placements[ref.key][0] | set(placements[ref.key][1]))]
        if affected is None:
            space_state = await self.bot.room_state(room_ids[refs[0].key])
            self._stale_roles[org_id] = [k for (t, k), c in space_state.items() if t == PartaEventTypes.ROLE and c
                                         and k[1:] not in snap.people.roles]
        else:
            self._stale_roles[org_id] = []
        banned: dict[str, set[str]] = {}
        invited: dict[str, set[str]] = {}
        bridge_membership: dict[str, str | None] = {}
        for ref in sync:
            desired = self._desired_state(ref, snap, room_ids, children.get(ref.key, []), placements)
            current = await self.bot.room_state(room_ids[ref.key])
            banned[ref.key] = {k for (t, k), c in current.items() if t == "m.room.member"
                               and c.get("membership") == "ban"}
            invited[ref.key] = {k for (t, k), c in current.items() if t == "m.room.member"
                                and c.get("membership") == "invite"}
            if self.bridge is not None:
                bridge_membership[ref.key] = (current.get(("m.room.member", self.bridge)) or {}).get("membership")
            await self._write_state(room_ids[ref.key], ref.key, desired, current, changes)
        # the module admits people by the registry: write it before anyone joins
        gone = await self._update_registry(snap, room_ids[refs[0].key], changes, affected)
        await self._display_names(snap, changes, affected)
        missing: dict[str, list[RoomRef]] = {}  # user id -> rooms to join, in template order
        for ref in sync:
            members, _levels = placements[ref.key]
            joined = await self.bot.joined_members(room_ids[ref.key])
            await self._place_bridge(room_ids[ref.key], ref.key, self.bridge in members,
                                     bridge_membership.get(ref.key), changes)
            # someone a teacher banned from the room stays out: the school lifts a ban, not a re-run
            for user_id in sorted(members - joined - banned.get(ref.key, set()) - {self.bridge}):
                missing.setdefault(user_id, []).append(ref)
            for user_id in sorted(joined - members - {self.bot.user_id}):
                if not self._may_stay(snap, ref, user_id):
                    await self.bot.kick(room_ids[ref.key], user_id, "no longer a participant of this room")
                    changes.add(f"{ref.key}: removed {user_id}")
            # an invitation someone sent (a teacher's into a class chat) is withdrawn like a membership
            # once its invitee may no longer join: a kick of an invited user (Matrix spec, "Room membership")
            for user_id in sorted(invited.get(ref.key, set()) - members - {self.bot.user_id, self.bridge}):
                if not self._may_stay(snap, ref, user_id):
                    await self._withdraw_invitation(user_id, room_ids[ref.key], ref.key, kick=True, changes=changes)
        await each(sorted(missing), lambda u: self._join(u, missing[u], room_ids, changes))
        # relationships that ended end the people's chats they made (before a suspension, which
        # would keep the account from leaving)
        await self._leave_chats_no_longer_allowed(self._touched | gone, changes)
        for user_id in sorted(gone):
            await self.bot.suspend(user_id, True)
            changes.add(f"{user_id}: suspended (in no organization any more)")
        return changes, room_ids

    async def _place_people(self, snap: OrgSnapshot, refs: list[RoomRef], room_ids: dict[str, str],
                            placements, users: set[str], changes: Changes) -> None:
        """Incremental placement of ``users`` who hold no power in any room: their role in the
        school space, their registry entries and display names, then their joins (different people
        concurrently, ``each``; Synapse orders the joins of one room itself) and their
        leaving rooms they are no longer placed in. Work grows with the newcomers, not the school."""
        space_id = room_ids[refs[0].key]

        async def role(user_id: str) -> None:
            wanted = {"role": snap.people.roles[user_id].value, "confirmed": user_id in snap.people.confirmed}
            key = user_state_key(user_id)
            if await self.bot.state_event(space_id, PartaEventTypes.ROLE, key) != wanted:
                await self.bot.send_state(space_id, PartaEventTypes.ROLE, key, wanted)
                changes.add(f"{refs[0].key}: {PartaEventTypes.ROLE} {key}")

        await each(sorted(users & set(snap.people.roles)), role)
        # the module admits people by the registry: write it before anyone joins
        gone = await self._update_registry(snap, space_id, changes, users)
        await self._display_names(snap, changes, users)
        org_rooms = {room_ids[r.key]: r for r in refs}

        async def place(user_id: str) -> None:
            joined = set(await self.bot.joined_rooms_of(user_id))
            # in template order: a space before its rooms (restricted joins); a teacher's ban
            # stands (the school lifts it, not a re-run): the user's own join is refused then
            todo = [ref for ref in refs if user_id in placements[ref.key][0] and room_ids[ref.key] not in joined]
            if todo:
                await self._join(user_id, todo, room_ids, changes)
            for room_id in sorted(joined & set(org_rooms)):
                ref = org_rooms[room_id]
                if user_id not in placements[ref.key][0] and not self._may_stay(snap, ref, user_id):
                    await self.bot.kick(room_id, user_id, "no longer a participant of this room")
                    changes.add(f"{ref.key}: removed {user_id}")

        await each(sorted(u for u in users if u in snap.people.roles), place)
        await self._leave_chats_no_longer_allowed(self._touched | gone, changes)
        for user_id in sorted(gone):
            await self.bot.suspend(user_id, True)
            changes.add(f"{user_id}: suspended (in no organization any more)")

    async def _join(self, user_id: str, refs: list[RoomRef], room_ids: dict[str, str], changes: Changes) -> None:
        """Join ``user_id`` to the rooms of ``refs`` in their order, as the user (``BotClient.join_as``);
        one person's refused join is logged, never the school's failure."""
        rooms = [(room_ids[ref.key], self.templates.kinds[ref.kind].join_rule == "invite") for ref in refs]
        failed = await self.bot.join_as(user_id, rooms)
        for ref in refs:
            error = failed.get(room_ids[ref.key])
            if error is not None:
                log.warning("%s: could not join %s: %s %s", ref.key, user_id, error.errcode, error.message)
                continue
            changes.add(f"{ref.key}: join {user_id}")
            crash_point("reconcile.joined")

    async def _leave_chats_no_longer_allowed(self, users: set[str], changes: Changes) -> None:
        """Each of ``users`` leaves the people's chats (direct and group) where someone joined is
        no longer someone they may be with (``Capabilities.may_contact``): a teacher no longer
        confirmed, a person removed from the school, a pupil moved to another class. Their pending
        invitations into such chats, and into network rooms they may no longer enter, are withdrawn
        the same way (an invitation shows the room's name and the inviter, and is one click from a join).
        Re-run, it finds nothing left to do (a withdrawn invitation is a ``leave``)."""
        if not users:
            return
        caps = default_capabilities()
        with self.store.begin() as tx:  # organizations' own rooms are never people's chats
            school_rooms = {r.room_id for r in tx.execute(sa.select(st.rooms.c.room_id))}
        for user_id in sorted(users):
            rooms = {r: m for r, m in (await self.bot.memberships_of(user_id)).items()
                     if m in ("join", "invite") and r not in school_rooms}
            with self.store.begin() as tx:
                me = account_from_db(tx, user_id)
            if user_id in self._was_staff and not may_take_part_in_partner_room(me):
                # invitations from partner servers into rooms this server is not in yet: only the
                # invitee's own view lists them (one /sync), and only former staff can hold them
                await self._withdraw_partner_invitations(me, set(rooms), changes)
            if not rooms:
                continue  # a newcomer: only the school's rooms, no room state read
            for room_id, membership in sorted(rooms.items()):
                invited = membership == "invite"
                events = await self.bot.room_events_as_admin(room_id)
                state = {(e["type"], str(e.get("state_key", ""))): e.get("content") or {} for e in events}
                info = RoomInfo.from_state(state.get((PartaEventTypes.ROOM, "")))
                if info is not None and info.kind == "network":
                    await self._leave_network_room_if_not_staff(me, room_id, info, events, changes, invited)
                    continue
                if info is None or info.kind not in ("dm", "chat"):
                    continue
                others = [k for (t, k), c in state.items() if t == "m.room.member" and c.get("membership") == "join"
                          and k not in (user_id, self.bot.user_id)]
                with self.store.begin() as tx:
                    accounts = [account_from_db(tx, u) for u in others]
                    orgs = {o for a in (me, *accounts) for o in a.memberships}
                    settings = {o: org_own_settings(tx, o) for o in orgs}
                if any(not caps.may_contact(me, other, settings) for other in accounts):
                    if invited:  # the bot holds no power in people's chats: the invitee declines
                        await self._withdraw_invitation(user_id, room_id, f"chat {room_id}", kick=False,
                                                        changes=changes)
                        continue
                    await self.bot.leave_as(user_id, room_id, "no longer a participant of this chat")
                    changes.add(f"{user_id}: left chat {room_id} (no longer allowed with its members)")

    async def _leave_network_room_if_not_staff(self, me: Account, room_id: str, info: RoomInfo,
                                               events: list[dict], changes: Changes, invited: bool = False) -> None:
        """``me`` leaves (and forgets, so its history stops being readable) the network room ``room_id``,
        this server's or a partner's, when no longer allowed there
        (``policies.federation.may_stay_in_network_room``): a network room follows the person's current
        role like every school room, and a partner learns of this server's ex-staff from the leave.
        ``invited``: ``me`` is only invited; the invitation is withdrawn instead (by the bot, who made
        this server's network rooms; declined for a partner's room)."""
        create = next((e for e in events if e.get("type") == "m.room.create"), {})
        partners = server_of(str(create.get("sender", ""))) not in ("", self.server_name)
        if may_stay_in_network_room(me, info, partners):
            return
        if invited:
            await self._withdraw_invitation(me.user_id, room_id, f"network room {room_id}", kick=not partners,
                                            changes=changes)
            return
        await self.bot.leave_as(me.user_id, room_id, "no longer staff of this cross-school room's schools",
                                forget=True)
        changes.add(f"{me.user_id}: left network room {room_id} (no longer confirmed staff)")

    async def _withdraw_partner_invitations(self, me: Account, known: set[str], changes: Changes) -> None:
        """Decline ``me``'s pending invitations into partner servers' network rooms that this server
        is not in (so ``memberships_of`` does not list them; ``known`` are those it did). Only for
        someone no longer confirmed staff here (``may_take_part_in_partner_room``, as the module's join
        check): the partner sees the invitation declined (Server-Server API, "Leaving rooms
        (rejecting invites)")."""
        try:
            invitations = await self.bot.invitations_of(me.user_id)
        except MatrixRequestError as e:  # e.g. a deactivated account: nothing it could accept either
            log.warning("could not read the invitations of %s: %s %s", me.user_id, e.errcode, e.message)
            return
        for room_id, stripped in sorted(invitations.items()):
            if room_id in known:
                continue
            state = {(e.get("type"), e.get("state_key", "")): e for e in stripped if isinstance(e, dict)}
            info = RoomInfo.from_state((state.get((PartaEventTypes.ROOM, "")) or {}).get("content"))
            creator = str((state.get(("m.room.create", "")) or {}).get("sender") or "")
            if info is None or info.kind != "network" or server_of(creator) in ("", self.server_name):
                continue
            await self._withdraw_invitation(me.user_id, room_id, f"network room {room_id}", kick=False,
                                            changes=changes)

    async def _withdraw_invitation(self, user_id: str, room_id: str, where: str, *, kick: bool,
                                   changes: Changes) -> None:
        """Withdraw ``user_id``'s pending invitation into ``room_id``: a kick by the bot where it holds
        the power (``kick``: the school's rooms, this server's network rooms), which the Matrix spec
        ("Room membership") defines as revoking an invitation; else declined on the invitee's behalf
        and forgotten (``leave_as``: ``POST /rooms/{id}/leave`` rejects an invitation). Either way the
        membership becomes ``leave``. One person's failure is logged, never the school's."""
        reason = "no longer allowed in this room: invitation withdrawn"
        try:
            if kick:
                try:
                    await self.bot.kick(room_id, user_id, reason)
                    changes.add(f"{where}: invitation of {user_id} withdrawn")
                    return
                except MatrixRequestError as e:  # the bot not in the room, or without the power
                    log.info("%s: could not withdraw the invitation of %s (%s); declining it instead",
                             where, user_id, e.errcode)
            await self.bot.leave_as(user_id, room_id, reason, forget=True)
            changes.add(f"{where}: invitation of {user_id} declined (no longer allowed)")
        except MatrixRequestError as e:
            log.warning("%s: could not withdraw the invitation of %s: %s %s", where, user_id, e.errcode, e.message)

    @staticmethod
    def _related(snap: OrgSnapshot, users: set[str]) -> set[str]:
        """The children and guardians of ``users`` (their placements depend on each other)."""
        out: set[str] = set()
        for guardian, kids in snap.people.children.items():
            if guardian in users:
                out |= kids
            if kids & users:
                out.add(guardian)
        return out

    def _may_stay(self, snap: OrgSnapshot, ref: RoomRef, user_id: str) -> bool:
        """Whether someone joined but not placed here may stay (e.g. an administrator who came in)."""
        with self.store.begin() as tx:
            person = account_from_db(tx, user_id)
        info = RoomInfo(kind=ref.kind, org=ref.org, class_id=ref.class_id,
                        class_title=snap.classes.get(ref.class_id) if ref.class_id else None, org_name=snap.name)
        return bool(default_capabilities().may_join(person, info, is_invited=False))

    async def _display_names(self, snap: OrgSnapshot, changes: Changes, only: set[str] | None = None) -> None:
        """The server sets every display name: the roster's name, with the badge for confirmed teachers."""

        async def one(user_id: str) -> None:
            name = snap.display_names[user_id]
            with self.store.begin() as tx:
                person = account_from_db(tx, user_id)
                last = tx.execute(sa.select(st.people.c.display_name_set).where(
                    st.people.c.org_id == snap.org_id, st.people.c.user_id == user_id)).scalar()
                if last is None:
                    # new in this organization: the name another organization set is what Synapse
                    # has (every row is updated together), so an unchanged name is not set again
                    last = tx.execute(sa.select(st.people.c.display_name_set).where(
                        st.people.c.user_id == user_id, st.people.c.display_name_set.is_not(None))).scalar()
            confirmed = any(m.cap_role == "teacher" for m in person.memberships.values())
            wanted = server_display_name(name, self.badge if confirmed else None, self.badge,
                                         user_id.split(":", 1)[0].lstrip("@"))
            if wanted != last:
                await self.bot.set_displayname(user_id, wanted)
                with self.store.begin() as tx:
                    tx.execute(st.people.update().where(st.people.c.user_id == user_id)
                               .values(display_name_set=wanted))
                changes.add(f"{user_id}: display name")

        await each([u for u in sorted(snap.display_names) if only is None or u in only], one)

    def _placement(self, snap: OrgSnapshot, ref: RoomRef) -> tuple[set[str], dict[str, int]]:
        """Who is placed in a room and their power levels; the journal bridge among them where it
        serves the room and the organization has it on (``Templates.journal_bridge_level``)."""
        t = self.templates.kinds[ref.kind]
        members, levels = snap.people.placement(list(t.members), self.templates.grants(ref, snap.settings),
                                                ref.class_id)
        level = self.templates.journal_bridge_level(ref.kind, snap.settings) if self.bridge else 0
        if self.bridge is not None and level > 0:
            members.add(self.bridge)
            levels[self.bridge] = level
        return members, levels

    async def _write_state(self, room_id: str, key: str, desired: dict[tuple[str, str], dict],
                           current: dict[tuple[str, str], dict], changes: Changes) -> None:
        """Send each desired state event that differs from the current one. Empty desired content
        (a widget or role that should not be there) is sent only over content that is there."""
        for (etype, skey), content in desired.items():
            now = current.get((etype, skey))
            if now != content and not (is_absent(content) and is_absent(now)):
                await self.bot.send_state(room_id, etype, skey, content)
                changes.add(f"{key}: {etype} {skey}".rstrip())

    async def _place_bridge(self, room_id: str, key: str, wanted: bool, membership: str | None,
                            changes: Changes) -> None:
        """Invite the journal bridge where it is placed and neither joined nor invited; withdraw an
        invitation where it is not (a joined bridge that is not placed is kicked like anyone).
        The bridge may not be registered yet (its service not started): logged, never the school's
        failure; the next reconcile invites it again."""
        if self.bridge is None:
            return
        try:
            if wanted and membership not in ("join", "invite", "ban"):
                await self.bot.invite(room_id, self.bridge)
                changes.add(f"{key}: invited {self.bridge}")
            elif not wanted and membership == "invite":
                await self.bot.kick(room_id, self.bridge, "the journal bridge is off")
                changes.add(f"{key}: invitation of {self.bridge} withdrawn")
        except MatrixRequestError as e:
            log.warning("%s: could not invite or uninvite %s: %s %s", key, self.bridge, e.errcode, e.message)

    def _desired_state(self, ref: RoomRef, snap: OrgSnapshot, room_ids: dict[str, str],
                       children: list[tuple[RoomRef, str]], placements) -> dict[tuple[str, str], dict]:
        state = self.templates.state(
            ref, room_ids=room_ids, server_name=self.server_name, children=children,
            org_name=snap.name, class_title=snap.classes.get(ref.class_id) if ref.class_id else None,
            language=snap.language, users=placements[ref.key][1], settings=snap.settings)
        if ref.kind == "school_space":
            for key in self._stale_roles.get(ref.org, ()):
                state[(PartaEventTypes.ROLE, key)] = {}
            for user_id, role in sorted(snap.people.roles.items()):
                state[(PartaEventTypes.ROLE, user_state_key(user_id))] = {"role": role.value,
                                                "confirmed": user_id in snap.people.confirmed}
        return state

    async def _ensure_room(self, ref: RoomRef, snap: OrgSnapshot, known: dict[str, str],
                           room_ids: dict[str, str], placements, changes: Changes) -> str:
        room_id = known.get(ref.key)
        alias_local = self.templates.alias_localpart(ref)
        if room_id is None:
            alias = f"#{alias_local}:{self.server_name}"
            room_id = await self.bot.resolve_alias(alias)
            if room_id is not None and not await self._made_by_the_bot(room_id):
                # someone else's room under the school's address (made before people were refused
                # aliases): never adopt it; free the address and build the school's own room
                log.warning("%s: the alias %s pointed at %s, not made by Parta; removed", ref.key, alias, room_id)
                await self.bot.delete_alias(alias)
                changes.add(f"{ref.key}: alias {alias} taken back from {room_id}")
                room_id = None
            if room_id is None:
                t = self.templates.kinds[ref.kind]
                state = self._desired_state(ref, snap, room_ids, [], placements)
                creation: dict[str, object] = {"m.federate": False}
                if t.space:
                    creation["type"] = "m.space"
                room_id = await self.bot.create_room({
                    "preset": "private_chat",
                    "visibility": "private",
                    "room_version": self.templates.room_version,
                    "room_alias_name": alias_local,
                    "creation_content": creation,
                    "initial_state": [{"type": k[0], "state_key": k[1], "content": v} for k, v in state.items()
                                      if not is_absent(v)],
                })
                changes.add(f"{ref.key}: created room {room_id}")
                crash_point("reconcile.room_created")
            with self.store.begin() as tx:
                tx.execute(st.rooms.insert().values(key=ref.key, org_id=ref.org, room_id=room_id))
        return room_id

    async def _made_by_the_bot(self, room_id: str) -> bool:
        """Whether the bot created ``room_id`` (its ``m.room.create`` event's sender)."""
        events = await self.bot.room_events_as_admin(room_id)
        return any(e.get("type") == "m.room.create" and e.get("sender") == self.bot.user_id for e in events)

    async def _update_registry(self, snap: OrgSnapshot, space_id: str, changes: Changes,
                               only: set[str] | None = None) -> set[str]:
        """Write the organization's and its people's registry entries (``only`` these people when
        given); drop the organization from the entries of people who left it. Returns the accounts
        left in no organization."""
        if only is None:
            current = await self.bot.room_state(self.registry_id)
        else:  # a few people: their entries and the organization's, not the whole registry
            current = {}

            async def read(etype: str, skey: str) -> None:
                content = await self.bot.state_event(self.registry_id, etype, skey)
                if content is not None:
                    current[(etype, skey)] = content

            await each([(PartaEventTypes.ORG, snap.org_id)] + [
                (PartaEventTypes.PERSON, user_state_key(u)) for u in sorted(only)], lambda key: read(*key))
        gone: set[str] = set()
        self._touched, self._was_staff = set(), set()
        for (etype, skey), content in current.items() if only is None else ():
            if etype != PartaEventTypes.PERSON or snap.org_id not in (content.get("orgs") or {}):
                continue
            user_id = skey[1:]
            if user_id not in snap.people.roles:
                orgs = {o: e for o, e in content["orgs"].items() if o != snap.org_id}
                await self.bot.send_state(self.registry_id, PartaEventTypes.PERSON, skey, {"orgs": orgs})
                changes.add(f"registry: {user_id} left {snap.org_id}")
                self._touched.add(user_id)
                if is_confirmed_staff(Account.from_registry(user_id, content)):
                    self._was_staff.add(user_id)
                if not orgs:
                    gone.add(user_id)
        org_entry = {"space": space_id, "name": snap.name, "settings": snap.settings}
        if current.get((PartaEventTypes.ORG, snap.org_id)) != org_entry:
            await self.bot.send_state(self.registry_id, PartaEventTypes.ORG, snap.org_id, org_entry)
            changes.add(f"registry: organization {snap.org_id}")

        async def write(user_id: str) -> None:
            role = snap.people.roles[user_id]
            old = current.get((PartaEventTypes.PERSON, user_state_key(user_id))) or {"orgs": {}}
            entry = {
                "role": role.value,
                "confirmed": user_id in snap.people.confirmed,
                "classes": snap.person_classes.get(user_id, []),
                "children": sorted(snap.people.children.get(user_id, set())),
                "homeroom": sorted(c for c in snap.classes if user_id in snap.people.homeroom_of(c)),
            }
            if old.get("orgs", {}).get(snap.org_id) != entry:
                new = {"orgs": {**old.get("orgs", {}), snap.org_id: entry}}
                await self.bot.send_state(self.registry_id, PartaEventTypes.PERSON, user_state_key(user_id), new)
                changes.add(f"registry: {user_id} in {snap.org_id}")
                self._touched.add(user_id)
                if is_confirmed_staff(Account.from_registry(user_id, old)):
                    self._was_staff.add(user_id)
                if (PartaEventTypes.PERSON, user_state_key(user_id)) in current and not old.get("orgs"):
                    await self.bot.suspend(user_id, False)  # back in an organization

        # entries of different people concurrently (Synapse orders a room's events itself)
        await each([u for u in sorted(snap.people.roles) if only is None or u in only], write)
        return gone

    # -- diaries: one room per pupil, for the journal bridge's grades ----------------------------
    def diary_plan(self, tx: Connection, org_id: str, person_id: str) -> DiaryPlan:
        """Read what one pupil's diary should be. The caller checked that ``person_id`` is (or was)
        a student of ``org_id``; a pupil no longer active gets no members."""
        org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == org_id)).one()
        settings = json.loads(org.payload).get("settings") or {}
        pupil = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                      st.people.c.person_id == person_id)).one()
        if pupil.role == Role.TEACHER:
            return self._teacher_journal_plan(tx, org, settings, pupil)
        active = pupil.status == "active" and pupil.role == Role.STUDENT
        classes = sorted(e.class_id for e in tx.execute(sa.select(st.enrollments).where(
            st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == person_id,
            st.enrollments.c.role == Role.STUDENT)))
        class_id = classes[0] if classes else None
        title = tx.execute(sa.select(st.classes.c.title).where(
            st.classes.c.org_id == org_id, st.classes.c.class_id == class_id)).scalar() if class_id else None
        members: list[str] = []
        if active:
            guardian_ids = [g.guardian_id for g in tx.execute(sa.select(st.guardianships).where(
                st.guardianships.c.org_id == org_id, st.guardianships.c.student_id == person_id))]
            guardians = tx.execute(sa.select(st.people.c.user_id).where(
                st.people.c.org_id == org_id, st.people.c.person_id.in_(guardian_ids),
                st.people.c.status == "active", st.people.c.user_id.is_not(None))).scalars().all()
            members = sorted({*([pupil.user_id] if pupil.user_id else []), *guardians})
        ref = RoomRef(org_id, "diary", class_id, person_id=person_id)
        room_id = tx.execute(sa.select(st.rooms.c.room_id).where(st.rooms.c.key == ref.key)).scalar()
        name = " ".join(p for p in (pupil.family_name, pupil.given_name) if p)
        return DiaryPlan(ref=ref, room_id=room_id, person_name=name, class_title=title, org_name=org.name,
                         language=settings.get("language") or self.language, settings=settings, members=members)

    def _teacher_journal_plan(self, tx: Connection, org: Any, settings: dict, teacher: Any) -> DiaryPlan:
        """A confirmed teacher's journal room: the teacher alone (nobody once no longer a confirmed,
        active teacher with an account)."""
        active = teacher.status == "active" and bool(teacher.confirmed) and teacher.user_id
        ref = RoomRef(org.id, "teacher_journal", person_id=teacher.person_id)
        room_id = tx.execute(sa.select(st.rooms.c.room_id).where(st.rooms.c.key == ref.key)).scalar()
        name = " ".join(p for p in (teacher.family_name, teacher.given_name, teacher.middle_name) if p)
        return DiaryPlan(ref=ref, room_id=room_id, person_name=name, class_title=None, org_name=org.name,
                         language=settings.get("language") or self.language, settings=settings,
                         members=[teacher.user_id] if active else [])

    async def ensure_diary(self, plan: DiaryPlan, changes: Changes) -> str:
        """Create the diary when it is missing (recorded in ``rooms`` under ``RoomRef.key``), then
        bring its state and memberships to the plan: the members joined (the bot invites, each
        joins with their own request, as ``_join``), everyone else taken out, the bridge invited
        while the organization has it on. Returns the room id. Idempotent.

        The room has no alias: a crash between its creation and the ``rooms`` row leaves an empty
        room the next run does not find (it makes another)."""
        ref = plan.ref
        level = self.templates.journal_bridge_level(ref.kind, plan.settings) if self.bridge else 0
        users = {self.bridge: level} if self.bridge is not None and level > 0 else {}
        desired = self.templates.state(
            ref, room_ids={}, server_name=self.server_name, children=[], org_name=plan.org_name,
            class_title=plan.class_title, language=plan.language, users=users, settings=plan.settings,
            person_name=plan.person_name,
            tag={"teacher" if ref.kind == "teacher_journal" else "student": ref.person_id, "members": plan.members})
        room_id = plan.room_id
        if room_id is None:
            room_id = await self.bot.create_room({
                "preset": "private_chat", "visibility": "private", "room_version": self.templates.room_version,
                "creation_content": {"m.federate": False},
                "initial_state": [{"type": k[0], "state_key": k[1], "content": v} for k, v in desired.items()
                                  if not is_absent(v)],
            })
            changes.add(f"{ref.key}: created room {room_id}")
            with self.store.begin() as tx:
                tx.execute(st.rooms.insert().values(key=ref.key, org_id=ref.org, room_id=room_id))
        current = await self.bot.room_state(room_id)
        await self._write_state(room_id, ref.key, desired, current, changes)
        membership = {k: c.get("membership") for (t, k), c in current.items() if t == "m.room.member"}
        for user_id in plan.members:
            if membership.get(user_id) not in ("join", "ban"):
                await self._join(user_id, [ref], {ref.key: room_id}, changes)
        if users:  # off: the bridge is taken out below like anyone not kept
            await self._place_bridge(room_id, ref.key, True, membership.get(self.bridge or ""), changes)
        keep = {*plan.members, self.bot.user_id, *users}
        for user_id, m in sorted(membership.items()):
            if m in ("join", "invite") and user_id not in keep:
                await self.bot.kick(room_id, user_id, "no longer a participant of this diary")
                changes.add(f"{ref.key}: removed {user_id}")
        return room_id

    async def _sync_diaries(self, org_id: str, only_users: set[str] | None, changes: Changes) -> None:
        """Keep the organization's existing diaries in order (members, the bridge's power): all of
        them, or with ``only_users`` those of these people and of their children."""
        prefixes = [RoomRef(org_id, kind, person_id="").key for kind in ("diary", "teacher_journal")]
        with self.store.begin() as tx:
            pupils = []
            for prefix in prefixes:  # teachers' journal rooms are kept in order the same way
                keys = [r.key for r in tx.execute(sa.select(st.rooms.c.key).where(
                    st.rooms.c.org_id == org_id, st.rooms.c.key.startswith(prefix, autoescape=True)))]
                pupils += [k[len(prefix):] for k in keys]
            if only_users is not None:
                mine = set(tx.execute(sa.select(st.people.c.person_id).where(
                    st.people.c.org_id == org_id, st.people.c.user_id.in_(sorted(only_users)))).scalars())
                kids = set(tx.execute(sa.select(st.guardianships.c.student_id).where(
                    st.guardianships.c.org_id == org_id,
                    st.guardianships.c.guardian_id.in_(sorted(mine)))).scalars())
                pupils = [p for p in pupils if p in mine | kids]
            plans = [self.diary_plan(tx, org_id, p) for p in pupils]
        for plan in plans:
            try:
                await self.ensure_diary(plan, changes)
            except MatrixRequestError as e:  # one pupil's diary is never the school's failure
                log.warning("%s: diary not updated: %s %s", plan.ref.key, e.errcode, e.message)
