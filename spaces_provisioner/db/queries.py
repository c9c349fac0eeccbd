"""People as the provisioning database knows them: memberships, role changes, removal.

The database is the source the registry is built from; :func:`account_from_db` gives the
same :class:`policies.capabilities.Account` the Synapse module builds from the registry,
so both sides decide with the same rules.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.capabilities import Account, Membership
from policies.model import Role
from policies.people_chats import RECORD_MEMBERSHIPS

from spaces_provisioner.db import schema as st


def account_from_db(tx: Connection, user_id: str) -> Account:
    """Every active membership of an account, with classes, children and homeroom classes."""
    rows = tx.execute(sa.select(st.people).where(st.people.c.user_id == user_id,
                                                 st.people.c.status == "active")).all()
    memberships = {}
    for r in rows:
        enrolled = tx.execute(sa.select(st.enrollments).where(
            st.enrollments.c.org_id == r.org_id, st.enrollments.c.person_id == r.person_id)).all()
        classes = {e.class_id for e in enrolled}
        homeroom = {e.class_id for e in enrolled if e.role == Role.TEACHER and e.is_primary}
        children = set()
        for g in tx.execute(sa.select(st.guardianships).where(
                st.guardianships.c.org_id == r.org_id, st.guardianships.c.guardian_id == r.person_id)):
            child = tx.execute(sa.select(st.people.c.user_id).where(
                st.people.c.org_id == r.org_id, st.people.c.person_id == g.student_id)).scalar()
            kid_classes = {e.class_id for e in tx.execute(sa.select(st.enrollments.c.class_id).where(
                st.enrollments.c.org_id == r.org_id, st.enrollments.c.person_id == g.student_id))}
            classes |= kid_classes
            if child:
                children.add(child)
        memberships[r.org_id] = Membership(org=r.org_id, role=Role(r.role), confirmed=bool(r.confirmed),
                                           classes=frozenset(classes), children=frozenset(children),
                                           homeroom=frozenset(homeroom))
    return Account(user_id, memberships)


def person_row(tx: Connection, org_id: str, user_id: str):
    """The active people row of an account in one organization (None when absent)."""
    return tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id, st.people.c.user_id == user_id,
                                                 st.people.c.status == "active")).one_or_none()


def guardian_count(tx: Connection, org_id: str, student_person_id: str) -> int:
    """How many guardians a student has in an organization (from the roster and from links)."""
    return tx.execute(sa.select(sa.func.count()).select_from(st.guardianships).where(
        st.guardianships.c.org_id == org_id, st.guardianships.c.student_id == student_person_id)).scalar() or 0


def org_own_settings(tx: Connection, org_id: str) -> dict:
    """The ``settings`` an organization's approved application gives ({} when none or unknown)."""
    payload = tx.execute(sa.select(st.organizations.c.payload).where(st.organizations.c.id == org_id)).scalar()
    return dict((json.loads(payload).get("settings") or {}) if payload else {})


def class_title(tx: Connection, org_id: str, class_id: str) -> str | None:
    """A class's title ("5А"), None when the organization has no such class."""
    return tx.execute(sa.select(st.classes.c.title).where(
        st.classes.c.org_id == org_id, st.classes.c.class_id == class_id)).scalar()


def chat_members(tx: Connection, state: dict, skip: tuple[str, ...] = ()) -> list[Account]:
    """Everyone who has been in a room (``policies.people_chats.RECORD_MEMBERSHIPS`` in its current
    state ``{(type, state_key): content}``), but ``skip`` (the bot), with their active memberships'
    organizations and roles only (no classes or children: enough for ``policies.people_chats.chat_orgs``).
    One query for all of them."""
    users = sorted(str(k) for (t, k), c in state.items() if t == "m.room.member" and k not in skip
                   and (c or {}).get("membership") in RECORD_MEMBERSHIPS)
    if not users:
        return []
    memberships: dict[str, dict[str, Membership]] = {u: {} for u in users}
    for r in tx.execute(sa.select(st.people.c.user_id, st.people.c.org_id, st.people.c.role, st.people.c.confirmed)
                        .where(st.people.c.user_id.in_(users), st.people.c.status == "active")):
        memberships[r.user_id][r.org_id] = Membership(org=r.org_id, role=Role(r.role), confirmed=bool(r.confirmed))
    return [Account(u, m) for u, m in memberships.items()]
