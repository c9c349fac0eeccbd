"""Quiet hours: when a teacher is not notified of messages from pupils and parents, and what the
sender is told. Pure rules (no Synapse, network or database); the module applies them to Synapse's
push actions (``synapse_module/quiet_hours.py``), the service stores a teacher's own office hours.

A teacher's **office hours** are the times they can be reached: on the listed ISO weekdays
(1 = Monday ... 7 = Sunday) from ``from`` to ``to`` (``"HH:MM"``, the school's wall clock in its
time zone, the organization's ``timezone`` setting; ``to`` before ``from`` runs past midnight).
Outside them is the teacher's **quiet window**. A teacher's own office hours (bot-sent state
``org.parta.office_hours`` in the registry room, ``policies.state_events``) win over the
organization's default (the ``office_hours`` setting, ``null`` by default: no quiet hours until a
school or a teacher sets them).

During the window, an event in one of the school's rooms from a sender whose role is in the
organization's ``quiet_hours_silence`` (default ``[student, parent]``) does not notify the teacher
(no push, no notification count), unless it is an **urgent** message: ``org.parta.urgent: true`` in
its content, which only the organization's administration (``send_urgent`` in capabilities.yaml)
may send; the module refuses it from anyone else (``urgent_admin_only``). The decision is the
sender's, the room's and the window's, never the event's type (:func:`silences`): Synapse's default
push rules notify of far more than messages (``.m.rule.call`` rings for an ``m.call.invite``,
``.m.rule.is_user_mention`` and ``.m.rule.roomnotif`` match any event with ``m.mentions``,
``.m.rule.invite_for_me`` an invite, MSC3930 rules poll starts, MSC4075 rules call notifications),
and a teacher's own rules may notify of anything, so a list of held types always misses one. The
sender, when a pupil or a parent, gets one notice per chat per window from the Parta bot with the
teacher's office hours, for what reads as an attempt to reach the teacher (:data:`NOTICE_TYPES`);
a reaction, an invite or a poll answer is held back without one (:func:`notice_due`).

Content shape of ``org.parta.office_hours`` (and of the ``office_hours`` setting)::

    {"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "20:00"}

``{}`` (or no event) means the organization's default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from policies.capabilities import ALLOW, Account, Capabilities, Decision, deny
from policies.i18n import N_, translations
from policies.org_settings import effective
from policies.polls import POLL_START_TYPES

#: Content key marking a message urgent (the administration's only; the module refuses it from others).
URGENT_KEY = "org.parta.urgent"
#: Capability roles that have quiet windows (confirmed or not yet confirmed teachers).
QUIET_RECIPIENTS = frozenset({"teacher", "teacher_unconfirmed"})
#: Roles whose messages get the office-hours notice (the people quiet hours are about).
NOTICE_SENDERS = frozenset({"student", "parent"})
#: Event types whose sender gets the office-hours notice: what asks for the teacher's attention.
#: Messages and stickers (Client-Server API "Instant Messaging"), encrypted events (their real type
#: is hidden: most are messages), a direct call's invite ("Voice over IP", ``.m.rule.call`` rings),
#: a group call's notification (MSC4075: the unstable names Element Call and Synapse 1.163 use, and
#: the stable ones), a poll's start (MSC3381, both names: ``policies.polls.POLL_START_TYPES``).
#: Everything else a pupil or a parent sends (reactions, edits, poll answers, invites, state) is held
#: back just the same, silently: a notice replying to each reaction would be noise.
NOTICE_TYPES = frozenset({
    "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite",
    "org.matrix.msc4075.rtc.notification", "org.matrix.msc4075.call.notify", "m.rtc.notification",
    "m.call.notify", *POLL_START_TYPES})
#: Room kinds where quiet hours apply: people's chats (direct, group) and the school's rooms where a
#: pupil or a parent can write to a teacher. Not the journal's rooms (the bridge's own posts).
QUIET_ROOM_KINDS = frozenset({"dm", "chat", "class_chat", "class_parents", "class_announcements",
                              "class_materials", "announcements", "school_space", "class_space"})
#: Abbreviated weekday names for the notice (ISO weekday -> English id; Russian in quiet_hours.po).
DAY_NAMES = {1: N_("Mon"), 2: N_("Tue"), 3: N_("Wed"), 4: N_("Thu"), 5: N_("Fri"), 6: N_("Sat"), 7: N_("Sun")}
#: The notice a pupil or a parent gets, once per chat per window.
NOTICE = N_("{name} is off duty now and will not be notified of messages until office hours: {hours}. "
            "Your message has been delivered and will be read then.")
#: The notice in a direct chat (a server notice: the bot is no member there), naming the chat.
DM_NOTICE = N_("{name} is off duty now and will not be notified of your messages in {chat} until office "
               "hours: {hours}. Your message has been delivered and will be read then.")
DM_CHAT = N_("your direct chat with {name}")
ERR_TIME = N_("'{field}' must be a time as HH:MM (00:00 to 23:59)")
ERR_DAYS = N_("'days' must list weekdays as numbers from 1 (Monday) to 7 (Sunday), at least one")
ERR_SAME = N_("'from' and 'to' must differ")


class OfficeHoursError(ValueError):
    """Office hours that cannot be read; ``message`` is an English id (gettext), ``fields`` fill it in."""

    def __init__(self, message: str, **fields: str):
        super().__init__(message.format(**fields))
        self.message, self.fields = message, fields


def _time(value: Any, field: str) -> dt.time:
    try:
        hours, minutes = str(value).split(":")
        if len(hours) not in (1, 2) or len(minutes) != 2:
            raise ValueError(value)
        return dt.time(int(hours), int(minutes))
    except ValueError as e:
        raise OfficeHoursError(ERR_TIME, field=field) from e


@dataclass(frozen=True)
class OfficeHours:
    """When a teacher can be reached: ``days`` (ISO weekdays the period starts on), ``start``-``end``
    on the school's wall clock; ``end <= start`` runs past midnight into the next day."""

    days: frozenset[int]
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, value: Mapping[str, Any] | None) -> OfficeHours | None:
        """``{"days": [1..7], "from": "HH:MM", "to": "HH:MM"}`` -> OfficeHours; None for None or ``{}``.

        Raises :class:`OfficeHoursError` naming the field that is wrong.
        """
        if not value:
            return None
        if not isinstance(value, Mapping):
            raise OfficeHoursError(ERR_DAYS)
        days = value.get("days", [1, 2, 3, 4, 5])
        if (not isinstance(days, list | tuple) or not days
                or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days)):
            raise OfficeHoursError(ERR_DAYS)
        start, end = _time(value.get("from"), "from"), _time(value.get("to"), "to")
        if start == end:
            raise OfficeHoursError(ERR_SAME)
        return cls(frozenset(days), start, end)

    def to_content(self) -> dict[str, Any]:
        """The state content (see the module docstring)."""
        return {"days": sorted(self.days), "from": self.start.strftime("%H:%M"), "to": self.end.strftime("%H:%M")}

    def _periods(self, around: dt.datetime) -> Iterable[tuple[dt.datetime, dt.datetime]]:
        """Office periods (aware start, end) that start within 8 days before ``around``'s local date
        or on the day after, newest first."""
        zone = around.tzinfo
        day = around.date() + dt.timedelta(days=1)
        for back in range(10):
            d = day - dt.timedelta(days=back)
            if d.isoweekday() not in self.days:
                continue
            end_day = d if self.end > self.start else d + dt.timedelta(days=1)
            yield (dt.datetime.combine(d, self.start, zone), dt.datetime.combine(end_day, self.end, zone))

    def window_start(self, now: dt.datetime, zone: str) -> dt.datetime | None:
        """None when ``now`` (an aware instant) is within office hours; else the instant (UTC) the
        quiet window around ``now`` began: the end of the last office period. ``zone`` is an IANA
        name; ZoneInfo's rules give the wall clock on each day (daylight saving included)."""
        local = now.astimezone(ZoneInfo(zone))
        last_end: dt.datetime | None = None
        for start, end in self._periods(local):
            if start <= local < end:
                return None
            if end <= local and (last_end is None or end > last_end):
                last_end = end
        return (last_end or local - dt.timedelta(days=8)).astimezone(dt.UTC)

    def describe(self, language: str) -> str:
        """``Mon-Fri 08:00-20:00`` (days joined in runs; names in ``language``)."""
        gettext = translations(language).gettext
        days = sorted(self.days)
        runs: list[list[int]] = []
        for d in days:
            if runs and runs[-1][-1] == d - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        names = ", ".join(gettext(DAY_NAMES[r[0]]) if len(r) == 1 else
                          f"{gettext(DAY_NAMES[r[0]])}–{gettext(DAY_NAMES[r[-1]])}" for r in runs)
        return f"{names} {self.start.strftime('%H:%M')}–{self.end.strftime('%H:%M')}"


