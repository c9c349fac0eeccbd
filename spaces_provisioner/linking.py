"""Links in use: creating, revoking and redeeming them; placing accounts registered with them.

A registration link is also a Synapse registration token (same code), so registering in
Element with the code works exactly like the registration page. When an account is
created with a token, the Synapse module records the token and nudges the service
(``POST /api/v1/registrations/nudge``); :meth:`Linker.place_registration` then reads the
record back from the homeserver and gives the account its place: its roster entry (or a
new one), its class, its guardianship, its rooms (through the reconciler).
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import quote
from dataclasses import asdict

import sqlalchemy as sa
from mautrix.api import Method

from policies.capabilities import Decision, Person, RoomInfo, default_capabilities, deny
from policies.capabilities import N_ as N_
from policies.links import YOUNG_GRADES_DEFAULT, Link, LinkRequest, may_create_link, may_redeem, \
    needs_parent_email, usable
from policies.model import FullName, Role

from . import store as st
from .changes import Changes
from .people import guardian_count, person_from_db, person_row

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
DEFAULT_MAX_GUARDIANS = 2
PARENT_LINK_TTL_MS = 7 * 86400 * 1000


def new_code(groups: int = 3, size: int = 4) -> str:
    """A registration code like ``K7MQ-3XHE-P9TW`` (about 59 bits; no look-alike characters)."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups))


def grades_of(raw: str | None) -> set[int]:
    """Grade numbers from a JSON list of roster grades ("02", "2", "KG"... → {2})."""
    import re

    out = set()
    for g in json.loads(raw or "[]"):
        m = re.match(r"^\s*0*(\d{1,2})\s*$", str(g))
        if m:
            out.add(int(m.group(1)))
    return out


def young_link(tx, org_id: str, role: str | None, class_id: str | None, person_id: str | None) -> bool:
    """Whether a link of this role / class / roster person needs a parent's e-mail code."""
    org = tx.execute(sa.select(st.organizations.c.payload).where(st.organizations.c.id == org_id)).scalar()
    settings = (json.loads(org).get("settings") or {}) if org else {}
    grades: set[int] = set()
    if class_id:
        grades |= grades_of(tx.execute(sa.select(st.classes.c.grades).where(
            st.classes.c.org_id == org_id, st.classes.c.class_id == class_id)).scalar())
    if person_id:
        grades |= grades_of(tx.execute(sa.select(st.people.c.grades).where(
            st.people.c.org_id == org_id, st.people.c.person_id == person_id)).scalar())
    return needs_parent_email(role, grades, settings.get("parent_email_grades") or YOUNG_GRADES_DEFAULT)


def link_code_of_token(token: str) -> str:
    """The link a registration token belongs to: the code itself, or ``CODE.xxxx`` — a one-time
    token the page issued after checking a parent's e-mail code."""
    return token.split(".", 1)[0]


def link_from_row(row) -> Link:
    return Link(code=row.code, org=row.org_id, role=row.role, class_id=row.class_id, person_id=row.person_id,
                child_user_id=row.child_user_id, child_person_id=row.child_person_id,
                rooms=tuple(json.loads(row.rooms or "[]")), uses=row.uses, uses_allowed=row.uses_allowed,
                expires_at=row.expires_at, revoked=bool(row.revoked), created_by=row.created_by)


def link_json(link: Link, base_url: str) -> dict:
    """A link as the API shows it (with its registration page URL)."""
    d = asdict(link)
    d["rooms"] = list(link.rooms)
    d["url"] = f"{base_url}/register?code={link.code}"
    return d


class Refused(Exception):
    """A provisioning refusal carrying a policies Decision (mapped to 403 by the API)."""

    def __init__(self, decision: Decision, status: int = 403):
        super().__init__(decision.message("en"))
        self.decision = decision
        self.status = status


def check(decision: Decision, status: int = 403) -> None:
    if not decision.allowed:
        raise Refused(decision, status)


