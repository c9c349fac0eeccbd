"""The provisioning operations: applications, approval, roster import, accounts.

Each operation validates everything first, writes the provisioning database in one
transaction, then reconciles the homeserver (``reconcile.Reconciler``). Re-running
an operation with the same input writes nothing and reports ``changes: 0``.
Operations are serialized by one lock: the service is a single process.

Errors are :class:`ProvisioningError` (an HTTP status, an errcode and a message in
the current language), which the HTTP API returns as JSON.
"""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa

from policies.application import Application
from policies.i18n import _
from policies.model import FullName, Role, Roster
from policies.capabilities import RoomInfo
from policies.templates import ROOM_TYPE_STATE, RoomRef, Templates

from . import store as st
from .accounts import choose_user_id, ensure_account
from .changes import Changes
from .matrix import BotClient
from .reconcile import Reconciler
from .registry import ensure_registry
from .settings import Settings

ADMIN_PERSON = "application:administrator"
HEAD_PERSON = "application:head"


class ProvisioningError(Exception):
    """A refused provisioning request: ``status`` (HTTP), ``errcode``, ``message``, ``details``."""

    def __init__(self, status: int, errcode: str, message: str, details: list[str] | None = None,
                 reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.errcode = errcode
        self.message = message
        self.details = details or []
        self.reason = reason

    def to_json(self) -> dict:
        """``{"errcode", "error", "details"}`` (Matrix-style error body), plus ``org.parta.reason``."""
        body = {"errcode": self.errcode, "error": self.message, "details": self.details}
        if self.reason:
            body["org.parta.reason"] = self.reason
        return body


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Provisioner:
    """Provisioning operations of one installation (``settings``), acting as the bot."""

    def __init__(self, settings: Settings, store: st.Store, bot: BotClient, templates: Templates):
        self.settings = settings
        self.store = store
        self.bot = bot
        self.templates = templates
        self.lock = asyncio.Lock()
        self.registry_id: str | None = None

    async def start(self) -> None:
        """Find (or create) the registry room; call once before any operation."""
        self.registry_id = await ensure_registry(self.bot, self.settings.server_name)

    def _reconciler(self) -> Reconciler:
        return Reconciler(self.bot, self.store, self.templates, self.settings.server_name,
                          self.registry_id, self.settings.language, self.settings.badge)

    def _org_row(self, tx, org_id: str):
        """The organization's row; ProvisioningError 404 when unknown."""
        org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == org_id)).one_or_none()
        if org is None:
            raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
                "There is no organization {id}; approve its application first").format(id=org_id))
        return org

    # -- applications ----------------------------------------------------------------
    async def apply_application(self, app: Application, actor: str) -> dict:
        """Record a validated application as pending (or note that it is already recorded).

        Returns ``{"id", "status", "changes", "details"}``.
        """
        async with self.lock:
            changes = Changes()
            with self.store.begin() as tx:
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
        with self.store.begin() as tx:
            rows = tx.execute(sa.select(st.applications).order_by(st.applications.c.id)).all()
        return [{"id": r.id, "status": r.status, "full_name": json.loads(r.payload)["full_name"],
                 "updated_at": r.updated_at} for r in rows]

    async def approve(self, app_id: str, actor: str) -> dict:
        """Approve an application: the organization, its rooms, its administrator's account.

        Returns ``{"organization": {...}, "accounts": [{"role", "user_id", "password"}],
        "changes", "details"}``; passwords appear only for accounts created now.
        Raises ProvisioningError 404 for an unknown application.
        """
        async with self.lock:
            changes = Changes()
            with self.store.begin() as tx:
                row = tx.execute(sa.select(st.applications).where(st.applications.c.id == app_id)).one_or_none()
                if row is None:
                    raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
                        "There is no application {id}; `parta org list` shows the applications").format(id=app_id))
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
                        if _upsert_person(tx, app_id, person_id, name, role, (), confirmed=True):
                            changes.add(f"organization {app_id}: {role.value} {name.display}")
                if changes.count:
                    st.audit(tx, actor, "organization.approve", id=app_id)
            accounts = await self._ensure_accounts(app_id, [ADMIN_PERSON, HEAD_PERSON], changes)
            rchanges, room_ids = await self._reconciler().reconcile(app_id)
            changes.extend(rchanges)
            return {"organization": self._org_json(app_id, room_ids), "accounts": accounts, **changes.to_json()}

    # -- organizations ---------------------------------------------------------------
    def _org_json(self, org_id: str, room_ids: dict[str, str] | None = None) -> dict:
        with self.store.begin() as tx:
            org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == org_id)).one_or_none()
            if org is None:
                raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
                    "There is no organization {id}; approve its application first").format(id=org_id))
            if room_ids is None:
                room_ids = {r.key: r.room_id for r in tx.execute(
                    sa.select(st.rooms).where(st.rooms.c.org_id == org_id))}
        return {"id": org.id, "name": org.name, "kind": org.kind,
                "space_id": room_ids.get(RoomRef(org_id, "school_space").key)}

    def organization(self, org_id: str) -> dict:
        """``{"id", "name", "kind", "space_id"}``; ProvisioningError 404 when unknown."""
        return self._org_json(org_id)

    def list_organizations(self) -> list[dict]:
        """Every approved organization (as :meth:`organization`)."""
        with self.store.begin() as tx:
            ids = [r.id for r in tx.execute(sa.select(st.organizations.c.id).order_by(st.organizations.c.id))]
        return [self._org_json(i) for i in ids]

    async def reconcile(self, org_id: str) -> dict:
        """Bring the organization's rooms back to the desired state; ``{"changes", "details"}``."""
        async with self.lock:
            self._org_json(org_id)
            changes, _ids = await self._reconciler().reconcile(org_id)
            return changes.to_json()

    # -- network rooms -----------------------------------------------------------------
    async def create_network_room(self, name: str, orgs: list[str], actor: str) -> dict:
        """A cross-school room (methodological association, olympiad) for the confirmed staff of
        ``orgs``: invite-only, staff invite each other, nobody else may enter (DESIGN.md)."""
        with self.store.begin() as tx:
            for org in orgs:
                self._org_row(tx, org)
        info = RoomInfo(kind="network", orgs=tuple(sorted(set(orgs))))
        room_id = await self.bot.create_room({
            "preset": "private_chat", "visibility": "private", "room_version": self.templates.room_version,
            "creation_content": {"m.federate": False},
            "initial_state": [
                {"type": "m.room.name", "state_key": "", "content": {"name": name}},
                {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
                {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
                {"type": ROOM_TYPE_STATE, "state_key": "", "content": info.to_state()},
                {"type": "m.room.power_levels", "state_key": "",
                 "content": self.templates.power_levels(RoomRef("network", "staff_room"), {}) | {"invite": 0}},
            ]})
        with self.store.begin() as tx:
            st.audit(tx, actor, "network_room.create", room_id=room_id, orgs=list(info.orgs))
        return {"room_id": room_id, "orgs": list(info.orgs), "name": name}

    # -- rosters ---------------------------------------------------------------------
    async def import_roster(self, org_id: str, roster: Roster, actor: str) -> dict:
        """Record a parsed roster for ``org_id`` and build each class's rooms.

        People become expected members of their classes (accounts come later).
        People and classes missing from this roster are kept (reported, never erased).
        Returns ``{"format", "changes", "details", "problems", "kept"}``.
        """
        async with self.lock:
            self._org_json(org_id)
            changes = Changes()
            with self.store.begin() as tx:
                _sync_roster(tx, org_id, roster, changes)
                kept = _missing_from_roster(tx, org_id, roster)
                if changes.count:
                    st.audit(tx, actor, "roster.import", org=org_id, format=roster.format, changes=changes.count)
            rchanges, _ids = await self._reconciler().reconcile(org_id)
            changes.extend(rchanges)
            return {"format": roster.format, **changes.to_json(),
                    "problems": [str(p) for p in roster.problems], "kept": kept}

    # -- accounts --------------------------------------------------------------------
    async def provision_person(self, org_id: str, person_id: str, actor: str,
                               confirmed: bool | None = None) -> dict:
        """Give a roster person an account now (operator tool; the demo uses it).

        ``confirmed`` sets a teacher's confirmation. Returns ``{"user_id", "password",
        "role", "changes", "details"}``; ``password`` only when the account is new.
        """
        async with self.lock:
            changes = Changes()
            with self.store.begin() as tx:
                person = tx.execute(sa.select(st.people).where(
                    st.people.c.org_id == org_id, st.people.c.person_id == person_id)).one_or_none()
                if person is None:
                    raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
                        "Organization {org} has no person {person} in its roster").format(org=org_id, person=person_id))
                if confirmed is not None and bool(person.confirmed) != confirmed:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id)
                               .values(confirmed=confirmed))
                    changes.add(f"{org_id}/{person_id}: confirmed={confirmed}")
                    st.audit(tx, actor, "person.confirm", org=org_id, person=person_id, confirmed=confirmed)
            accounts = await self._ensure_accounts(org_id, [person_id], changes)
            with self.store.begin() as tx:
                person = tx.execute(sa.select(st.people).where(
                    st.people.c.org_id == org_id, st.people.c.person_id == person_id)).one()
            rchanges, _ids = await self._reconciler().reconcile(org_id, only_users={person.user_id})
            changes.extend(rchanges)
            password = accounts[0]["password"] if accounts else None
            return {"user_id": person.user_id, "role": person.role, "password": password, **changes.to_json()}

    async def create_unaffiliated_account(self, name: FullName, actor: str) -> dict:
        """An account in no organization (to show what an outsider sees); ``{"user_id", "password"}``."""
        async with self.lock:
            user_id = await choose_user_id(self.bot, self.settings.server_name, name, set())
            password = await ensure_account(self.bot, user_id, name.display)
            with self.store.begin() as tx:
                st.audit(tx, actor, "account.create", user_id=user_id)
            return {"user_id": user_id, "password": password}

    async def _ensure_accounts(self, org_id: str, person_ids: list[str], changes: Changes) -> list[dict]:
        """Accounts for these people of ``org_id``: reserve ids in the database, then create them."""
        created = []
        for person_id in person_ids:
            with self.store.begin() as tx:
                person = tx.execute(sa.select(st.people).where(
                    st.people.c.org_id == org_id, st.people.c.person_id == person_id)).one_or_none()
                reserved = {r.user_id for r in tx.execute(sa.select(st.people.c.user_id).where(
                    st.people.c.user_id.is_not(None)))}
            if person is None:
                continue
            name = FullName(person.family_name, person.given_name, person.middle_name)
            user_id = person.user_id
            if user_id is None:
                user_id = await choose_user_id(self.bot, self.settings.server_name, name, reserved)
                with self.store.begin() as tx:
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id).values(user_id=user_id))
            password = await ensure_account(self.bot, user_id, name.display)
            if password is not None:
                changes.add(f"{org_id}/{person_id}: account {user_id}")
                created.append({"role": person.role, "user_id": user_id, "password": password})
        return created


