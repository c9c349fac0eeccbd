"""Roster import: a parsed roster becomes the organization's classes, people, enrollments and
guardianships (declaratively: see :mod:`.roster_diff`), then the rooms follow.

The same roster again writes nothing (``changes: 0``). A later roster moves pupils between
classes, changes teachers' classes, renames classes and removes those it no longer lists (rooms
left, accounts suspended when no school remains, never erased). A roster that would remove more
than the organization's ``max_roster_removal_share`` of its roster people (default 20 %) is
refused unless the import confirms it: a half-exported file must not empty a school.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies.i18n import _
from policies.model import FullName, Role, Roster

from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.faults import crash_point
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.roster_diff import RosterDiff, diff, merge_delta
from spaces_provisioner.ops.stale_links import revoke_links_of_former_issuers


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Rosters:
    """Roster operations of one installation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def import_roster(self, org_id: str, roster: Roster, actor: str, *, dry_run: bool = False,
                            confirm_mass_removal: bool = False) -> dict:
        """Make ``org_id``'s records say what ``roster`` says, then reconcile its rooms.

        Returns ``{"format", "dry_run", "summary": {kind: count}, "moves", "changes", "details",
        "problems", "kept": {"classes": [...], "people": []}}``; ``dry_run``: the same answer,
        nothing written. Raises 404 ``M_NOT_FOUND`` for an unknown organization and 409
        ``PARTA_MASS_REMOVAL`` for a roster that would remove too many people unconfirmed.
        """
        async with self.ctx.lock:
            return await self.import_locked(org_id, roster, actor, dry_run=dry_run,
                                            confirm_mass_removal=confirm_mass_removal)

    async def import_locked(self, org_id: str, roster: Roster, actor: str, *, dry_run: bool = False,
                            confirm_mass_removal: bool = False) -> dict:
        """:meth:`import_roster` for a caller that already holds the lock (the year's rollover)."""
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org_id)
            if roster.delta:  # only changes: laid over the records, it is the whole roster it means
                roster = merge_delta(tx, org_id, roster)
            d = diff(tx, org_id, roster)
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
