"""People as the provisioning database knows them: memberships, role changes, removal.

The database is the source the registry is built from; :func:`person_from_db` gives the
same :class:`policies.capabilities.Person` the Synapse module builds from the registry,
so both sides decide with the same rules.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.capabilities import Membership, Person
from policies.model import Role

from . import store as st


def person_from_db(tx: Connection, user_id: str) -> Person:
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
    return Person(user_id, memberships)


def person_row(tx: Connection, org_id: str, user_id: str):
    """The active people row of an account in one organization (None when absent)."""
    return tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id, st.people.c.user_id == user_id,
                                                 st.people.c.status == "active")).one_or_none()


def guardian_count(tx: Connection, org_id: str, student_person_id: str) -> int:
    """How many guardians a student has in an organization (from the roster and from links)."""
    return tx.execute(sa.select(sa.func.count()).select_from(st.guardianships).where(
        st.guardianships.c.org_id == org_id, st.guardianships.c.student_id == student_person_id)).scalar() or 0
