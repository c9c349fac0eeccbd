"""Teachers' office hours (quiet hours, ``policies.quiet_hours``): read and set.

A teacher sets their own; the administration of one of the teacher's organizations, or the
operator, sets anyone's (``policies.quiet_hours.may_set_office_hours``). The hours are bot-sent
state in the registry room (``org.parta.office_hours``, state key ``_@user``), which the module
reads on every event; ``{}`` there means the organization's default (the ``office_hours`` setting).
Every change is audited (``office_hours.set``).
"""

from __future__ import annotations

from typing import Any

from policies import quiet_hours as qh
from policies.capabilities import Account
from policies.i18n import _
from policies.state_events import PartaEventTypes, user_state_key

from spaces_provisioner.db import queries
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import Errcode, ProvisioningError, check
from spaces_provisioner.ops.context import Context


class OfficeHoursOps:
    """``get`` and ``set`` a teacher's office hours."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def _target(self, user_id: str) -> tuple[Account, dict[str, Any]]:
        with self.ctx.store.begin() as tx:
            target = queries.account_from_db(tx, user_id)
            orgs = qh.teacher_orgs(target)
            settings = self.ctx.org_settings(tx, orgs[0]) if orgs else {}
        return target, settings

    async def _view(self, target: Account, settings: dict[str, Any]) -> dict[str, Any]:
        assert self.ctx.registry_id is not None, "Context.start() was not called"
        own = await self.ctx.bot.state_event(self.ctx.registry_id, PartaEventTypes.OFFICE_HOURS,
                                             user_state_key(target.user_id)) or {}
        hours = qh.hours_of(own, settings)
        return {"user_id": target.user_id, "own": own or None,
                "office_hours": hours.to_content() if hours else None,
                "text": hours.describe(self.ctx.settings.language) if hours else None,
                "timezone": settings.get("timezone")}

    async def get(self, user_id: str, by: Account | None) -> dict[str, Any]:
        """A teacher's office hours, for anyone in one of the teacher's organizations (parents see
        them in the notice too) or the operator (``by`` None): ``{"user_id", "own": content | None,
        "office_hours": content | None (own or the school's default), "text", "timezone"}``.
        403 ``M_FORBIDDEN`` (``not_a_teacher``, ``office_hours_not_yours``) otherwise."""
        target, settings = self._target(user_id)
        if not qh.teacher_orgs(target):
            check(qh.may_set_office_hours(None, target, self.ctx.caps))
        if by is not None and not by.memberships.keys() & set(qh.teacher_orgs(target)):
            check(qh.may_set_office_hours(by, target, self.ctx.caps))
        return await self._view(target, settings)

    async def set(self, user_id: str, body: dict[str, Any], by: Account | None) -> dict[str, Any]:
        """Set (``{"days": [1..7], "from": "HH:MM", "to": "HH:MM"}``) or clear (``{}``: the school's
        default) a teacher's office hours; answers as :meth:`get`. 400 ``M_INVALID_PARAM`` for hours
        that cannot be read, 403 ``M_FORBIDDEN`` for someone else's hours."""
        target, settings = self._target(user_id)
        check(qh.may_set_office_hours(by, target, self.ctx.caps))
        try:
            hours = qh.OfficeHours.parse(body)
        except qh.OfficeHoursError as e:
            raise ProvisioningError(400, Errcode.INVALID_PARAM, _(e.message).format(**e.fields)) from e
        content = hours.to_content() if hours else {}
        assert self.ctx.registry_id is not None, "Context.start() was not called"
        await self.ctx.bot.send_state(self.ctx.registry_id, PartaEventTypes.OFFICE_HOURS,
                                      user_state_key(user_id), content)
        with self.ctx.store.begin() as tx:
            for org in qh.teacher_orgs(target):
                st.audit(tx, by.user_id if by else "operator", "office_hours.set", org=org, user_id=user_id,
                         hours=content)
        return await self._view(target, settings)
