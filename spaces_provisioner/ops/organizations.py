"""Organizations: applications, approval, the organizations' rooms, cross-school network rooms.

An approved application becomes an organization: its row, its administrator's (and head's)
account, and its space and rooms (through the reconciler). Re-running with the same input
writes nothing and reports ``changes: 0``.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from policies.application import Application
from policies.capabilities import RoomInfo
from policies.i18n import _
from policies.model import FullName, Role
from policies.state_events import PartaEventTypes
from policies.templates import RoomRef

from spaces_provisioner.changes import Changes
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import not_found
from spaces_provisioner.ops.accounts import Accounts
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.rosters import upsert_person

#: The roster person ids of the application's contacts.
ADMIN_PERSON = "application:administrator"
HEAD_PERSON = "application:head"


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Organizations:
    """Organization operations of one installation."""

    def __init__(self, ctx: Context, accounts: Accounts):
        self.ctx = ctx
        self.accounts = accounts

    # -- applications ----------------------------------------------------------------
    async def apply_application(self, app: Application, actor: str) -> dict:
        """Record a validated application as pending (or note that it is already recorded).

        Returns ``{"id", "status", "changes", "details"}``.
        """
        async with self.ctx.lock:
            changes = Changes()
            with self.ctx.store.begin() as tx:
                row = tx.execute(sa.select(st.applications).where(st.applications.c.id == app.slug)).one_or_none()
                now = st.now_ms()
                if row is None:
                    tx.execute(st.applications.insert().values(
                        id=app.slug, status="pending", fingerprint=app.fingerprint(),
                        payload=_json(app.to_json()), created_at=now, updated_at=now))
                    changes.add(f"application {app.slug}: recorded as pending")
                    status = "pending"
                elif row.fingerprint != app.fingerprint():
                    tx.execute(st.applications.update().where(st.applications.c.id == app.slug).values(
                        status="pending", fingerprint=app.fingerprint(), payload=_json(app.to_json()),
                        updated_at=now))
                    changes.add(f"application {app.slug}: updated, pending approval")
                    status = "pending"
                else:
                    status = row.status
                if changes.count:
                    st.audit(tx, actor, "application.apply", id=app.slug)
            return {"id": app.slug, "status": status, **changes.to_json()}

    def list_applications(self) -> list[dict]:
        """Every application: ``[{"id", "status", "full_name", "updated_at"}]``."""
        with self.ctx.store.begin() as tx:
            rows = tx.execute(sa.select(st.applications).order_by(st.applications.c.id)).all()
        return [{"id": r.id, "status": r.status, "full_name": json.loads(r.payload)["full_name"],
                 "updated_at": r.updated_at} for r in rows]

    async def approve(self, app_id: str, actor: str) -> dict:
        """Approve an application: the organization, its rooms, its administrator's account.

        Returns ``{"organization": {...}, "accounts": [{"role", "user_id", "password"}],
        "changes", "details"}``; passwords appear only for accounts created now.
        Raises 404 ``M_NOT_FOUND`` for an unknown application.
        """
        async with self.ctx.lock:
            changes = Changes()
            with self.ctx.store.begin() as tx:
                row = tx.execute(sa.select(st.applications).where(st.applications.c.id == app_id)).one_or_none()
                if row is None:
                    raise not_found(_("There is no application {id}; `parta org list` shows the applications")
                                    .format(id=app_id))
                payload = json.loads(row.payload)
                org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == app_id)).one_or_none()
                values = dict(name=payload["short_name"], kind=payload["kind"], fingerprint=row.fingerprint,
                              payload=row.payload)
                if org is None:
                    tx.execute(st.organizations.insert().values(id=app_id, approved_at=st.now_ms(), **values))
                    changes.add(f"organization {app_id}: created")
                elif org.fingerprint != row.fingerprint:
                    tx.execute(st.organizations.update().where(st.organizations.c.id == app_id).values(**values))
                    changes.add(f"organization {app_id}: updated from its application")
                if row.status != "approved":
                    tx.execute(st.applications.update().where(st.applications.c.id == app_id)
                               .values(status="approved", updated_at=st.now_ms()))
                for person_id, role, contact in ((ADMIN_PERSON, Role.ADMIN, payload["administrator"]),
                                                 (HEAD_PERSON, Role.HEAD, payload.get("head"))):
                    if contact:
                        name = FullName(contact["family_name"], contact["given_name"], contact.get("middle_name") or "")
                        if upsert_person(tx, app_id, person_id, name, role, (), confirmed=True):
                            changes.add(f"organization {app_id}: {role.value} {name.display}")
                if changes.count:
                    st.audit(tx, actor, "organization.approve", id=app_id)
            accounts = await self.accounts.ensure_accounts(app_id, [ADMIN_PERSON, HEAD_PERSON], changes)
            rchanges, room_ids = await self.ctx.reconciler().reconcile(app_id)
            changes.extend(rchanges)
            return {"organization": self._org_json(app_id, room_ids), "accounts": accounts, **changes.to_json()}

    # -- organizations ---------------------------------------------------------------
    def _org_json(self, org_id: str, room_ids: dict[str, str] | None = None) -> dict:
        with self.ctx.store.begin() as tx:
            org = self.ctx.org_row(tx, org_id)
            if room_ids is None:
                room_ids = {r.key: r.room_id for r in tx.execute(
                    sa.select(st.rooms).where(st.rooms.c.org_id == org_id))}
        return {"id": org.id, "name": org.name, "kind": org.kind,
                "space_id": room_ids.get(RoomRef(org_id, "school_space").key)}

    def organization(self, org_id: str) -> dict:
        """``{"id", "name", "kind", "space_id"}``; 404 ``M_NOT_FOUND`` when unknown."""
        return self._org_json(org_id)

    def list_organizations(self) -> list[dict]:
        """Every approved organization (as :meth:`organization`)."""
        with self.ctx.store.begin() as tx:
            ids = [r.id for r in tx.execute(sa.select(st.organizations.c.id).order_by(st.organizations.c.id))]
        return [self._org_json(i) for i in ids]

    async def reconcile(self, org_id: str) -> dict:
        """Bring the organization's rooms back to the desired state; ``{"changes", "details"}``."""
        async with self.ctx.lock:
            self._org_json(org_id)
            changes, _ids = await self.ctx.reconciler().reconcile(org_id)
            return changes.to_json()

    # -- network rooms -----------------------------------------------------------------
    async def create_network_room(self, name: str, orgs: list[str], actor: str) -> dict:
        """A cross-school room (methodological association, olympiad) for the confirmed staff of
        ``orgs``: invite-only, staff invite each other, nobody else may enter
        (docs/ARCHITECTURE.md, "Room kinds"). The one kind of room that federates (``m.federate`` true):
        with partner servers (``parta init --federate-with``) their staff may be invited; without, Synapse
        talks to no server at all (``policies.federation``). Returns ``{"room_id", "orgs", "name"}``."""
        with self.ctx.store.begin() as tx:
            for org in orgs:
                self.ctx.org_row(tx, org)
        info = RoomInfo(kind="network", orgs=tuple(sorted(set(orgs))))
        templates = self.ctx.templates
        room_id = await self.ctx.bot.create_room({
            "preset": "private_chat", "visibility": "private", "room_version": templates.room_version,
            "creation_content": {"m.federate": True},
            "initial_state": [
                {"type": "m.room.name", "state_key": "", "content": {"name": name}},
                {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
                {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
                {"type": PartaEventTypes.ROOM, "state_key": "", "content": info.to_state()},
                {"type": "m.room.power_levels", "state_key": "",
                 "content": templates.power_levels(RoomRef("network", "staff_room"), {}) | {"invite": 0}},
            ]})
        with self.ctx.store.begin() as tx:
            st.audit(tx, actor, "network_room.create", room_id=room_id, orgs=list(info.orgs))
        return {"room_id": room_id, "orgs": list(info.orgs), "name": name}
