"""Accounts: login names that carry no contact details, one-time passwords, creation on Synapse.

:class:`Accounts` gives roster people their accounts (the operator's tool; the demo uses it)
and creates accounts in no organization.

A login name (the Matrix ID's localpart) is built from the person's name only,
transliterated with iuliia's Wikipedia scheme (``Ирина Соколова`` →
``irina.sokolova``), with a number added on a clash. Never from a phone number,
an e-mail address or a roster username (rosters often use e-mails as usernames).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from collections.abc import Collection
from typing import Any

import iuliia
import sqlalchemy as sa

from policies.i18n import _
from policies.model import FullName

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import not_found
from spaces_provisioner.faults import crash_point
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.ops.context import Context
from spaces_provisioner.reconcile.reconciler import server_display_name

#: Accounts created at once: enough to keep every core hashing (Synapse hashes passwords on its
#: thread pool), few enough not to queue on Synapse's main thread.
ACCOUNT_CONCURRENCY = 2 * (os.cpu_count() or 2) + 2

#: Characters of one-time passwords: no look-alikes (0/O, 1/l/I).
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def login_base(name: FullName) -> str:
    """``given.family`` in lower-case Latin letters, digits, '.', '-' (Matrix localpart grammar).

    Falls back to ``user`` when nothing Latin remains.
    """
    parts = []
    for part in (name.given_name, name.family_name):
        latin = iuliia.WIKIPEDIA.translate(part).lower()
        latin = re.sub(r"[^a-z0-9]+", "-", latin).strip("-")
        if latin:
            parts.append(latin)
    return ".".join(parts)[:40] or "user"


def one_time_password(groups: int = 4, size: int = 4) -> str:
    """A random password such as ``k7mq-3xhe-p9tw-2vna`` (about 79 bits), read aloud easily."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups))


async def choose_user_id(bot: BotClient, server_name: str, name: FullName, reserved: set[str]) -> str:
    """A free user id for ``name``: ``@given.family:server``, then ``...2``, ``...3``...

    ``reserved`` holds ids already promised in the provisioning database.
    """
    base = login_base(name)
    n = 1
    while True:
        user_id = f"@{base}{n if n > 1 else ''}:{server_name}"
        if user_id not in reserved and await bot.get_user(user_id) is None:
            return user_id
        n += 1


async def ensure_account(bot: BotClient, user_id: str, display_name: str) -> str | None:
    """Create the account with ``display_name`` when it does not exist; returns its new one-time
    password, else None. An existing account's display name is the reconciler's to keep in step
    (``Reconciler._display_names``: the badge of a confirmed teacher)."""
    if await bot.get_user(user_id) is None:
        password = one_time_password()
        await bot.put_user(user_id, {"password": password, "displayname": display_name, "admin": False})
        return password
    return None