def hours_of(own: Mapping[str, Any] | None, org_settings: Mapping[str, Any] | None) -> OfficeHours | None:
    """A teacher's office hours: their own (the state content) or else the organization's
    ``office_hours`` setting; None: no quiet hours. Unreadable content counts as none (the service
    validates what it writes; a broken setting must not silence anyone)."""
    for value in (own, effective(org_settings).get("office_hours")):
        try:
            hours = OfficeHours.parse(value)
        except OfficeHoursError:
            hours = None
        if hours is not None:
            return hours
    return None


def silences(recipient_role: str | None, sender_role: str | None, room_kind: str | None,
             org_settings: Mapping[str, Any] | None, urgent: bool) -> bool:
    """Whether an event is one quiet hours hold back from this recipient (their window aside), of
    whatever type it is (see the module docstring).

    ``recipient_role``/``sender_role``: capability roles in the room's organization (None: not in
    it); ``room_kind``: the room's ``org.parta.room`` kind; ``urgent``: an urgent message (already
    checked to come from the administration) is never held back.
    """
    if urgent or recipient_role not in QUIET_RECIPIENTS or room_kind not in QUIET_ROOM_KINDS:
        return False
    return sender_held(sender_role, org_settings)


def is_urgent(content: Mapping[str, Any] | None, is_state: bool) -> bool:
    """Whether an event is an urgent message (``org.parta.urgent: true`` in its content).

    Only a non-state event counts: those all pass the module's ``check_event_for_spam``, which
    refuses the mark from anyone without ``send_urgent`` (``_check_urgent``). Synapse never passes
    membership events to it (an invite's content is the inviter's to fill), so a mark on state
    would be anyone's word; urgent messages are messages anyway.
    """
    return not is_state and isinstance(content, Mapping) and content.get(URGENT_KEY) is True


