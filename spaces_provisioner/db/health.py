"""The organizations' health as the reconciler last saw it, kept in the ``state`` table.

One value per organization under the key ``reconcile.<org>``: JSON ``{"at": ms, "ok": bool,
"changes": n, "error": str | None}``, written after every reconcile (``ok`` False and the
error's text when it failed). The console's organizations page shows it.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from spaces_provisioner.db import schema as st


def _key(org_id: str) -> str:
    return f"reconcile.{org_id}"


def record_reconcile(store: st.Store, org_id: str, changes: int, error: str | None) -> None:
    """Note the outcome of one reconcile of ``org_id`` (``error`` None: it finished)."""
    value = json.dumps({"at": st.now_ms(), "ok": error is None, "changes": changes, "error": error},
                       ensure_ascii=False)
    with store.begin() as tx:
        tx.execute(st.state.delete().where(st.state.c.key == _key(org_id)))
        tx.execute(st.state.insert().values(key=_key(org_id), value=value))


def last_reconcile(tx: sa.Connection, org_id: str) -> dict | None:
    """The last reconcile of ``org_id`` (as :func:`record_reconcile` wrote it), None if never since this was added."""
    value = tx.execute(sa.select(st.state.c.value).where(st.state.c.key == _key(org_id))).scalar()
    return json.loads(value) if value else None