def _upsert_person(tx, org_id: str, person_id: str, name: FullName, role: Role, grades: tuple[str, ...],
                   confirmed: bool | None = None) -> bool:
    """Insert or update one person row; True when something changed."""
    row = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                st.people.c.person_id == person_id)).one_or_none()
    values = dict(family_name=name.family_name, given_name=name.given_name, middle_name=name.middle_name,
                  role=role.value, grades=_json(list(grades)))
    if row is None:
        tx.execute(st.people.insert().values(org_id=org_id, person_id=person_id,
                                             confirmed=bool(confirmed), **values))
        return True
    if confirmed is not None:
        values["confirmed"] = confirmed
    if any(getattr(row, k) != v for k, v in values.items()):
        tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                            st.people.c.person_id == person_id).values(**values))
        return True
    return False


def _upsert(tx, table: sa.Table, keys: dict, values: dict) -> str | None:
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


def _sync_roster(tx, org_id: str, roster: Roster, changes: Changes) -> None:
    """Write the roster's classes, people, enrollments and guardianships (only what differs)."""
    for c in roster.classes.values():
        done = _upsert(tx, st.classes, {"org_id": org_id, "class_id": c.source_id},
                       {"title": c.title, "grades": _json(list(c.grades))})
        if done:
            changes.add(f"class {c.title} ({c.source_id}): {done}")
    for p in roster.people.values():
        if _upsert_person(tx, org_id, p.source_id, p.name, p.role, p.grades):
            changes.add(f"person {p.source_id} ({p.role.value}): recorded")
    for e in roster.enrollments:
        done = _upsert(tx, st.enrollments, {"org_id": org_id, "class_id": e.class_id, "person_id": e.person_id},
                       {"role": e.role.value, "is_primary": e.primary})
        if done:
            changes.add(f"enrollment {e.person_id} in {e.class_id} ({e.role.value}): {done}")
    for g in roster.guardianships:
        done = _upsert(tx, st.guardianships, {"org_id": org_id, "student_id": g.student_id,
                                              "guardian_id": g.guardian_id}, {"relation": g.relation})
        if done:
            changes.add(f"guardian {g.guardian_id} of {g.student_id} ({g.relation}): {done}")


