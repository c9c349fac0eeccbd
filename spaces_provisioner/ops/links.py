"""Links: creating, listing and revoking registration and chat invite links; personal codes.

A link lives in two ledgers: the ``links`` table (who it is for, uses, expiry, revocation) and,
for links that register newcomers, a Synapse registration token with the same code (so that
registering in Element with the code works exactly like the registration page). The token side is
reached only through :class:`~spaces_provisioner.homeserver.bot.BotClient`'s
``create_registration_token`` / ``delete_registration_token``; young pupils' links have no token
of their own (the page issues a one-time token after the parent's e-mail code).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies import org_settings
from policies.capabilities import Account, RoomInfo, deny
from policies.i18n import N_
from policies.links import Link, LinkRequest, may_create_link, needs_parent_email, usable
from policies.model import FullName, Role
from policies.state_events import PartaEventTypes

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import class_title, guardian_count, person_row
from spaces_provisioner.errors import Refused, check
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.ops.context import Context

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PARENT_LINK_TTL_MS = 7 * 86400 * 1000


def new_code(groups: int = 3, size: int = 4) -> str:
    """A registration code like ``K7MQ-3XHE-P9TW`` (about 59 bits; no look-alike characters)."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups))


def grades_of(raw: str | None) -> set[int]:
    """Grade numbers from a JSON list of roster grades ("02", "2", "KG"... → {2})."""
    out = set()
    for g in json.loads(raw or "[]"):
        m = re.match(r"^\s*0*(\d{1,2})\s*$", str(g))
        if m:
            out.add(int(m.group(1)))
    return out


def young_link(tx: Connection, org_id: str, role: str | None, class_id: str | None,
               person_id: str | None) -> bool:
    """Whether a link of this role / class / roster person needs a parent's e-mail code."""
    settings = Context.org_settings(tx, org_id)
    grades: set[int] = set()
    if class_id:
        grades |= grades_of(tx.execute(sa.select(st.classes.c.grades).where(
            st.classes.c.org_id == org_id, st.classes.c.class_id == class_id)).scalar())
    if person_id:
        grades |= grades_of(tx.execute(sa.select(st.people.c.grades).where(
            st.people.c.org_id == org_id, st.people.c.person_id == person_id)).scalar())
    return needs_parent_email(role, grades, settings)


def link_code_of_token(token: str) -> str:
    """The link a registration token belongs to: the code itself, or ``CODE.xxxx`` — a one-time
    token the page issued after checking a parent's e-mail code."""
    return token.split(".", 1)[0]


def link_from_row(row: Any) -> Link:
    """A ``links`` row as a :class:`policies.links.Link`."""
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