def families(person_ids: list[str], links: list[tuple[str, str]]) -> list[list[str]]:
    """``person_ids`` grouped into families: pupils and guardians joined by ``links`` (student id,
    guardian id), siblings and their parents together; everyone else alone. Order kept."""
    parent: dict[str, str] = {i: i for i in person_ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        if a in parent and b in parent:
            parent[root(a)] = root(b)
    out: dict[str, list[str]] = {}
    for i in person_ids:
        out.setdefault(root(i), []).append(i)
    return list(out.values())


class Accounts:
    """Account operations of one installation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def provision_person(self, org_id: str, person_id: str, actor: str,
                               confirmed: bool | None = None) -> dict:
        """Give a roster person an account now (operator tool; the demo uses it).

        ``confirmed`` sets a teacher's confirmation. Returns ``{"user_id", "password",
        "role", "changes", "details"}``; ``password`` only when the account is new.
        Raises 404 ``M_NOT_FOUND`` for an unknown person.
        """
        async with self.ctx.lock:
            changes = Changes()
            with self.ctx.store.begin() as tx:
                person = tx.execute(sa.select(st.people).where(
                    st.people.c.org_id == org_id, st.people.c.person_id == person_id)).one_or_none()
                if person is None:
                    raise not_found(_("Organization {org} has no person {person} in its roster").format(
                        org=org_id, person=person_id))
                if confirmed is not None and bool(person.confirmed) != confirmed:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id)
                               .values(confirmed=confirmed))
                    changes.add(f"{org_id}/{person_id}: confirmed={confirmed}")
                    st.audit(tx, actor, "person.confirm", org=org_id, person=person_id, confirmed=confirmed)
            accounts = await self.ensure_accounts(org_id, [person_id], changes)
            with self.ctx.store.begin() as tx:
                person = tx.execute(sa.select(st.people).where(
                    st.people.c.org_id == org_id, st.people.c.person_id == person_id)).one()
                if accounts and accounts[0].get("password"):   # a new account (an existing one has none)
                    st.audit(tx, actor, "account.create", org=org_id, person=person_id, user_id=person.user_id)
            rchanges, _ids = await self.ctx.reconciler().reconcile(org_id, only_users={person.user_id})
            changes.extend(rchanges)
            password = accounts[0]["password"] if accounts else None
            return {"user_id": person.user_id, "role": person.role, "password": password, **changes.to_json()}

    async def create_unaffiliated_account(self, name: FullName, actor: str) -> dict:
        """An account in no organization (to show what an outsider sees); ``{"user_id", "password"}``."""
        async with self.ctx.lock:
            user_id = await choose_user_id(self.ctx.bot, self.ctx.settings.server_name, name, set())
            password = await ensure_account(self.ctx.bot, user_id, name.display)
            with self.ctx.store.begin() as tx:
                st.audit(tx, actor, "account.create", user_id=user_id)
            return {"user_id": user_id, "password": password}

    async def provision_many(self, org_id: str, actor: str, person_ids: list[str] | None = None) -> dict:
        """Accounts for many roster people at once (the operator's tool for a whole school):
        ``person_ids``, or every active roster person of ``org_id`` without an account.

        Accounts are created concurrently (Synapse hashes each password with bcrypt on its thread
        pool, so the machine's cores work in parallel) and placed in their rooms in batches while
        the next ones are hashed. Returns ``{"accounts": [{"person_id", "user_id", "role",
        "password"}], "created", "changes"}`` (passwords only of new accounts, shown once).
        Raises 404 ``M_NOT_FOUND`` for an unknown organization.
        """
        async with self.ctx.lock:
            with self.ctx.store.begin() as tx:
                self.ctx.org_row(tx, org_id)
                q = sa.select(st.people.c.person_id).where(st.people.c.org_id == org_id,
                                                           st.people.c.status == "active")
                # an interrupted run's people: their accounts may exist, their passwords never reached
                # the operator; they are done again, with new passwords
                pending_key = f"accounts-pending/{org_id}"
                pending = set(json.loads(tx.execute(sa.select(st.state.c.value).where(
                    st.state.c.key == pending_key)).scalar() or "[]"))
                if person_ids is None:
                    q = q.where(sa.or_(st.people.c.user_id.is_(None), st.people.c.person_id.in_(pending)),
                                ~st.people.c.person_id.like("account:%"))
                else:
                    q = q.where(st.people.c.person_id.in_(person_ids))
                # teachers first: they hold power, and their rooms' state is written once for all of them
                ids = [r.person_id for r in tx.execute(q.order_by(
                    sa.case((st.people.c.role.in_(["admin", "head", "teacher"]), 0), else_=1),
                    st.people.c.person_id))]
                links = [(g.student_id, g.guardian_id) for g in tx.execute(sa.select(st.guardianships).where(
                    st.guardianships.c.org_id == org_id))]
                tx.execute(st.state.delete().where(st.state.c.key == pending_key))
                tx.execute(st.state.insert().values(key=pending_key, value=json.dumps(sorted(set(ids) | pending))))
            changes = Changes()
            queue: asyncio.Queue[list[str] | None] = asyncio.Queue()
            placer = asyncio.create_task(self._place_while_creating(org_id, queue, changes))
            try:
                created = await self.ensure_accounts(org_id, ids, changes, placed=queue, groups=families(ids, links),
                                                     reset=pending)
            finally:
                queue.put_nowait(None)
                await placer
            with self.ctx.store.begin() as tx:
                tx.execute(st.state.delete().where(st.state.c.key == pending_key))
                new = [a["person_id"] for a in created if a.get("password")]
                if new:
                    st.audit(tx, actor, "accounts.create", org=org_id, created=len(new), people=new)
            return {"accounts": created, "created": len(created), "changes": changes.count}

    async def _place_while_creating(self, org_id: str, queue: asyncio.Queue[list[str] | None],
                                    changes: Changes) -> None:
        """Place the families put in ``queue`` in batches (all that are ready) until None arrives."""
        done = False
        while not done:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            done = None in batch
            users = {u for family in batch if family is not None for u in family}
            if users:
                rchanges, _ids = await self.ctx.reconciler().reconcile(org_id, only_users=users)
                changes.extend(rchanges)

    async def ensure_accounts(self, org_id: str, person_ids: list[str], changes: Changes,
                              placed: asyncio.Queue[list[str] | None] | None = None,
                              groups: list[list[str]] | None = None, reset: Collection[str] = ()) -> list[dict]:
        """Accounts for these people of ``org_id`` (the caller holds the lock): first every login
        name is chosen and reserved in the database (one at a time: names are unique), then the
        accounts are created concurrently; ``placed`` receives the user ids of each of ``groups``
        (person ids; default one group per person) once all its accounts exist — a family is
        placed together, since a parent's rooms follow the children's. Returns ``[{"person_id",
        "role", "user_id", "password"}]`` of new accounts.

        Safe to re-run after an interruption: a reserved name whose account is missing is created;
        an existing account of ``reset`` (person ids of an interrupted run, whose one-time passwords
        never reached the operator) gets a new password, returned like a new account's.
        """
        with self.ctx.store.begin() as tx:
            people = {r.person_id: r for r in tx.execute(sa.select(st.people).where(
                st.people.c.org_id == org_id, st.people.c.person_id.in_(person_ids)))}
            reserved = {r.user_id for r in tx.execute(sa.select(st.people.c.user_id).where(
                st.people.c.user_id.is_not(None)))}
        todo: list[tuple[Any, str]] = []
        for person_id in person_ids:
            person = people.get(person_id)
            if person is None:
                continue
            user_id = person.user_id
            if user_id is None:
                name = FullName(person.family_name, person.given_name, person.middle_name)
                user_id = await choose_user_id(self.ctx.bot, self.ctx.settings.server_name, name, reserved)
                reserved.add(user_id)
                with self.ctx.store.begin() as tx:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id).values(user_id=user_id))
            todo.append((person, user_id))
        semaphore = asyncio.Semaphore(ACCOUNT_CONCURRENCY)
        user_of = {person.person_id: (person, user_id) for person, user_id in todo}

        async def one(person: Any, user_id: str) -> dict | None:
            name = FullName(person.family_name, person.given_name, person.middle_name)
            # the name the reconciler would set (no badge yet): no second profile write per account
            shown = server_display_name(name, None, self.ctx.settings.badge, user_id.split(":", 1)[0].lstrip("@"))
            async with semaphore:
                password = await ensure_account(self.ctx.bot, user_id, shown)
            if password is not None:
                with self.ctx.store.begin() as tx:
                    tx.execute(st.people.update().where(st.people.c.user_id == user_id).values(display_name_set=shown))
            crash_point("accounts.created")
            if password is None and person.person_id in reset:
                password = one_time_password()
                async with semaphore:
                    await self.ctx.bot.put_user(user_id, {"password": password, "logout_devices": True})
            await self._revoke_personal_codes(org_id, person.person_id)
            if password is None:
                return None
            changes.add(f"{org_id}/{person.person_id}: account {user_id}")
            return {"person_id": person.person_id, "role": person.role, "user_id": user_id, "password": password}

        async def group(ids: list[str]) -> list[dict | None]:
            members = [user_of[i] for i in ids if i in user_of]
            results = await asyncio.gather(*(one(p, u) for p, u in members))
            if placed is not None and members:
                placed.put_nowait([u for _p, u in members])
            return list(results)

        listed = {i for g in groups or () for i in g}
        all_groups = list(groups or ()) + [[i] for i in user_of if i not in listed]
        results = [r for part in await asyncio.gather(*(group(g) for g in all_groups)) for r in part]
        return [r for r in results if r is not None]

    async def _revoke_personal_codes(self, org_id: str, person_id: str) -> None:
        """The person has an account now: a personal code printed earlier must not register another
        one in their name (it is revoked, and its Synapse registration token deleted)."""
        with self.ctx.store.begin() as tx:
            codes = [r.code for r in tx.execute(sa.select(st.links.c.code).where(
                st.links.c.org_id == org_id, st.links.c.person_id == person_id, st.links.c.revoked.is_(False)))]
            if codes:
                tx.execute(st.links.update().where(st.links.c.code.in_(codes)).values(revoked=True))
                st.audit(tx, "parta", "link.revoke", org=org_id, codes=codes, reason="account exists")
        for code in codes:
            await self.ctx.bot.delete_registration_token(code)
