"""Accounts: login names that carry no contact details, one-time passwords, creation on Synapse.

:class:`Accounts` gives roster people their accounts (the operator's tool; the demo uses it)
and creates accounts in no organization.

A login name (the Matrix ID's localpart) is built from the person's name only,
transliterated with iuliia's Wikipedia scheme (``Ирина Соколова`` →
``irina.sokolova``), with a number added on a clash. Never from a phone number,
an e-mail address or a roster username (rosters often use e-mails as usernames).
"""

from __future__ import annotations

import re
import secrets

import iuliia
import sqlalchemy as sa

from policies.i18n import _
from policies.model import FullName

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import not_found
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.ops.context import Context

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
    """Create the account when it does not exist; returns its new one-time password, else None.

    Keeps the server-set display name in step (``enable_set_displayname: false``).
    """
    existing = await bot.get_user(user_id)
    if existing is None:
        password = one_time_password()
        await bot.put_user(user_id, {"password": password, "displayname": display_name, "admin": False})
        return password
    if existing.get("displayname") != display_name:
        await bot.set_displayname(user_id, display_name)
    return None


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

    async def ensure_accounts(self, org_id: str, person_ids: list[str], changes: Changes) -> list[dict]:
        """Accounts for these people of ``org_id`` (the caller holds the lock): reserve ids in the
        database, then create them. Returns ``[{"role", "user_id", "password"}]`` of new accounts."""
        created = []
        for person_id in person_ids:
            with self.ctx.store.begin() as tx:
                person = tx.execute(sa.select(st.people).where(
                    st.people.c.org_id == org_id, st.people.c.person_id == person_id)).one_or_none()
                reserved = {r.user_id for r in tx.execute(sa.select(st.people.c.user_id).where(
                    st.people.c.user_id.is_not(None)))}
            if person is None:
                continue
            name = FullName(person.family_name, person.given_name, person.middle_name)
            user_id = person.user_id
            if user_id is None:
                user_id = await choose_user_id(self.ctx.bot, self.ctx.settings.server_name, name, reserved)
                with self.ctx.store.begin() as tx:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id).values(user_id=user_id))
            password = await ensure_account(self.ctx.bot, user_id, name.display)
            if password is not None:
                changes.add(f"{org_id}/{person_id}: account {user_id}")
                created.append({"role": person.role, "user_id": user_id, "password": password})
            await self._revoke_personal_codes(org_id, person_id)
        return created

    async def _revoke_personal_codes(self, org_id: str, person_id: str) -> None:
        """The person has an account now: a personal code printed earlier must not register another
        one in their name (it is revoked, and its Synapse registration token deleted)."""
        with self.ctx.store.begin() as tx:
            codes = [r.code for r in tx.execute(sa.select(st.links.c.code).where(
                st.links.c.org_id == org_id, st.links.c.person_id == person_id, st.links.c.revoked.is_(False)))]
            if codes:
                tx.execute(st.links.update().where(st.links.c.code.in_(codes)).values(revoked=True))
                st.audit(tx, "parta", "link.revoke", codes=codes, reason="account exists")
        for code in codes:
            await self.ctx.bot.delete_registration_token(code)
