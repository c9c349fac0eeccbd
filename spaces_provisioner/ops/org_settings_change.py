"""An organization's settings after approval (issue 14): read them next to their defaults, and
change some of them.

A change is checked by ``policies.org_settings_change.check_changes`` (a bad value: 400
``M_INVALID_PARAM`` naming every wrong setting and its fix; nothing is stored), stored in the
organization's approved application (``organizations.payload["settings"]``, where the reconciler
and every reader already look), audited (``org.settings``, the old and new values) and applied: the
organization is reconciled, so its rooms follow (announcements' power levels, classmates messaging
in the registry room the module reads, journal links) and the quiet-hours and retention readers see
the new values at once. Who may: the organization's administrator or head and the operator
(``api.auth.require_org_admin``, checked by the caller: the API route and the console page).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from policies import org_settings
from policies.i18n import _
from policies.org_settings_change import CHANGEABLE, check_changes

from spaces_provisioner.db import queries
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.organizations import Organizations


def settings_view(ctx: Context, org_id: str) -> dict[str, Any]:
    """``{"org", "settings": [{"key", "value", "default", "own"}]}`` in
    :data:`~policies.org_settings_change.CHANGEABLE` order (``own``: set for this organization, else
    the default of ``policies/data/org_settings.yaml``). 404 ``M_NOT_FOUND`` for an unknown organization."""
    with ctx.store.begin() as tx:
        ctx.org_row(tx, org_id)
        own = queries.org_own_settings(tx, org_id)
    effective = org_settings.effective(own)
    defaults = org_settings.defaults()
    return {"org": org_id, "settings": [{"key": k, "value": effective.get(k), "default": defaults.get(k),
                                         "own": k in own} for k in CHANGEABLE]}


async def change_settings(ctx: Context, organizations: Organizations, org_id: str, changes: Any,
                          actor: str) -> dict[str, Any]:
    """Store ``changes`` (``{name: value}``) as ``org_id``'s settings, audit and reconcile; returns
    :func:`settings_view` plus ``"changed"`` (the names whose value changed) and ``"reconcile"``
    (the reconciler's ``{"changes", "details"}``). Raises 400 ``M_INVALID_PARAM`` (details: one line per
    wrong setting, ``name: fix``) with nothing stored, 404 for an unknown organization."""
    problems = check_changes(changes)
    if problems:
        raise ProvisioningError(400, Errcode.INVALID_PARAM,
                                _("Some settings cannot be stored: {names}").format(
                                    names=", ".join(name for name, _m in problems)),
                                details=[f"{name}: {message}" for name, message in problems],
                                reason="bad_setting")
    async with ctx.lock:
        with ctx.store.begin() as tx:
            org = ctx.org_row(tx, org_id)
            payload = json.loads(org.payload)
            own = dict(payload.get("settings") or {})
            before = org_settings.effective(own)
            changed = sorted(k for k, v in changes.items() if before.get(k) != v)
            own.update(changes)
            payload["settings"] = own
            tx.execute(sa.update(st.organizations).where(st.organizations.c.id == org_id)
                       .values(payload=json.dumps(payload, ensure_ascii=False, sort_keys=True)))
            st.audit(tx, actor, "org.settings", org=org_id, changed=changed,
                     old={k: before.get(k) for k in changed}, new={k: changes[k] for k in changed})
    result = await organizations.reconcile(org_id)
    return {**settings_view(ctx, org_id), "changed": changed, "reconcile": result}