def notice_due(event_type: str, is_state: bool) -> bool:
    """Whether a held-back event earns its sender the office-hours notice (:data:`NOTICE_TYPES`;
    never a state event). Whether it is held back does not depend on this."""
    return not is_state and event_type in NOTICE_TYPES


def sender_held(sender_role: str | None, org_settings: Mapping[str, Any] | None) -> bool:
    """Whether the organization's ``quiet_hours_silence`` lists the sender's capability role
    (``teacher`` covers unconfirmed teachers too)."""
    base = "teacher" if sender_role == "teacher_unconfirmed" else sender_role
    return base is not None and base in (effective(org_settings).get("quiet_hours_silence") or ())


def notice_text(name: str, hours: OfficeHours, language: str) -> str:
    """The office-hours notice in ``language``: the teacher's display name and office hours."""
    return translations(language).gettext(NOTICE).format(name=name, hours=hours.describe(language))


def dm_notice_text(name: str, chat: str | None, hours: OfficeHours, language: str) -> str:
    """The office-hours notice for a direct chat: the teacher, the chat (its name, else "your
    direct chat with ..."), the office hours, in ``language``."""
    t = translations(language)
    where = f"«{chat}»" if chat else t.gettext(DM_CHAT).format(name=name)
    return t.gettext(DM_NOTICE).format(name=name, chat=where, hours=hours.describe(language))


def teacher_orgs(person: Account) -> list[str]:
    """The organizations where ``person`` is a teacher (confirmed or not), sorted."""
    return sorted(o for o, m in person.memberships.items() if m.cap_role in QUIET_RECIPIENTS)


def may_set_office_hours(by: Account | None, target: Account, caps: Capabilities) -> Decision:
    """Who sets a teacher's office hours: the teacher, the administration of one of the teacher's
    organizations (``set_office_hours``), or the operator (``by`` None). Nobody has office hours
    but a teacher."""
    orgs = teacher_orgs(target)
    if not orgs:
        return deny("not_a_teacher", N_("Only teachers have office hours"))
    if by is None or by.user_id == target.user_id:
        return ALLOW
    if any(caps.can(by.memberships.get(o), "set_office_hours") for o in orgs):
        return ALLOW
    return deny("office_hours_not_yours", N_("Only the teacher and the school's administration can change "
                                             "a teacher's office hours"))
