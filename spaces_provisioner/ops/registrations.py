"""Registrations and redemptions: placing accounts registered with a Parta link, and signed-in
people using a link.

When an account is created with a registration token, the Synapse module records the token and
nudges the service (``POST /api/v1/registrations/nudge``); :meth:`Registrations.place_registration`
then reads the record back from the homeserver (so a forged nudge does nothing) and gives the
account its place: its roster entry (or a new one), its class, its guardianship, its rooms. The
registration page calls the same method right after registering, and a periodic
:meth:`~Registrations.sweep` places any account whose nudge was lost: three callers, one path.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from policies import org_settings
from policies.capabilities import Account, Decision, RoomInfo, deny
from policies.i18n import N_
from policies.links import Link, may_redeem, usable
from policies.model import FullName
from policies.state_events import PartaEventTypes

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import account_from_db, guardian_count, person_row
from spaces_provisioner.errors import Refused, check
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.links import link_code_of_token, link_from_row

log = logging.getLogger("parta.registrations")


class StaleCode(Exception):
    """A personal code used after its person got an account another way (``args[0]``: person id)."""


class Registrations:
    """Placing registrations and redeeming links, for one installation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.caps = ctx.caps
        self._waiting: dict[str, list[asyncio.Future[dict]]] = {}   # accounts waiting for the next batch
        self._worker: asyncio.Task | None = None

    async def place_registration(self, user_id: str) -> dict:
        """Give an account registered with a Parta link its place (idempotent).

        The token is read back from the homeserver (the module's record), never taken from
        the caller. Registrations that arrive together are placed together: while one batch is
        being placed, the next ones gather, and each batch costs one snapshot of the school and
        one incremental placement (``Reconciler`` with ``only_users``) instead of one per account
        (the 1 September wave). A caller that arrives second for the same account (the page and
        the module's nudge race) returns once the account is in its rooms. Returns
        ``{"user_id", "placed", "org", "changes"}``.
        """
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._place_batches())
        return await future

    async def _place_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                async with self.ctx.lock:
                    results = await self._place_batch(sorted(batch))
            except Exception as e:  # noqa: BLE001 - every waiting caller hears of the failure
                results = {u: e for u in batch}
            for user_id, futures in batch.items():
                for f in futures:
                    if f.done():
                        continue
                    outcome = results.get(user_id)
                    if isinstance(outcome, BaseException):
                        f.set_exception(outcome)
                    else:
                        f.set_result(outcome or {"user_id": user_id, "placed": False, "org": None, "changes": 0})

    async def _place_batch(self, users: list[str]) -> dict[str, dict | BaseException]:
        records = await asyncio.gather(*(self.ctx.bot.registration_records(user_id=u) for u in users))
        results: dict[str, dict | BaseException] = {}
        bound: dict[str, tuple[Link, Changes]] = {}
        for user_id, recs in zip(users, records, strict=True):
            try:
                answer, link, changes = self._bind(user_id, recs)
            except Exception as e:  # noqa: BLE001 - one account's failure is that account's answer
                results[user_id] = e
                continue
            results[user_id] = answer
            if link is not None:
                bound[user_id] = (link, changes)
        for org in sorted({link.org for link, _c in bound.values()}):
            newcomers = {u for u, (link, _c) in bound.items() if link.org == org}
            rchanges, _ids = await self.ctx.reconciler().reconcile(org, only_users=newcomers)
            share = rchanges.count // max(len(newcomers), 1)
            for user_id in sorted(newcomers):
                link, changes = bound[user_id]
                if link.rooms:
                    changes.extend(await self._join_link_rooms(link, user_id))
                results[user_id] = {"user_id": user_id, "placed": True, "org": org,
                                    "changes": changes.count + share}
        return results

    def _bind(self, user_id: str, records: list[dict]) -> tuple[dict, Link | None, Changes]:
        """One registration's database part: its roster entry (or a new one), enrollment, link use.
        Returns (the answer, the link when the account still needs its rooms, the changes)."""
        changes = Changes()
        nothing = {"user_id": user_id, "placed": False, "org": None, "changes": 0}
        if not records:
            return nothing, None, changes
        code = link_code_of_token(records[0]["token"])
        with self.ctx.store.begin() as tx:
            done = tx.execute(sa.select(st.registrations).where(st.registrations.c.user_id == user_id)).one_or_none()
            if done is not None:
                return {"user_id": user_id, "placed": True, "org": done.org_id, "changes": 0}, None, changes
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            if row is None:
                return nothing, None, changes
            link = link_from_row(row)
            localpart = user_id.split(":", 1)[0].lstrip("@")
            page = tx.execute(sa.select(st.page_registrations).where(
                st.page_registrations.c.localpart == localpart,
                st.page_registrations.c.code == code)).one_or_none()
            try:
                person_id = self._bind_person(tx, link, user_id, page, changes)
            except StaleCode as e:
                st.audit(tx, "homeserver", "account.stale_code", user_id=user_id, org=link.org, person=e.args[0])
                log.warning("%s registered with the personal code of %s, who has an account: not placed",
                            user_id, e.args[0])
                return nothing, None, changes
            tx.execute(st.registrations.insert().values(user_id=user_id, code=code, org_id=link.org,
                                                        person_id=person_id, processed_at=st.now_ms()))
            tx.execute(st.links.update().where(st.links.c.code == code).values(uses=st.links.c.uses + 1))
            st.audit(tx, "homeserver", "account.registered", user_id=user_id, org=link.org, code=code)
        return {"user_id": user_id, "placed": True, "org": link.org, "changes": 0}, link, changes

    def _bind_person(self, tx, link: Link, user_id: str, page, changes: Changes) -> str:
        """The people row the new account belongs to: its roster entry, or a new one."""
        if link.person_id is not None:
            bound = tx.execute(sa.select(st.people.c.user_id).where(
                st.people.c.org_id == link.org, st.people.c.person_id == link.person_id)).scalar()
            if bound is not None and bound != user_id:
                # a personal code printed before the person got an account another way: the code
                # is stale, and the roster identity stays with the account that has it
                raise StaleCode(link.person_id)
            tx.execute(st.people.update().where(st.people.c.org_id == link.org,
                                                st.people.c.person_id == link.person_id).values(user_id=user_id))
            if page is not None and page.guardian_email:
                tx.execute(st.people.update().where(st.people.c.org_id == link.org,
                                                    st.people.c.person_id == link.person_id)
                           .values(guardian_email=page.guardian_email))
            changes.add(f"{link.org}/{link.person_id}: account {user_id}")
            return link.person_id
        person_id = f"account:{user_id}"
        localpart = user_id.split(":", 1)[0].lstrip("@")
        name = FullName(page.family_name, page.given_name, page.middle_name) if page is not None \
            else FullName("", localpart)
        tx.execute(st.people.insert().values(
            org_id=link.org, person_id=person_id, family_name=name.family_name, given_name=name.given_name,
            middle_name=name.middle_name, role=link.role, grades="[]",
            confirmed=link.role in ("admin", "head"), user_id=user_id, status="active",
            guardian_email=page.guardian_email if page is not None else None))
        self._attach(tx, link, person_id)
        changes.add(f"{link.org}/{person_id}: new {link.role} {user_id}")
        return person_id

    def _attach(self, tx, link: Link, person_id: str) -> None:
        """Enroll in the link's class and link a parent to the link's child (within the limit of
        guardians per child; beyond it the account gets no link to the child)."""
        if link.class_id is not None and link.role in ("student", "teacher"):
            exists = tx.execute(sa.select(st.enrollments).where(
                st.enrollments.c.org_id == link.org, st.enrollments.c.class_id == link.class_id,
                st.enrollments.c.person_id == person_id)).one_or_none()
            if exists is None:
                tx.execute(st.enrollments.insert().values(org_id=link.org, class_id=link.class_id,
                                                          person_id=person_id, role=link.role, is_primary=False))
        if link.role == "parent" and link.child_person_id is not None:
            exists = tx.execute(sa.select(st.guardianships).where(
                st.guardianships.c.org_id == link.org, st.guardianships.c.student_id == link.child_person_id,
                st.guardianships.c.guardian_id == person_id)).one_or_none()
            limit = org_settings.max_guardians(self.ctx.org_settings(tx, link.org))
            if exists is None and guardian_count(tx, link.org, link.child_person_id) < limit:
                tx.execute(st.guardianships.insert().values(org_id=link.org, student_id=link.child_person_id,
                                                            guardian_id=person_id, relation="parent"))

    async def redeem(self, code: str, user_id: str) -> dict:
        """A signed-in account uses a link: takes its role (once), joins its rooms.

        Redeeming twice changes nothing. Raises Refused with the policy's reason.
        """
        async with self.ctx.lock:
            return await self._redeem(code, user_id)

    async def _redeem(self, code: str, user_id: str) -> dict:
        now = st.now_ms()
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            link = link_from_row(row) if row else None
            redeemer = account_from_db(tx, user_id)
            if link is not None and self._already_redeemed(tx, link, user_id):
                return {"code": code, "user_id": user_id, "changes": 0}
            if link is None:
                raise Refused(usable(None, now), 404)
            removed = tx.execute(sa.select(st.people.c.person_id).where(
                st.people.c.org_id == link.org, st.people.c.user_id == user_id,
                st.people.c.status == "removed")).first() is not None
            check(may_redeem(link, redeemer, now, removed=removed))
        changes = Changes()
        if link.role is None:
            await self._join_link_rooms(link, user_id, dry_run=True)  # refuse before anything is counted
        if link.role is not None:
            with self.ctx.store.begin() as tx:
                existing = person_row(tx, link.org, user_id)
                if existing is None:
                    names = tx.execute(sa.select(st.people).where(st.people.c.user_id == user_id)).first()
                    name = FullName(names.family_name, names.given_name, names.middle_name) if names \
                        else FullName("", user_id.split(":", 1)[0].lstrip("@"))
                    person_id = f"account:{user_id}"
                    tx.execute(st.people.insert().values(
                        org_id=link.org, person_id=person_id, family_name=name.family_name,
                        given_name=name.given_name, middle_name=name.middle_name, role=link.role, grades="[]",
                        confirmed=link.role in ("admin", "head"), user_id=user_id, status="active"))
                    changes.add(f"{link.org}: {user_id} joins as {link.role}")
                else:
                    person_id = existing.person_id
                before = (tx.execute(sa.select(sa.func.count()).select_from(st.guardianships)).scalar(),
                          tx.execute(sa.select(sa.func.count()).select_from(st.enrollments)).scalar())
                self._attach(tx, link, person_id)
                after = (tx.execute(sa.select(sa.func.count()).select_from(st.guardianships)).scalar(),
                         tx.execute(sa.select(sa.func.count()).select_from(st.enrollments)).scalar())
                if after != before:
                    changes.add(f"{link.org}/{person_id}: linked by {code}")
        with self.ctx.store.begin() as tx:
            tx.execute(st.links.update().where(st.links.c.code == code).values(uses=st.links.c.uses + 1))
            tx.execute(st.redemptions.insert().values(code=code, user_id=user_id, ts=now))
            st.audit(tx, user_id, "link.redeem", org=link.org, code=code)
        # the link is used up: Synapse must not take it for a registration any more
        if link.uses_allowed is not None and link.uses + 1 >= link.uses_allowed and link.role is not None:
            await self.ctx.bot.delete_registration_token(code)
        rchanges, _ids = await self.ctx.reconciler().reconcile(link.org, only_users={user_id})
        changes.extend(rchanges)
        if link.rooms:
            changes.extend(await self._join_link_rooms(link, user_id))
        return {"code": code, "user_id": user_id, **changes.to_json()}

    async def sweep(self) -> int:
        """Place every recorded registration not placed yet (nudges can be lost); returns how many."""
        with self.ctx.store.begin() as tx:
            since = int(tx.execute(sa.select(st.state.c.value).where(st.state.c.key == "sweep_since")).scalar() or 0)
        records = await self.ctx.bot.registration_records(since=since)
        # placed together, as one batch (see place_registration)
        results = await asyncio.gather(*(self.place_registration(rec["user_id"]) for rec in records))
        placed = sum(int(r["changes"] > 0) for r in results)
        since = max([since, *(int(rec["ts"]) for rec in records)])
        with self.ctx.store.begin() as tx:
            tx.execute(st.state.delete().where(st.state.c.key == "sweep_since"))
            tx.execute(st.state.insert().values(key="sweep_since", value=str(since)))
        return placed

    async def sweep_forever(self, every_s: float = 30.0) -> None:
        """Run :meth:`sweep` now and then every ``every_s`` seconds (the service's background task)."""
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - any failure: log it and try again next time
                log.exception("registration sweep failed")
            await asyncio.sleep(every_s)

    def _already_redeemed(self, tx, link: Link, user_id: str) -> bool:
        redeemed = tx.execute(sa.select(st.redemptions).where(
            st.redemptions.c.code == link.code, st.redemptions.c.user_id == user_id)).first()
        registered = tx.execute(sa.select(st.registrations).where(
            st.registrations.c.code == link.code, st.registrations.c.user_id == user_id)).first()
        return redeemed is not None or registered is not None

    async def _join_link_rooms(self, link: Link, user_id: str, dry_run: bool = False) -> Changes:
        """Invite and join ``user_id`` into a chat link's rooms; raises Refused where the rules
        do not allow it (``dry_run``: only check)."""
        changes = Changes()
        with self.ctx.store.begin() as tx:
            newcomer = account_from_db(tx, user_id)
        for room_id in link.rooms:
            try:
                events = {(e["type"], str(e.get("state_key", ""))): e
                          for e in await self.ctx.bot.room_events_as_admin(room_id)}
            except MatrixRequestError:
                continue  # the room is gone
            state = {k: e.get("content") or {} for k, e in events.items()}
            mine = events.get(("m.room.member", user_id))
            membership = (mine or {}).get("content", {}).get("membership")
            if membership == "join":
                continue
            info = RoomInfo.from_state(state.get((PartaEventTypes.ROOM, "")))
            if membership == "ban" or (membership == "leave" and mine is not None and mine.get("sender") != user_id):
                raise Refused(deny("removed_from_chat", N_(
                    "You were removed from this chat; a link does not bring you back: ask the people in it")))
            people_room = info is not None and info.kind in ("dm", "chat")
            if people_room and link.created_by.startswith("@") and state.get(
                    ("m.room.member", link.created_by), {}).get("membership") != "join":
                raise Refused(deny("link_creator_left", N_(
                    "The person who made this link is no longer in the chat; ask someone in it for a new link")))
            members = [u for (t, u), c in state.items() if t == "m.room.member"
                       and c.get("membership") in ("join", "invite") and u != self.ctx.bot.user_id]
            with self.ctx.store.begin() as tx:
                people = [account_from_db(tx, u) for u in members]
                creator = account_from_db(tx, link.created_by) if link.created_by.startswith("@") else None
                orgs = {o for a in (newcomer, *people) for o in a.memberships}
                settings = {o: self.ctx.org_settings(tx, o) for o in orgs}
            check(self._may_enter(info, creator, newcomer, people, settings))
            if dry_run:
                continue
            await self.ctx.bot.force_join(user_id, room_id)
            changes.add(f"{room_id}: join {user_id} by link")
        return changes

    def _may_enter(self, info: RoomInfo | None, creator: Account | None, newcomer: Account,
                   members: list[Account], settings) -> Decision:
        if info is None:
            return deny("room_other_org", N_("This room does not belong to the organization"))
        if info.kind not in ("dm", "chat"):
            return self.caps.may_join(newcomer, info, is_invited=True)
        inviter = creator or (members[0] if members else newcomer)
        return self.caps.may_invite(inviter, newcomer, info, [m for m in members if m.user_id != inviter.user_id],
                                    settings)
