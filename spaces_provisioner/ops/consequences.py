"""What a change to a person would do, before it is done: the rooms they would leave and join,
the others whose rooms change with them (a pupil's guardians), whether their account would be
suspended.

The console shows this on a confirmation page before "remove", "change role" or "change classes"
(issue 14). It reads the same snapshot the reconciler places people from
(:func:`spaces_provisioner.reconcile.reconciler.load_snapshot`) and evaluates the same member
selectors (:meth:`policies.placement.OrgPeople.placement`) on the snapshot as it is and as it would
be: what it predicts is what the reconcile after :meth:`.people.People.update` / ``remove`` does
(a person may keep rooms they joined on their own, such as people's chats; those are not listed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import sqlalchemy as sa

from policies.i18n import _
from policies.model import FullName, Role
from policies.placement import OrgPeople
from policies.templates import RoomRef

from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import not_found
from spaces_provisioner.ops.context import Context
from spaces_provisioner.reconcile.reconciler import OrgSnapshot, load_snapshot


@dataclass
class Consequences:
    """A change's effect. ``left``/``joined``: names of the rooms the person leaves / joins (sorted);
    ``others``: ``{display name: {"left": [...], "joined": [...]}}`` for other people whose rooms
    change (guardians, children); ``guardians``: names of the pupil's guardians on the roster
    (with accounts or not); ``suspended``: the account would be suspended (no other organization);
    ``has_account``: whether the person has an account at all (without one, no rooms change)."""

    name: str
    has_account: bool
    left: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    others: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    guardians: list[str] = field(default_factory=list)
    suspended: bool = False


def _without(people: OrgPeople, user_id: str) -> None:
    """Take ``user_id`` out of every part of ``people`` (the snapshot only holds active people)."""
    people.roles.pop(user_id, None)
    people.confirmed.discard(user_id)
    for table in (people.class_students, people.class_teachers, people.homeroom):
        for members in table.values():
            members.discard(user_id)
    people.children.pop(user_id, None)
    for kids in people.children.values():
        kids.discard(user_id)


def _placements(ctx: Context, snap: OrgSnapshot, people: OrgPeople, refs: list[RoomRef]) -> dict[str, set[str]]:
    out = {}
    for ref in refs:
        t = ctx.templates.kinds[ref.kind]
        members, _levels = people.placement(list(t.members), ctx.templates.grants(ref, snap.settings), ref.class_id)
        out[ref.key] = members
    return out


def consequences(ctx: Context, org_id: str, person_id: str, language: str, *, remove: bool = False,
                 role: str | None = None, classes: list[str] | None = None,
                 confirmed: bool | None = None) -> Consequences:
    """What removing ``person_id`` (``remove``) or changing their ``role``/``classes``/``confirmed``
    would change, room names in ``language``. Raises 404 ``M_NOT_FOUND`` for an unknown organization
    or person. Reads only."""
    with ctx.store.begin() as tx:
        ctx.org_row(tx, org_id)
        row = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                    st.people.c.person_id == person_id)).one_or_none()
        if row is None:
            raise not_found(_("Organization {org} has no person {person} in its roster").format(
                org=org_id, person=person_id))
        snap = load_snapshot(tx, org_id, ctx.settings.language)
        known = [r.key for r in tx.execute(sa.select(st.rooms.c.key).where(st.rooms.c.org_id == org_id))]
        guardian_rows = tx.execute(sa.select(st.people).join(
            st.guardianships, sa.and_(st.guardianships.c.org_id == st.people.c.org_id,
                                      st.guardianships.c.guardian_id == st.people.c.person_id)).where(
            st.guardianships.c.org_id == org_id, st.guardianships.c.student_id == person_id,
            st.people.c.status == "active")).all()
        other_orgs = tx.execute(sa.select(sa.func.count()).select_from(st.people).where(
            st.people.c.user_id == row.user_id, st.people.c.org_id != org_id,
            st.people.c.status == "active")).scalar() if row.user_id else 0
        by_user = {r.user_id: r.person_id for r in tx.execute(sa.select(st.people.c.user_id, st.people.c.person_id)
                   .where(st.people.c.org_id == org_id, st.people.c.user_id.is_not(None)))}
    name = FullName(row.family_name, row.given_name, row.middle_name).display
    out = Consequences(name=name, has_account=row.user_id is not None and row.status == "active",
                       guardians=sorted(FullName(g.family_name, g.given_name, g.middle_name).display
                                        for g in guardian_rows))
    out.suspended = remove and row.user_id is not None and not other_orgs
    if not out.has_account:
        return out
    user = row.user_id
    after = copy.deepcopy(snap.people)
    if remove:
        _without(after, user)
    else:
        new_role = Role(role) if role else after.roles[user]
        after.roles[user] = new_role
        if confirmed is True:
            after.confirmed.add(user)
        elif confirmed is False:
            after.confirmed.discard(user)
        if classes is not None or role is not None:
            # People.update: a role other than student or teacher has no classes
            wanted = set(classes if classes is not None else snap.person_classes.get(user, []))
            if new_role not in (Role.STUDENT, Role.TEACHER):
                wanted = set()
            for table in (after.class_students, after.class_teachers):
                for members in table.values():
                    members.discard(user)
            for cid, members in after.homeroom.items():  # a kept class keeps its enrollment (and is_primary)
                if cid not in wanted or new_role is not Role.TEACHER:
                    members.discard(user)
            target = after.class_students if new_role is Role.STUDENT else after.class_teachers
            for cid in wanted:
                target.setdefault(cid, set()).add(user)
    refs = ctx.templates.refs_for_org(org_id, list(snap.classes), snap.settings, known)
    before_p, after_p = _placements(ctx, snap, snap.people, refs), _placements(ctx, snap, after, refs)

    def title(ref: RoomRef) -> str:
        return ctx.templates.texts(ref, org_name=snap.name, class_title=snap.classes.get(ref.class_id or ""),
                                   language=language)[0]

    names = {u: n.display for u, n in snap.display_names.items()}
    for ref in refs:
        gone, came = before_p[ref.key] - after_p[ref.key], after_p[ref.key] - before_p[ref.key]
        for u in gone | came:
            bucket = "left" if u in gone else "joined"
            if u == user:
                getattr(out, bucket).append(title(ref))
            else:
                key = names.get(u) or by_user.get(u) or u
                out.others.setdefault(key, {"left": [], "joined": []})[bucket].append(title(ref))
    out.left.sort()
    out.joined.sort()
    return out
