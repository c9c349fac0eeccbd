"""How long a school keeps its rooms' messages: retention per school year (pure rules).

The organization's settings (``policies/data/org_settings.yaml``) say:

- ``school_year_end``: the day a school year ends, ``"MM-DD"`` (default ``"06-30"``): the school year
  ``"2025/26"`` ends on 2026-06-30;
- ``retention_archived_months``: how many months after its year ends an archived class room (``parta year
  rollover`` archives last year's class chats, parents' rooms, announcement and materials rooms) keeps its
  messages; then the service purges them. ``null``: kept for ever.
- ``retention_direct_chats_months``: people's own chats (direct chats and the group chats people create, kinds
  ``dm`` and ``chat``) keep each message this many months; older messages are purged (the chat goes on).
  ``null``: kept for ever.

A purge removes the messages (and their files), never the room's state: the archived room keeps its
name, its members and its power levels, and shows that its history was removed by the school's rule.

Used by :mod:`spaces_provisioner.ops.retention`.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: A school year's label, as ``policies.rollover.school_year`` writes it: ``"2025/26"``.
YEAR = re.compile(r"^(\d{4})/(\d{2})$")
#: ``school_year_end``: month and day.
MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class RetentionRules:
    """An organization's retention rules: ``year_end`` (month, day), ``archived_months`` and ``direct_months``
    (None: archived class rooms, people's own chats are kept for ever)."""

    year_end: tuple[int, int] = (6, 30)
    archived_months: int | None = None
    direct_months: int | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetentionRules:
        """From an organization's effective settings; raises ValueError on a malformed
        ``school_year_end`` (not ``MM-DD``) or a ``retention_archived_months`` or
        ``retention_direct_chats_months`` that is not a whole number of months, 0 or more."""
        m = MONTH_DAY.match(str(settings.get("school_year_end") or "06-30"))
        if m is None:
            raise ValueError("school_year_end must be MM-DD, e.g. 06-30")
        month, day = int(m.group(1)), int(m.group(2))
        datetime.date(2000, month, day)  # raises ValueError for 02-30, 13-01 (2000: 02-29 is a day)
        return cls((month, day), _months(settings, "retention_archived_months"),
                   _months(settings, "retention_direct_chats_months"))

    def year_ends(self, year: str) -> datetime.date:
        """The last day of the school year ``year`` (``"2025/26"`` → 2026-06-30 by default); raises
        ValueError for a label that is not ``YYYY/YY``."""
        m = YEAR.match(year)
        if m is None:
            raise ValueError(f"not a school year: {year!r}")
        end_year = int(m.group(1)) + 1
        month, day = self.year_end
        return datetime.date(end_year, month, min(day, calendar.monthrange(end_year, month)[1]))

    def purge_after(self, year: str) -> datetime.date | None:
        """The first day on which an archived room of ``year`` is purged: ``archived_months`` months
        after the day following the year's end (None: kept for ever)."""
        if self.archived_months is None:
            return None
        return add_months(self.year_ends(year), self.archived_months) + datetime.timedelta(days=1)

    def direct_cutoff(self, now: datetime.datetime) -> datetime.datetime | None:
        """The moment before which messages of people's own chats go: ``direct_months`` calendar months
        before ``now`` (an aware datetime), None when they are kept for ever."""
        if self.direct_months is None:
            return None
        day = add_months(now.date(), -self.direct_months)
        return datetime.datetime.combine(day, now.timetz())

    def is_due(self, year: str, today: datetime.date) -> bool:
        """Whether an archived room of ``year`` is purged on ``today``."""
        after = self.purge_after(year)
        return after is not None and today >= after


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (01-31 + 1 → 02-28/29)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _months(settings: Mapping[str, Any], key: str) -> int | None:
    months = settings.get(key)
    if months is not None and (not isinstance(months, int) or isinstance(months, bool) or months < 0):
        raise ValueError(f"{key} must be a whole number of months (or null)")
    return months
