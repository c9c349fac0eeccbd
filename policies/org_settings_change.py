"""Which of an organization's settings its administration may change after approval, and the rules
each new value must follow (issue 14: classmates messaging, announcements, quiet hours, retention).

Pure: :func:`check_changes` takes the requested ``{name: value}`` and returns the problems as
``(name, message)`` pairs (messages in the current language, naming the fix); an empty list means
every value may be stored. The defaults stay in ``policies/data/org_settings.yaml``.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from policies.i18n import _
from policies.quiet_hours import OfficeHours, OfficeHoursError

#: The settings the administration may change, in the order the console shows them.
CHANGEABLE = ("students_may_message_classmates", "teachers_may_post_announcements", "office_hours",
              "quiet_hours_silence", "timezone", "school_year_end", "retention_archived_months",
              "retention_direct_chats_months", "max_guardians_per_child", "parent_email_grades")

_ROLES = ("student", "parent", "teacher")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_one(name: str, value: Any) -> str | None:
    """The problem with ``value`` for setting ``name`` (a message), None when it may be stored."""
    if name in ("students_may_message_classmates", "teachers_may_post_announcements"):
        return None if isinstance(value, bool) else _("must be true or false")
    if name in ("retention_archived_months", "retention_direct_chats_months"):
        ok = value is None or (_is_int(value) and 1 <= value <= 1200)
        return None if ok else _("must be a whole number of months from 1 to 1200, or null (kept for ever)")
    if name == "max_guardians_per_child":
        return None if _is_int(value) and 1 <= value <= 10 else _("must be a whole number from 1 to 10")
    if name == "parent_email_grades":
        ok = isinstance(value, list) and all(_is_int(g) and 1 <= g <= 11 for g in value)
        return None if ok else _("must be a list of grades from 1 to 11, e.g. [1, 2, 3, 4], or []")
    if name == "quiet_hours_silence":
        ok = isinstance(value, list) and all(r in _ROLES for r in value)
        return None if ok else _("must be a list of roles among student, parent, teacher, e.g. [student, parent]")
    if name == "timezone":
        try:
            if isinstance(value, str) and value:
                zoneinfo.ZoneInfo(value)
                return None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
        return _("must be a time zone name such as Europe/Moscow")
    if name == "school_year_end":
        match = isinstance(value, str) and re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])", value)
        return None if match else _("must be a day as MM-DD, e.g. 06-30")
    if name == "office_hours":
        if value is None:
            return None
        if not isinstance(value, Mapping):
            return _('must be null or hours such as {"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "20:00"}')
        try:
            OfficeHours.parse(value)
        except OfficeHoursError as e:
            return _(e.message).format(**e.fields)
        return None
    return _("cannot be changed here; these can: {names}").format(names=", ".join(CHANGEABLE))


def check_changes(changes: Any) -> list[tuple[str, str]]:
    """The problems of a requested change ``{name: value}``: ``[(name, message)]``, empty when every
    value may be stored. A change that is not a non-empty mapping is one problem named ``settings``."""
    if not isinstance(changes, Mapping) or not changes:
        return [("settings", _('must be an object of settings to change, e.g. '
                               '{"teachers_may_post_announcements": true}'))]
    problems = []
    for name, value in changes.items():
        problem = _check_one(str(name), value)
        if problem is not None:
            problems.append((str(name), problem))
    return problems
