"""The operator's review: one application in full (with what validation says of it now), its
refusal with a reason, the organizations with their health, the network rooms.

The approval itself is :meth:`spaces_provisioner.ops.organizations.Organizations.approve`.
A refused application keeps its row (``status`` ``rejected``) and the reason under the
``state`` key ``application.rejection.<id>``; sending a changed application makes it pending
again (:meth:`~spaces_provisioner.ops.organizations.Organizations.apply_application`).
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from policies.application import ApplicationError, load_schema, parse_application
from policies.i18n import _

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.health import last_reconcile
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json, not_found
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.ops.context import Context

#: The longest refusal reason kept (characters); the applicant reads it, so a paragraph at most.
MAX_REASON = 2000


def _rejection_key(app_id: str) -> str:
    return f"application.rejection.{app_id}"


class Review:
    """The operator's reading and refusing of applications, and the organizations' overview."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def application(self, app_id: str) -> dict:
        """One application: ``{"id", "status", "application": the canonical JSON, "problems": [str],
        "rejection": {"reason", "by", "at"} | None, "created_at", "updated_at"}`` (times in ms).

        ``problems``: what validating the stored application against today's schema and rules
        finds (empty for an application that is fine; an application recorded before a rule
        changed may show some). Raises 404 ``M_NOT_FOUND`` for an unknown id.
        """
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.applications).where(st.applications.c.id == app_id)).one_or_none()
            if row is None:
                raise not_found(_("There is no application {id}; `parta org list` shows the applications")
                                .format(id=app_id))
            rejection = tx.execute(sa.select(st.state.c.value).where(
                st.state.c.key == _rejection_key(app_id))).scalar()
        payload = json.loads(row.payload)
        try:
            parse_application(payload, load_schema())
            problems: list[str] = []
        except ApplicationError as e:
            problems = [str(p) for p in e.problems]
        return {"id": row.id, "status": row.status, "application": payload, "problems": problems,
                "rejection": json.loads(rejection) if rejection and row.status == "rejected" else None,
                "created_at": row.created_at, "updated_at": row.updated_at}

    async def reject(self, app_id: str, reason: str, actor: str) -> dict:
        """Refuse a pending application with ``reason`` (shown to the operator and kept for the applicant).

        Returns ``{"id", "status": "rejected", "changes", "details"}``; refusing it again with the
        same reason changes nothing. Raises 404 ``M_NOT_FOUND`` (unknown id), 400 ``M_BAD_JSON``
        (empty or too long a reason), 403 ``M_FORBIDDEN`` (already approved: its organization exists).
        """
        reason = " ".join(reason.split())
        if not reason:
            raise bad_json(_("Write the reason for the refusal: the applicant reads it and fixes the application"))
        if len(reason) > MAX_REASON:
            raise bad_json(_("The reason is too long: at most {n} characters").format(n=MAX_REASON))
        async with self.ctx.lock:
            with self.ctx.store.begin() as tx:
                row = tx.execute(sa.select(st.applications).where(st.applications.c.id == app_id)).one_or_none()
                if row is None:
                    raise not_found(_("There is no application {id}; `parta org list` shows the applications")
                                    .format(id=app_id))
                if row.status == "approved":
                    raise ProvisioningError(403, Errcode.FORBIDDEN, _(
                        "Application {id} is already approved and its organization exists; it cannot be "
                        "refused any more").format(id=app_id))
                old = tx.execute(sa.select(st.state.c.value).where(st.state.c.key == _rejection_key(app_id))).scalar()
                if row.status == "rejected" and old and json.loads(old)["reason"] == reason:
                    return {"id": app_id, "status": "rejected", "changes": 0, "details": []}
                tx.execute(st.applications.update().where(st.applications.c.id == app_id)
                           .values(status="rejected", updated_at=st.now_ms()))
                tx.execute(st.state.delete().where(st.state.c.key == _rejection_key(app_id)))
                tx.execute(st.state.insert().values(key=_rejection_key(app_id), value=json.dumps(
                    {"reason": reason, "by": actor, "at": st.now_ms()}, ensure_ascii=False)))
                st.audit(tx, actor, "application.reject", org=app_id, reason=reason)
        return {"id": app_id, "status": "rejected", "changes": 1, "details": [f"application {app_id}: refused"]}

    def organizations(self) -> list[dict]:
        """Every organization with its health: ``[{"id", "name", "kind", "approved_at", "rooms",
        "classes", "people", "accounts", "reconcile": {"at", "ok", "changes", "error"} | None}]``."""
        out = []
        with self.ctx.store.begin() as tx:
            for org in tx.execute(sa.select(st.organizations).order_by(st.organizations.c.id)).all():
                def count(table: sa.Table, *where: sa.ColumnElement[bool], org_id: str = org.id) -> int:
                    return tx.execute(sa.select(sa.func.count()).select_from(table).where(
                        table.c.org_id == org_id, *where)).scalar() or 0
                out.append({"id": org.id, "name": org.name, "kind": org.kind, "approved_at": org.approved_at,
                            "rooms": count(st.rooms), "classes": count(st.classes),
                            "people": count(st.people, st.people.c.status == "active"),
                            "accounts": count(st.people, st.people.c.status == "active",
                                              st.people.c.user_id.is_not(None)),
                            "reconcile": last_reconcile(tx, org.id)})
        return out

    async def network_rooms(self) -> list[dict]:
        """The cross-school rooms made so far: ``[{"room_id", "name", "orgs", "created_at", "members"}]``
        (name and member count from the homeserver; None when it does not answer for a room)."""
        with self.ctx.store.begin() as tx:
            rows = tx.execute(sa.select(st.audit_log).where(st.audit_log.c.action == "network_room.create")
                              .order_by(st.audit_log.c.ts)).all()
        out = []
        for r in rows:
            detail = json.loads(r.detail)
            room_id = detail.get("room_id")
            name = members = None
            try:
                event = await self.ctx.bot.state_event(room_id, "m.room.name", "")
                name = (event or {}).get("name")
                members = len(await self.ctx.bot.joined_members(room_id))
            except MatrixRequestError:
                pass
            out.append({"room_id": room_id, "name": name, "orgs": detail.get("orgs") or [], "created_at": r.ts,
                        "members": members})
        return out
