"""Roster import: a parsed roster becomes the organization's classes, people, enrollments and
guardianships (declaratively: see :mod:`.roster_diff`), then the rooms follow.

The same roster again writes nothing (``changes: 0``). A later roster moves pupils between
classes, changes teachers' classes, renames classes and removes those it no longer lists (rooms
left, accounts suspended when no school remains, never erased). A roster that would remove more
than the organization's ``max_roster_removal_share`` of its roster people (default 20 %) is
refused unless the import confirms it: a half-exported file must not empty a school.

The school's own import (its administrator or head, issue 14; ``by`` the person) changes people only
as ``PATCH``/``DELETE /people`` would let that person (:func:`policies.administration.may_change_person`,
row 90): a roster that makes, changes, removes or brings back an administrator, imported by the head,
or that changes the importer's own role or membership, is refused whole (403 with the policy's reason,
naming the people), in the dry run as in the import. The operator's import is not limited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.administration import may_change_person
from policies.capabilities import Account, Decision
from policies.i18n import _
from policies.labels import role_title
from policies.model import FullName, Role, Roster

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import account_from_db
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.faults import crash_point
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.roster_diff import RosterDiff, diff, merge_delta
from spaces_provisioner.ops.stale_links import revoke_links_of_former_issuers

#: A refusal's message names at most this many people (its details list every one).
NAMED_IN_REFUSAL = 5


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def refused_changes(by: Account | None, org_id: str, d: RosterDiff,
                    people: Mapping[str, Any]) -> list[tuple[str, str, str, Decision]]:
    """The changes ``d`` makes to people that ``by`` (None: the operator) may not make, in the diff's
    order: ``[(person_id, name, change, decision)]`` (``change`` says what the roster does to them,
    in the current language; ``decision`` is :func:`~policies.administration.may_change_person`'s no).

    ``people``: the organization's people rows (``user_id``, ``role``, names) by person id, as
    they were before the import. A new person is checked in their new role (``adds``), a changed one
    for the new role and for coming back (``reinstates``), a person no longer listed for the removal.
    """
    if by is None:
        return []
    out: list[tuple[str, str, str, Decision]] = []
    for p in d.people_added:
        decision = may_change_person(by, org_id, None, p["role"], adds=True)
        if not decision:
            out.append((p["person_id"], FullName(p["family_name"], p["given_name"], p["middle_name"]).display,
                        _("new, role: {role}").format(role=role_title(p["role"])), decision))
    for p in d.people_changed:
        row = people[p["person_id"]]
        reinstates = "status" in p
        decision = may_change_person(by, org_id, row.user_id, row.role, new_role=p["role"], reinstates=reinstates)
        if not decision:
            what = [_("role: {old} → {new}").format(old=role_title(row.role), new=role_title(p["role"]))
                    ] if p["role"] != row.role else []
            what += [_("back in the school")] if reinstates else []
            out.append((p["person_id"], FullName(row.family_name, row.given_name, row.middle_name).display,
                        ", ".join(what), decision))
    for p in d.people_removed:
        row = people[p["person_id"]]
        decision = may_change_person(by, org_id, row.user_id, row.role, removes=True)
        if not decision:
            out.append((p["person_id"], FullName(row.family_name, row.given_name, row.middle_name).display,
                        _("removed (no longer in the roster)"), decision))
    return out


def check_rights(tx: Connection, org_id: str, d: RosterDiff, by: Account | None) -> None:
    """Refuse the whole import when ``by`` may not make one of ``d``'s changes to people
    (:func:`refused_changes`): 403 ``M_FORBIDDEN`` with the first refusal's reason
    (``not_own_record``, ``admin_by_admin_only``), a message naming the people and one detail line each.

    ``by``'s memberships are read again in ``tx`` (the records the import would change), not taken
    from the request. Nothing is written either way.
    """
    if by is None:
        return
    by = account_from_db(tx, by.user_id)
    people = {r.person_id: r for r in tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id))}
    refused = refused_changes(by, org_id, d, people)
    if not refused:
        return
    named = ", ".join(f"{name} ({pid})" for pid, name, _change, _decision in refused[:NAMED_IN_REFUSAL])
    if len(refused) > NAMED_IN_REFUSAL:
        named += " " + _("and {n} more").format(n=len(refused) - NAMED_IN_REFUSAL)
    first = refused[0][3]
    raise ProvisioningError(403, Errcode.FORBIDDEN, _(
        "The roster was not imported: it changes people you may not change: {people}. {why}").format(
        people=named, why=first.message()),
        [f"{name} ({pid}): {change}: {decision.message()}" for pid, name, change, decision in refused],
        reason=first.reason)


class Rosters:
    """Roster operations of one installation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def import_roster(self, org_id: str, roster: Roster, actor: str, *, dry_run: bool = False,
                            confirm_mass_removal: bool = False, by: Account | None = None) -> dict:
        """Make ``org_id``'s records say what ``roster`` says, then reconcile its rooms.

        Returns ``{"format", "dry_run", "summary": {kind: count}, "moves", "changes", "details",
        "problems", "kept": {"classes": [...], "people": []}}``; ``dry_run``: the same answer,
        nothing written. ``by``: the school's administrator or head importing (None: the operator).
        Raises 404 ``M_NOT_FOUND`` for an unknown organization, 403 ``M_FORBIDDEN`` (reason
        ``not_own_record`` or ``admin_by_admin_only``) for a roster that changes people ``by`` may not
        change (:func:`check_rights`; the dry run too) and 409 ``PARTA_MASS_REMOVAL`` for a roster that
        would remove too many people unconfirmed.
        """
        async with self.ctx.lock:
            return await self.import_locked(org_id, roster, actor, dry_run=dry_run,
                                            confirm_mass_removal=confirm_mass_removal, by=by)

    async def import_locked(self, org_id: str, roster: Roster, actor: str, *, dry_run: bool = False,
                            confirm_mass_removal: bool = False, by: Account | None = None) -> dict:
        """:meth:`import_roster` for a caller that already holds the lock (the year's rollover)."""
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org_id)
            if roster.delta:  # only changes: laid over the records, it is the whole roster it means
                roster = merge_delta(tx, org_id, roster)
            d = diff(tx, org_id, roster)
            # before the count of removals and before any write, in the dry run too: the preview
            # tells the head what the import would refuse
            check_rights(tx, org_id, d, by)
            limit = float(self.ctx.org_settings(tx, org_id)["max_roster_removal_share"])
            if d.people_removed and d.removal_share > limit and not confirm_mass_removal and not dry_run:
                raise ProvisioningError(409, Errcode.MASS_REMOVAL, _(
                    "This roster would remove {n} of {total} people of the school ({share:.0%}, more than "
                    "{limit:.0%}); check that the export is whole, then import it again confirming the "
                    "removal (--confirm-mass-removal)").format(
                    n=len(d.people_removed), total=d.active_people, share=d.removal_share, limit=limit),
                    [f"person {p['person_id']} ({p['role']}): would be removed" for p in d.people_removed[:50]])
            if not dry_run:
                d.apply(tx, org_id)
                if d.count:
                    st.audit(tx, actor, "roster.import", org=org_id, format=roster.format, changes=d.count,
                             summary=d.summary())
        details = d.details()
        changes = d.count
        if not dry_run:
            crash_point("roster.applied")
            revoked = await revoke_links_of_former_issuers(self.ctx, org_id, actor)
            details += [f"{org_id}: link {code} revoked (its creator may no longer issue it)" for code in revoked]
            changes += len(revoked)
            rchanges, _ids = await self.ctx.reconciler().reconcile(org_id)
            details += rchanges.lines
            changes += rchanges.count
        return {"format": roster.format, "dry_run": dry_run, "summary": d.summary(), "moves": d.moves(),
                "changes": changes, "details": details, "problems": [str(p) for p in roster.problems],
                "kept": {"classes": d.kept_classes, "people": []}}


def upsert(tx: Connection, table: sa.Table, keys: dict, values: dict) -> str | None:
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


def upsert_person(tx: Connection, org_id: str, person_id: str, name: FullName, role: Role,
                  grades: tuple[str, ...], confirmed: bool | None = None) -> bool:
    """Insert or update one person row (``confirmed`` None: leave it as it is); True when something changed."""
    values: dict[str, Any] = dict(family_name=name.family_name, given_name=name.given_name,
                                  middle_name=name.middle_name, role=role.value, grades=_json(list(grades)))
    if confirmed is not None:
        values["confirmed"] = confirmed
    # a new row takes the column's default (not confirmed)
    return upsert(tx, st.people, {"org_id": org_id, "person_id": person_id}, values) is not None


__all__ = ["RosterDiff", "Rosters", "upsert", "upsert_person"]