class Links:
    """Link operations of one installation: registration links, chat invite links, personal codes."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.caps = ctx.caps

    # -- creating and revoking -------------------------------------------------------
    async def create(self, org_id: str, req: LinkRequest, creator: Account | None, actor: str) -> dict:
        """Create a link in ``org_id``; ``creator`` None means the operator. Returns the link's JSON."""
        now = st.now_ms()
        child_person_id = None
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org_id)
            settings = self.ctx.org_settings(tx, org_id)
            if req.role is not None and creator is not None:
                check(may_create_link(self.caps, creator, org_id, req.role, req.class_id, req.child_user_id,
                                      settings))
            if req.rooms and creator is not None:
                m = creator.memberships.get(org_id)
                if not self.caps.can(m, "invite_to_chat", settings):
                    raise Refused(deny("may_not_invite", N_("Only teachers and the school's administration can invite "
                                                            "people into chats")))
            if req.class_id is not None and tx.execute(sa.select(st.classes).where(
                    st.classes.c.org_id == org_id, st.classes.c.class_id == req.class_id)).one_or_none() is None:
                raise Refused(deny("unknown_class", N_("Organization {org} has no class {cls}"), org=org_id,
                                   cls=req.class_id), 404)
            if req.role == "parent" and req.child_user_id:
                child = person_row(tx, org_id, req.child_user_id)
                if child is None or child.role != Role.STUDENT:
                    raise Refused(deny("unknown_child", N_("{user} is not a student of this organization"),
                                       user=req.child_user_id), 404)
                child_person_id = child.person_id
                if creator is not None and not self.caps.can(creator.memberships.get(org_id), "issue_links"):
                    child_classes = {e.class_id for e in tx.execute(sa.select(st.enrollments.c.class_id).where(
                        st.enrollments.c.org_id == org_id, st.enrollments.c.person_id == child_person_id))}
                    mine = creator.memberships[org_id].classes if org_id in creator.memberships else frozenset()
                    if creator.user_id != req.child_user_id and not child_classes & mine:
                        raise Refused(deny("link_own_classes", N_("A teacher issues student and parent links for own "
                                                                  "classes only")))
                limit = org_settings.max_guardians(settings)
                pending = tx.execute(sa.select(sa.func.count()).select_from(st.links).where(
                    st.links.c.org_id == org_id, st.links.c.child_person_id == child_person_id,
                    st.links.c.revoked.is_(False), st.links.c.uses == 0,
                    sa.or_(st.links.c.expires_at.is_(None), st.links.c.expires_at > now))).scalar() or 0
                if guardian_count(tx, org_id, child_person_id) + pending >= limit:
                    raise Refused(deny("too_many_guardians", N_(
                        "A student can have at most {n} parents linked; ask the school if someone else needs "
                        "access"), n=limit))
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
        with self.ctx.store.begin() as tx:
            young = young_link(tx, org_id, req.role, req.class_id, None)
        if req.role is not None and not young:
            await self.ctx.bot.create_registration_token(code, uses_allowed, expires_at)
        with self.ctx.store.begin() as tx:
            tx.execute(st.links.insert().values(
                code=code, org_id=org_id, role=req.role, class_id=req.class_id, person_id=None,
                child_user_id=req.child_user_id, child_person_id=child_person_id, rooms=json.dumps(rooms),
                uses=0, uses_allowed=uses_allowed, expires_at=expires_at, revoked=False,
                created_by=creator.user_id if creator else actor, created_at=now))
            st.audit(tx, actor, "link.create", org=org_id, role=req.role, class_id=req.class_id, rooms=rooms)
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one()
        return link_json(link_from_row(row), self.ctx.settings.public_url)

    async def _check_link_room(self, org_id: str, room_id: str, creator: Account | None) -> str:
        """A chat link's room must be of the organization; the bot joins it to be able to invite."""
        state = await self.ctx.bot.room_state_or_none(room_id)
        if state is None:
            # the bot is not in the room: a people's chat invites the bot at creation
            try:
                await self.ctx.bot.join(room_id)
            except MatrixRequestError as e:
                raise Refused(deny("room_not_linkable", N_(
                    "Parta cannot invite into this room; create the chat from a school account or ask the "
                    "administrator"))) from e
            state = await self.ctx.bot.room_state_or_none(room_id)
        info = RoomInfo.from_state((state or {}).get((PartaEventTypes.ROOM, "")))
        if info is None or (info.org != org_id and not (info.kind == "network" and org_id in info.orgs)):
            raise Refused(deny("room_other_org", N_("This room does not belong to the organization")))
        if creator is not None and info.kind in ("chat", "dm") and info.creator != creator.user_id:
            pl = (state or {}).get(("m.room.power_levels", ""), {})
            if pl.get("users", {}).get(creator.user_id, pl.get("users_default", 0)) < pl.get("invite", 0):
                raise Refused(deny("may_not_invite", N_("Only teachers and the school's administration can invite "
                                                        "people into chats")))
        return room_id

    async def one_time_token(self, code: str) -> str:
        """A single-use Synapse registration token for a link that has none (young pupils), valid
        ten minutes: ``CODE.XXXXXXXX``. Issued by the page once the parent's e-mail code is right."""
        token = f"{code}.{secrets.token_hex(4).upper()}"
        await self.ctx.bot.create_registration_token(token, 1, st.now_ms() + 10 * 60 * 1000)
        return token

    async def revoke(self, code: str, actor_person: Account | None, actor: str) -> dict:
        """Revoke a link (its creator, or the organization's administrator or head)."""
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            if row is None:
                raise Refused(usable(None, 0), 404)
            if actor_person is not None and row.created_by != actor_person.user_id:
                m = actor_person.memberships.get(row.org_id)
                if not self.caps.can(m, "issue_links"):
                    raise Refused(deny("may_not_revoke", N_(
                        "Only the link's creator or the school's administration can revoke it")))
            changed = not row.revoked
            tx.execute(st.links.update().where(st.links.c.code == code).values(revoked=True))
            st.audit(tx, actor, "link.revoke", org=row.org_id, code=code)
        if row.role is not None and changed:
            await self.ctx.bot.delete_registration_token(code)
        return {"code": code, "revoked": True, "changes": int(changed)}

    def of_org(self, org_id: str, actor_person: Account | None) -> list[dict]:
        """Links of an organization: all for its administration and the operator, own ones for others."""
        with self.ctx.store.begin() as tx:
            q = sa.select(st.links).where(st.links.c.org_id == org_id).order_by(st.links.c.created_at)
            if actor_person is not None and not self.caps.can(actor_person.memberships.get(org_id), "issue_links"):
                q = q.where(st.links.c.created_by == actor_person.user_id)
            return [link_json(link_from_row(r), self.ctx.settings.public_url) for r in tx.execute(q)]

    def get(self, code: str) -> Link | None:
        with self.ctx.store.begin() as tx:
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
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org_id)
            people = tx.execute(sa.select(st.people).where(
                st.people.c.org_id == org_id, st.people.c.user_id.is_(None), st.people.c.status == "active",
                st.people.c.role.in_(list(roles))).order_by(
                st.people.c.family_name, st.people.c.given_name)).all()
            enrolled: dict[str, list[str]] = {}
            for e in tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id)):
                enrolled.setdefault(e.person_id, []).append(e.class_id)
            wards: dict[str, list[str]] = {}
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
                with self.ctx.store.begin() as tx:
                    young = young_link(tx, org_id, person.role, classes[0] if classes else None, person.person_id)
                if not young:  # young pupils register on the page, after a parent's e-mail code
                    await self.ctx.bot.create_registration_token(code, 1, None)
                with self.ctx.store.begin() as tx:
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
                        "url": f"{self.ctx.settings.public_url}/register?code={code}", "note": note})
        return out

    def class_title(self, org_id: str, class_id: str) -> str | None:
        """A class's title ("5А"), None when the organization has no such class."""
        with self.ctx.store.begin() as tx:
            return class_title(tx, org_id, class_id)
