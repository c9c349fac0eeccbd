"""Reads for the school's console pages that no other operation has: the classes of an
organization and its settings next to their defaults.

Only reads; the rights are checked by the caller with the API's rules (the console's pages call
``Viewer.require_org_admin`` or pass the person to the operation that refuses).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from policies import org_settings

from spaces_provisioner.db import queries
from spaces_provisioner.db import schema as st
from spaces_provisioner.ops.context import Context

#: The settings the console shows a school (issue 14: classmates messaging, announcements, quiet
#: hours / office hours, retention), in this order; the rest stay in the application file.
SHOWN_SETTINGS = ("students_may_message_classmates", "teachers_may_post_announcements", "office_hours",
                  "quiet_hours_silence", "timezone", "school_year_end", "retention_archived_months",
                  "retention_direct_chats_months", "max_guardians_per_child", "parent_email_grades")


def classes_of(ctx: Context, org_id: str) -> list[dict[str, Any]]:
    """The organization's classes, by title: ``[{"class_id", "title", "grades": [..]}]``; 404 when unknown."""
    with ctx.store.begin() as tx:
        ctx.org_row(tx, org_id)
        rows = tx.execute(sa.select(st.classes).where(st.classes.c.org_id == org_id)).all()
    out = [{"class_id": r.class_id, "title": r.title, "grades": json.loads(r.grades or "[]")} for r in rows]
    return sorted(out, key=lambda c: (len(c["title"]), c["title"], c["class_id"]))


def settings_of(ctx: Context, org_id: str) -> list[dict[str, Any]]:
    """The organization's settings in :data:`SHOWN_SETTINGS` order: ``[{"key", "value", "default",
    "own"}]`` (``own``: the school's application sets it; else the default of
    ``policies/data/org_settings.yaml`` applies). 404 when unknown."""
    with ctx.store.begin() as tx:
        ctx.org_row(tx, org_id)
        own = queries.org_own_settings(tx, org_id)
    effective = org_settings.effective(own)
    defaults = org_settings.defaults()
    return [{"key": k, "value": effective.get(k), "default": defaults.get(k), "own": k in own}
            for k in SHOWN_SETTINGS]