def _missing_from_roster(tx, org_id: str, roster: Roster) -> dict:
    """Classes and roster people recorded before but absent from this roster (kept, not erased)."""
    classes = [r.class_id for r in tx.execute(sa.select(st.classes.c.class_id).where(st.classes.c.org_id == org_id))
               if r.class_id not in roster.classes]
    people = [r.person_id for r in tx.execute(sa.select(st.people.c.person_id).where(st.people.c.org_id == org_id))
              if r.person_id not in roster.people and not r.person_id.startswith("application:")]
    return {"classes": sorted(classes), "people": sorted(people)}


class PeopleOps:
    """Administration of people: confirming teachers, changing roles and classes, removing.

    Each operation changes the database in one transaction and reconciles the
    organization, so rooms, power levels, badges and the registry follow.
    """

    def __init__(self, p: Provisioner):
        self.p = p

    def _row(self, tx, org_id: str, person_id: str):
        self.p._org_row(tx, org_id)
        row = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                    st.people.c.person_id == person_id)).one_or_none()
        if row is None:
            raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
                "Organization {org} has no person {person} in its roster").format(org=org_id, person=person_id))
        return row

    def list(self, org_id: str, role: str | None = None) -> list[dict]:
        """People of an organization: ``[{"person_id", "name", "role", "confirmed", "user_id", "status", "classes"}]``."""
        with self.p.store.begin() as tx:
            self.p._org_row(tx, org_id)
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
        with self.p.store.begin() as tx:
            row = tx.execute(sa.select(st.people.c.person_id).where(
                st.people.c.org_id == org_id,
                sa.or_(st.people.c.person_id == key, st.people.c.user_id == key))).first()
        if row is None:
            raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
                "Organization {org} has no person {person} in its roster").format(org=org_id, person=key))
        return row.person_id

    async def update(self, org_id: str, person_id: str, actor: str, *, confirmed: bool | None = None,
                     role: str | None = None, classes: list[str] | None = None,
                     name: FullName | None = None) -> dict:
        """Confirm a teacher, change a role, replace a person's classes, or correct a name (the
        server-set display name follows); rooms and powers follow."""
        async with self.p.lock:
            changes = Changes()
            with self.p.store.begin() as tx:
                row = self._row(tx, org_id, person_id)
                values = {}
                if name is not None and (row.family_name, row.given_name, row.middle_name) != (
                        name.family_name, name.given_name, name.middle_name):
                    values.update(family_name=name.family_name, given_name=name.given_name,
                                  middle_name=name.middle_name)
                if confirmed is not None and bool(row.confirmed) != confirmed:
                    values["confirmed"] = confirmed
                if role is not None and role != row.role:
                    if role not in {r.value for r in Role}:
                        raise ProvisioningError(400, "M_BAD_JSON", _("'role' must be one of admin, head, teacher, "
                                                                     "student, parent"))
                    values["role"] = role
                if row.status != "active":
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
                        raise ProvisioningError(404, "PARTA_NOT_FOUND", _(
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
            rchanges, _ids = await self.p._reconciler().reconcile(org_id)
            changes.extend(rchanges)
            return {"person_id": person_id, **changes.to_json()}

    async def remove(self, org_id: str, person_id: str, actor: str) -> dict:
        """Remove a person from the organization: out of its rooms; the account is suspended
        when no organization remains. Nothing is erased (the row stays, status ``removed``)."""
        async with self.p.lock:
            changes = Changes()
            with self.p.store.begin() as tx:
                row = self._row(tx, org_id, person_id)
                if row.status != "removed":
                    tx.execute(st.people.update().where(st.people.c.org_id == org_id,
                                                        st.people.c.person_id == person_id).values(status="removed"))
                    changes.add(f"{org_id}/{person_id}: removed")
                    st.audit(tx, actor, "person.remove", org=org_id, person=person_id)
            rchanges, _ids = await self.p._reconciler().reconcile(org_id)
            changes.extend(rchanges)
            return {"person_id": person_id, **changes.to_json()}
