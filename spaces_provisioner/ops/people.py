"""People of an organization: the administration confirms teachers, changes roles and classes,
corrects names and removes people.

Each operation changes the database in one transaction and reconciles the organization, so
rooms, power levels, badges and the registry follow. Removal never erases: the person's row
stays with status ``removed``, and an account left in no organization is suspended.
"""

from __future__ import annotations

import sqlalchemy as sa

from policies.administration import may_change_person
from policies.capabilities import Account
from policies.i18n import _
from policies.model import FullName, Role

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import account_from_db
from spaces_provisioner.errors import bad_json, check, not_found
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.stale_links import revoke_links_of_former_issuers


class People:
    """Administration of people: confirming teachers, changing roles and classes, removing.

    Each operation changes the database in one transaction and reconciles the
    organization, so rooms, power levels, badges and the registry follow.
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def account(self, user_id: str) -> Account:
        """An account with its memberships as Parta's records say (what the registry is built from)."""
        with self.ctx.store.begin() as tx:
            return account_from_db(tx, user_id)

    def _row(self, tx, org_id: str, person_id: str):
        self.ctx.org_row(tx, org_id)
        row = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                    st.people.c.person_id == person_id)).one_or_none()
        if row is None:
            raise not_found(_(
                "Organization {org} has no person {person} in its roster").format(org=org_id, person=person_id))
        return row

    def of_org(self, org_id: str, role: str | None = None) -> list[dict]:
        """People of an organization:
        ``[{"person_id", "name", "role", "confirmed", "user_id", "status", "classes"}]``."""
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org_id)
            q = sa.select(st.people).where(st.people.c.org_id == org_id)
            if role:
                q = q.where(st.people.c.role == role)
            classes: dict[str, list[str]] = {}
            for e in tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id)):
                classes.setdefault(e.person_id, []).append(e.class_id)
            return [{"person_id": r.person_id, "name": FullName(r.family_name, r.given_name, r.middle_name).display,
                     "role": r.role, "confirmed": bool(r.confirmed), "user_id": r.user_id, "status": r.status,
                     "classes": sorted(classes.get(r.person_id, []))}
                    for r in tx.execute(q.order_by(st.people.c.family_name, st.people.c.given_name))]

    def find(self, org_id: str, key: str) -> str:
        """A person id from a person id or a user id."""
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.people.c.person_id).where(
                st.people.c.org_id == org_id,
                sa.or_(st.people.c.person_id == key, st.people.c.user_id == key))).first()
        if row is None:
            raise not_found(_(
                "Organization {org} has no person {person} in its roster").format(org=org_id, person=key))
        return row.person_id

    async def update(self, org_id: str, person_id: str, actor: str, *, confirmed: bool | None = None,
                     role: str | None = None, classes: list[str] | None = None,
                     name: FullName | None = None, reinstate: bool = False, by: Account | None = None) -> dict:
        """Confirm a teacher, change a role, replace a person's classes, or correct a name (the
        server-set display name follows); rooms and powers follow.

        ``reinstate``: bring a removed person back (only when asked: correcting a removed pupil's
        name must not bring them back). ``by``: the administrator or head acting (None: the
        operator); nobody changes their own role or confirmation, and only an administrator
        touches the administrator role (``policies.administration``); raises Refused."""
        async with self.ctx.lock:
            changes = Changes()
            with self.ctx.store.begin() as tx:
                row = self._row(tx, org_id, person_id)
                reinstates = reinstate and row.status != "active"
                check(may_change_person(by, org_id, row.user_id, row.role, new_role=role,
                                        changes_confirmation=confirmed is not None
                                        and bool(row.confirmed) != confirmed, reinstates=reinstates))
                values: dict[str, object] = {}
                if name is not None and (row.family_name, row.given_name, row.middle_name) != (
                        name.family_name, name.given_name, name.middle_name):
                    values.update(family_name=name.family_name, given_name=name.given_name,
                                  middle_name=name.middle_name)
                if confirmed is not None and bool(row.confirmed) != confirmed:
                    values["confirmed"] = confirmed
                if role is not None and role != row.role:
                    if role not in {r.value for r in Role}:
                        raise bad_json(_("'role' must be one of admin, head, teacher, student, parent"))
                    values["role"] = role
                if reinstates:
                    values["status"] = "active"
                if values:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id).values(**values))
                    changes.add(f"{org_id}/{person_id}: {', '.join(f'{k}={v}' for k, v in values.items())}")
                new_role = values.get("role", row.role)
                if classes is not None or "role" in values:
                    known = {c.class_id for c in tx.execute(sa.select(st.classes.c.class_id).where(
                        st.classes.c.org_id == org_id))}
                    wanted = set(classes if classes is not None else [
                        e.class_id for e in tx.execute(sa.select(st.enrollments.c.class_id).where(
                            st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == person_id))])
                    unknown = wanted - known
                    if unknown:
                        raise not_found(_(
                            "Organization {org} has no class {cls}").format(org=org_id, cls=sorted(unknown)[0]))
                    if new_role not in ("student", "teacher"):
                        wanted = set()
                    current = {e.class_id: e for e in tx.execute(sa.select(st.enrollments).where(
                        st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == person_id))}
                    for cid in set(current) - wanted:
                        tx.execute(st.enrollments.delete().where(
                            st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == person_id,
                            st.enrollments.c.class_id == cid))
                        changes.add(f"{org_id}/{person_id}: left class {cid}")
                    for cid in sorted(wanted):
                        e = current.get(cid)
                        if e is None:
                            tx.execute(st.enrollments.insert().values(org_id=org_id, class_id=cid, person_id=person_id,
                                                                      role=new_role, is_primary=False))
                            changes.add(f"{org_id}/{person_id}: joined class {cid}")
                        elif e.role != new_role:
                            tx.execute(st.enrollments.update().where(
                                st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == person_id,
                                st.enrollments.c.class_id == cid).values(role=new_role))
                if changes.count:
                    st.audit(tx, actor, "person.update", org=org_id, person=person_id, confirmed=confirmed,
                             role=role, classes=classes)
            await self._revoke_stale_links(org_id, actor, changes)
            rchanges, _ids = await self.ctx.reconciler().reconcile(org_id)
            changes.extend(rchanges)
            return {"person_id": person_id, **changes.to_json()}

    async def _revoke_stale_links(self, org_id: str, actor: str, changes: Changes) -> None:
        """The links of people who may no longer issue them stop working (:mod:`.stale_links`)."""
        for code in await revoke_links_of_former_issuers(self.ctx, org_id, actor):
            changes.add(f"{org_id}: link {code} revoked (its creator may no longer issue it)")

    async def remove(self, org_id: str, person_id: str, actor: str, by: Account | None = None) -> dict:
        """Remove a person from the organization: out of its rooms; the account is suspended
        when no organization remains. Nothing is erased (the row stays, status ``removed``)."""
        async with self.ctx.lock:
            changes = Changes()
            with self.ctx.store.begin() as tx:
                row = self._row(tx, org_id, person_id)
                check(may_change_person(by, org_id, row.user_id, row.role, removes=True))
                if row.status != "removed":
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id).values(status="removed"))
                    changes.add(f"{org_id}/{person_id}: removed")
                    st.audit(tx, actor, "person.remove", org=org_id, person=person_id)
            await self._revoke_stale_links(org_id, actor, changes)
            rchanges, _ids = await self.ctx.reconciler().reconcile(org_id)
            changes.extend(rchanges)
            return {"person_id": person_id, **changes.to_json()}