class Linker:
    """Link operations of one provisioner (``p`` is the :class:`Provisioner`)."""

    def __init__(self, p):
        self.p = p
        self.caps = default_capabilities()

    # -- creating and revoking -------------------------------------------------------
    async def create(self, org_id: str, req: LinkRequest, creator: Person | None, actor: str) -> dict:
        """Create a link in ``org_id``; ``creator`` None means the operator. Returns the link's JSON."""
        now = st.now_ms()
        child_person_id = None
        with self.p.store.begin() as tx:
            org = self.p._org_row(tx, org_id)
            settings = json.loads(org.payload).get("settings") or {}
            if req.role is not None and creator is not None:
                check(may_create_link(self.caps, creator, org_id, req.role, req.class_id, req.child_user_id,
                                      settings))
            if req.rooms and creator is not None:
                m = creator.memberships.get(org_id)
                if not self.caps.can(m, "invite_to_chat", settings):
                    check(deny("may_not_invite", N_("Only teachers and the school's administration can invite "
                                                    "people into chats")))
            if req.class_id is not None and tx.execute(sa.select(st.classes).where(
                    st.classes.c.org_id == org_id, st.classes.c.class_id == req.class_id)).one_or_none() is None:
                check(deny("unknown_class", N_("Organization {org} has no class {cls}"), org=org_id,
                           cls=req.class_id), 404)
            if req.role == "parent" and req.child_user_id:
                child = person_row(tx, org_id, req.child_user_id)
                if child is None or child.role != Role.STUDENT:
                    check(deny("unknown_child", N_("{user} is not a student of this organization"),
                               user=req.child_user_id), 404)
                child_person_id = child.person_id
                if creator is not None and not self.caps.can(creator.memberships.get(org_id), "issue_links"):
                    child_classes = {e.class_id for e in tx.execute(sa.select(st.enrollments.c.class_id).where(
                        st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == child_person_id))}
                    mine = creator.memberships[org_id].classes if org_id in creator.memberships else frozenset()
                    if creator.user_id != req.child_user_id and not child_classes & mine:
                        check(deny("link_own_classes", N_("A teacher issues student and parent links for own "
                                                          "classes only")))
                limit = int(settings.get("max_guardians_per_child", DEFAULT_MAX_GUARDIANS))
                pending = tx.execute(sa.select(sa.func.count()).select_from(st.links).where(
                    st.links.c.org_id == org_id, st.links.c.child_person_id == child_person_id,
                    st.links.c.revoked.is_(False), st.links.c.uses == 0,
                    sa.or_(st.links.c.expires_at.is_(None), st.links.c.expires_at > now))).scalar() or 0
                if guardian_count(tx, org_id, child_person_id) + pending >= limit:
                    check(deny("too_many_guardians", N_("A student can have at most {n} parents linked; ask the "
                                                        "school if someone else needs access"), n=limit))
        rooms = []
        for room_id in req.rooms:
            rooms.append(await self._check_link_room(org_id, room_id, creator))
        code = new_code()
        expires_at = now + req.expires_in_s * 1000 if req.expires_in_s else None
        uses_allowed = req.uses_allowed if req.uses_allowed is not None else (1 if req.role == "parent" else None)
        if req.role == "parent" and req.child_user_id:
            # a parent's link for one child: one account, a week; the guardian limit counts it
            uses_allowed = 1
            expires_at = min(expires_at or now + PARENT_LINK_TTL_MS, now + PARENT_LINK_TTL_MS)
        with self.p.store.begin() as tx:
            young = young_link(tx, org_id, req.role, req.class_id, None)
        if req.role is not None and not young:
            await self.p.bot.request(Method.POST, "/_synapse/admin/v1/registration_tokens/new", {
                "token": code, "uses_allowed": uses_allowed, "expiry_time": expires_at})
        with self.p.store.begin() as tx:
            tx.execute(st.links.insert().values(
                code=code, org_id=org_id, role=req.role, class_id=req.class_id, person_id=None,
                child_user_id=req.child_user_id, child_person_id=child_person_id, rooms=json.dumps(rooms),
                uses=0, uses_allowed=uses_allowed, expires_at=expires_at, revoked=False,
                created_by=creator.user_id if creator else actor, created_at=now))
            st.audit(tx, actor, "link.create", org=org_id, role=req.role, class_id=req.class_id, rooms=rooms)
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one()
        return link_json(link_from_row(row), self.p.settings.public_url)

    async def _check_link_room(self, org_id: str, room_id: str, creator: Person | None) -> str:
        """A chat link's room must be of the organization; the bot joins it to be able to invite."""
        state = await self.p.bot.room_state_or_none(room_id)
        if state is None:
            # the bot is not in the room: a people's chat invites the bot at creation
            try:
                await self.p.bot.request(Method.POST, f"/_matrix/client/v3/join/{quote(room_id, safe='')}", {})
            except Exception:  # noqa: BLE001
                check(deny("room_not_linkable", N_("Parta cannot invite into this room; create the chat from "
                                                   "a school account or ask the administrator")))
            state = await self.p.bot.room_state_or_none(room_id)
        info = RoomInfo.from_state((state or {}).get(("org.parta.room", "")))
        if info is None or (info.org != org_id and not (info.kind == "network" and org_id in info.orgs)):
            check(deny("room_other_org", N_("This room does not belong to the organization")))
        if creator is not None and info.kind in ("chat", "dm") and info.creator != creator.user_id:
            pl = (state or {}).get(("m.room.power_levels", ""), {})
            if pl.get("users", {}).get(creator.user_id, pl.get("users_default", 0)) < pl.get("invite", 0):
                check(deny("may_not_invite", N_("Only teachers and the school's administration can invite "
                                                "people into chats")))
        return room_id

    async def one_time_token(self, code: str) -> str:
        """A single-use Synapse registration token for a link that has none (young pupils), valid
        ten minutes: ``CODE.XXXXXXXX``. Issued by the page once the parent's e-mail code is right."""
        token = f"{code}.{secrets.token_hex(4).upper()}"
        await self.p.bot.request(Method.POST, "/_synapse/admin/v1/registration_tokens/new", {
            "token": token, "uses_allowed": 1, "expiry_time": st.now_ms() + 10 * 60 * 1000})
        return token

    async def revoke(self, code: str, actor_person: Person | None, actor: str) -> dict:
        """Revoke a link (its creator, or the organization's administrator or head)."""
        with self.p.store.begin() as tx:
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            if row is None:
                check(usable(None, 0), 404)
            if actor_person is not None and row.created_by != actor_person.user_id:
                m = actor_person.memberships.get(row.org_id)
                if not self.caps.can(m, "issue_links"):
                    check(deny("may_not_revoke", N_("Only the link's creator or the school's administration can "
                                                     "revoke it")))
            changed = not row.revoked
            tx.execute(st.links.update().where(st.links.c.code == code).values(revoked=True))
            st.audit(tx, actor, "link.revoke", code=code)
        if row.role is not None and changed:
            try:
                await self.p.bot.request(Method.DELETE, f"/_synapse/admin/v1/registration_tokens/{quote(code, safe='')}")
            except Exception:  # noqa: BLE001 - already gone
                pass
        return {"code": code, "revoked": True, "changes": int(changed)}

    def list(self, org_id: str, actor_person: Person | None) -> list[dict]:
        """Links of an organization: all for its administration and the operator, own ones for others."""
        with self.p.store.begin() as tx:
            q = sa.select(st.links).where(st.links.c.org_id == org_id).order_by(st.links.c.created_at)
            if actor_person is not None and not self.caps.can(actor_person.memberships.get(org_id), "issue_links"):
                q = q.where(st.links.c.created_by == actor_person.user_id)
            return [link_json(link_from_row(r), self.p.settings.public_url) for r in tx.execute(q)]

    def get(self, code: str) -> Link | None:
        with self.p.store.begin() as tx:
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
        return link_from_row(row) if row else None

    # -- personal codes of a roster ------------------------------------------------------
    async def personal_codes(self, org_id: str, class_id: str | None, actor: str,
                             roles: tuple[str, ...] = ("student", "parent", "teacher")) -> list[dict]:
        """One single-use code per expected person (no account yet) of the roster, created once;
        ``roles`` limits whose codes are given (a teacher gets students' and parents').

        Returns ``[{"person_id", "name", "role", "class_id", "code", "url", "note"}]``.
        """
        out = []
        with self.p.store.begin() as tx:
            self.p._org_row(tx, org_id)
            people = tx.execute(sa.select(st.people).where(
                st.people.c.org_id == org_id, st.people.c.user_id.is_(None), st.people.c.status == "active",
                st.people.c.role.in_(list(roles))).order_by(
                st.people.c.family_name, st.people.c.given_name)).all()
            enrolled = {}
            for e in tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id)):
                enrolled.setdefault(e.person_id, []).append(e.class_id)
            wards = {}
            for g in tx.execute(sa.select(st.guardianships).where(st.guardianships.c.org_id == org_id)):
                wards.setdefault(g.guardian_id, []).append(g.student_id)
            names = {p.person_id: FullName(p.family_name, p.given_name, p.middle_name).display
                     for p in tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id))}
            existing = {r.person_id: r for r in tx.execute(sa.select(st.links).where(
                st.links.c.org_id == org_id, st.links.c.person_id.is_not(None), st.links.c.revoked.is_(False)))}
        for person in people:
            classes = enrolled.get(person.person_id, [])
            for kid in wards.get(person.person_id, []):
                classes += enrolled.get(kid, [])
            if class_id is not None and class_id not in classes:
                continue
            row = existing.get(person.person_id)
            if row is None:
                code = new_code()
                with self.p.store.begin() as tx:
                    young = young_link(tx, org_id, person.role, classes[0] if classes else None, person.person_id)
                if not young:  # young pupils register on the page, after a parent's e-mail code
                    await self.p.bot.request(Method.POST, "/_synapse/admin/v1/registration_tokens/new",
                                             {"token": code, "uses_allowed": 1, "expiry_time": None})
                with self.p.store.begin() as tx:
                    tx.execute(st.links.insert().values(
                        code=code, org_id=org_id, role=person.role, class_id=classes[0] if classes else None,
                        person_id=person.person_id, rooms="[]", uses=0, uses_allowed=1, expires_at=None,
                        revoked=False, created_by=actor, created_at=st.now_ms()))
                    st.audit(tx, actor, "link.personal", org=org_id, person=person.person_id)
            else:
                code = row.code
            note = ", ".join(names.get(k, k) for k in wards.get(person.person_id, []))
            out.append({"person_id": person.person_id, "role": person.role,
                        "name": FullName(person.family_name, person.given_name, person.middle_name).display,
                        "class_id": classes[0] if classes else None, "code": code,
                        "url": f"{self.p.settings.public_url}/register?code={code}", "note": note})
        return out

    # -- registering and redeeming ---------------------------------------------------
    async def place_registration(self, user_id: str) -> dict:
        """Give an account registered with a Parta link its place (idempotent).

        The token is read back from the homeserver (the module's record), never taken from
        the caller. Serialized with every other provisioning operation, so a caller that
        arrives second (the page and the module's nudge race) returns only once the
        account is in its rooms. Returns ``{"user_id", "placed", "org", "changes"}``.
        """
        async with self.p.lock:
            return await self._place_registration(user_id)

    async def _place_registration(self, user_id: str) -> dict:
        r = await self.p.bot.request(Method.GET, "/_synapse/client/parta/registrations", query={"user_id": user_id})
        records = r.get("registrations") or []
        if not records:
            return {"user_id": user_id, "placed": False, "org": None, "changes": 0}
        token = records[0]["token"]
        code = link_code_of_token(token)
        changes = Changes()
        with self.p.store.begin() as tx:
            done = tx.execute(sa.select(st.registrations).where(st.registrations.c.user_id == user_id)).one_or_none()
            if done is not None:
                return {"user_id": user_id, "placed": True, "org": done.org_id, "changes": 0}
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            if row is None:
                return {"user_id": user_id, "placed": False, "org": None, "changes": 0}
            link = link_from_row(row)
            localpart = user_id.split(":", 1)[0].lstrip("@")
            page = tx.execute(sa.select(st.page_registrations).where(
                st.page_registrations.c.localpart == localpart,
                st.page_registrations.c.code == code)).one_or_none()
            person_id = self._bind_person(tx, link, user_id, page, changes)
            tx.execute(st.registrations.insert().values(user_id=user_id, code=code, org_id=link.org,
                                                        person_id=person_id, processed_at=st.now_ms()))
            tx.execute(st.links.update().where(st.links.c.code == code).values(uses=st.links.c.uses + 1))
            st.audit(tx, "homeserver", "account.registered", user_id=user_id, org=link.org, code=code)
        rchanges, _ids = await self.p._reconciler().reconcile(link.org, only_users={user_id})
        changes.extend(rchanges)
        if link.rooms:
            changes.extend(await self._join_link_rooms(link, user_id))
        return {"user_id": user_id, "placed": True, "org": link.org, "changes": changes.count}

    def _bind_person(self, tx, link: Link, user_id: str, page, changes: Changes) -> str:
        """The people row the new account belongs to: its roster entry, or a new one."""
        if link.person_id is not None:
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
            org = tx.execute(sa.select(st.organizations.c.payload).where(st.organizations.c.id == link.org)).scalar()
            limit = int((json.loads(org).get("settings") or {}).get("max_guardians_per_child", DEFAULT_MAX_GUARDIANS))
            if exists is None and guardian_count(tx, link.org, link.child_person_id) < limit:
                tx.execute(st.guardianships.insert().values(org_id=link.org, student_id=link.child_person_id,
                                                            guardian_id=person_id, relation="parent"))

    async def redeem(self, code: str, user_id: str) -> dict:
        """A signed-in account uses a link: takes its role (once), joins its rooms.

        Redeeming twice changes nothing. Raises Refused with the policy's reason.
        """
        async with self.p.lock:
            return await self._redeem(code, user_id)

    async def _redeem(self, code: str, user_id: str) -> dict:
        now = st.now_ms()
        with self.p.store.begin() as tx:
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            link = link_from_row(row) if row else None
            redeemer = person_from_db(tx, user_id)
            if link is not None and self._already_redeemed(tx, link, user_id):
                return {"code": code, "user_id": user_id, "changes": 0}
            check(may_redeem(link, redeemer, now) if link else usable(None, now), 404 if link is None else 403)
        changes = Changes()
        if link.role is None:
            await self._join_link_rooms(link, user_id, dry_run=True)  # refuse before anything is counted
        if link.role is not None:
            with self.p.store.begin() as tx:
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
        with self.p.store.begin() as tx:
            tx.execute(st.links.update().where(st.links.c.code == code).values(uses=st.links.c.uses + 1))
            tx.execute(st.redemptions.insert().values(code=code, user_id=user_id, ts=now))
            st.audit(tx, user_id, "link.redeem", code=code)
        # the link is used up: Synapse must not take it for a registration any more
        if link.uses_allowed is not None and link.uses + 1 >= link.uses_allowed and link.role is not None:
            try:
                await self.p.bot.request(Method.DELETE, f"/_synapse/admin/v1/registration_tokens/{quote(code, safe='')}")
            except Exception:  # noqa: BLE001
                pass
        rchanges, _ids = await self.p._reconciler().reconcile(link.org, only_users={user_id})
        changes.extend(rchanges)
        if link.rooms:
            changes.extend(await self._join_link_rooms(link, user_id))
        return {"code": code, "user_id": user_id, **changes.to_json()}

    async def sweep(self) -> int:
        """Place every recorded registration not placed yet (nudges can be lost); returns how many."""
        with self.p.store.begin() as tx:
            since = int(tx.execute(sa.select(st.state.c.value).where(st.state.c.key == "sweep_since")).scalar() or 0)
        r = await self.p.bot.request(Method.GET, "/_synapse/client/parta/registrations", query={"since": str(since)})
        placed = 0
        for rec in r.get("registrations") or []:
            result = await self.place_registration(rec["user_id"])  # takes the lock per account
            placed += int(result["changes"] > 0)
            since = max(since, int(rec["ts"]))
        with self.p.store.begin() as tx:
            tx.execute(st.state.delete().where(st.state.c.key == "sweep_since"))
            tx.execute(st.state.insert().values(key="sweep_since", value=str(since)))
        return placed

    async def sweep_forever(self, every_s: float = 30.0) -> None:
        """Run :meth:`sweep` now and then every ``every_s`` seconds (the service's background task)."""
        import asyncio
        import logging

        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - try again next time
                logging.getLogger("parta.sweep").exception("registration sweep failed")
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
        with self.p.store.begin() as tx:
            newcomer = person_from_db(tx, user_id)
        for room_id in link.rooms:
            state = await self.p.bot.room_state_or_none(room_id)
            if state is None:
                continue
            if ("m.room.member", user_id) in state and state[("m.room.member", user_id)].get("membership") == "join":
                continue
            info = RoomInfo.from_state(state.get(("org.parta.room", "")))
            members = [u for (t, u), c in state.items() if t == "m.room.member"
                       and c.get("membership") in ("join", "invite") and u != self.p.bot.user_id]
            with self.p.store.begin() as tx:
                people = [person_from_db(tx, u) for u in members]
                creator = person_from_db(tx, link.created_by) if link.created_by.startswith("@") else None
            settings = {}
            decision = self._may_enter(info, creator, newcomer, people, settings)
            check(decision)
            if dry_run:
                continue
            await self.p.bot.force_join(user_id, room_id)
            changes.add(f"{room_id}: join {user_id} by link")
        return changes

    def _may_enter(self, info: RoomInfo | None, creator: Person | None, newcomer: Person,
                   members: list[Person], settings) -> Decision:
        if info is None:
            return deny("room_other_org", N_("This room does not belong to the organization"))
        if info.kind not in ("dm", "chat"):
            return self.caps.may_join(newcomer, info, is_invited=True)
        inviter = creator or (members[0] if members else newcomer)
        return self.caps.may_invite(inviter, newcomer, info, [m for m in members if m.user_id != inviter.user_id],
                                    settings)
