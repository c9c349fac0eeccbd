"""Scheduled messages: a teacher's or the administration's message sent later, in their own name.

Built on MSC4140 delayed events (``parta init`` turns them on: ``max_event_delay_duration: 24h`` in
``homeserver.yaml``, ``install/matrix_rtc.py``). Every call is made with the person's own Matrix
access token (:class:`~spaces_provisioner.homeserver.delayed.PersonClient`), never the bot's: the
homeserver stores the delayed event as theirs and, when its time comes, sends it with a requester
built for them, so the event is really theirs and Synapse's event auth and Parta's module judge it
like any message they send then.

Synapse checks nothing but the event's shape and the delay when a delayed event is scheduled
(``handlers/delayed_events.py`` ``add``); a refusal at sending time is only logged there and the
message silently never arrives. So the service asks the same questions before it schedules, and
refuses with Parta's reason: is the person in the room, is their power level enough to post
(``m.room.power_levels``; in room version 12 the room's creators have unlimited power), and may
they post there by Parta's rules (``Capabilities.may_post``: read-only announcement and materials
rooms). The rules are asked again when the message is sent (a teacher who lost the role by then
posts nothing).

Owners only: the list is the homeserver's list of the caller's own delayed events (message events
only: Element Call's delayed leaves are state events), and a cancellation first reads the delayed
event with the caller's token (the homeserver answers 404 for anyone else's). Synapse's own cancel
endpoint checks no owner (the delay id is the capability), so the service never shows a delay id to
anyone but its owner, nor writes it into the audit log (a digest stands for it there).

Scheduling and cancelling an announcement (a school room with posting rules) is audited:
``announcement.schedule`` / ``announcement.cancel`` with the organization, room, kind, send time and
the delay id's digest.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from policies import org_settings
from policies.capabilities import Account, RoomInfo, deny
from policies.i18n import N_, _
from policies.state_events import PartaEventTypes

from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json, check
from spaces_provisioner.homeserver.delayed import HomeserverRefused, PersonClient
from spaces_provisioner.ops.context import Context

#: The longest message text (characters).
MAX_BODY = 20000
#: ``send_at`` as a time of day alone ("08:00"): its next occurrence in the school's time zone.
_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
#: Seconds past any delay a homeserver allows (about 115 days): a later time is asked as this, and refused as too far.
BEYOND = 10**7
_MAX_MS = re.compile(r"maximum \((\d+)ms\)")

NEEDS_PERSON = N_("A scheduled message is sent in your own name: use your own Matrix access token, not the "
                  "operator token")
NOT_MEMBER = N_("You are not in room {room}: you can schedule messages only in rooms you are in")
NO_POWER = N_("You cannot post in this room (your power level is {level}, posting needs {needed}), so a message "
              "scheduled here would never be sent")
NEVER_SENT = N_("A message scheduled here would never be sent: {why}")
NOT_FOUND = N_("You have no scheduled message {id}: it has been sent or cancelled, or it is not yours")


def digest(delay_id: str) -> str:
    """What the audit log records for a delay id (which cancels the message for whoever holds it):
    its SHA-256's first 16 hex digits."""
    return hashlib.sha256(delay_id.encode()).hexdigest()[:16]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(str(org_settings.defaults()["timezone"]))


def send_time(send_at: object, delay_seconds: object, zone: ZoneInfo, now: datetime) -> datetime:
    """When to send, as an aware UTC datetime, from exactly one of

    - ``send_at``: ISO 8601 (``2026-12-08T08:00:00+03:00``; without an offset: in ``zone``, the
      school's time zone) or a time of day alone (``08:00``: its next occurrence in ``zone``);
    - ``delay_seconds``: a whole number of seconds from ``now`` (at least 1).

    Raises 400 ``M_BAD_JSON`` for neither, both, a wrong shape or a time not in the future. A time
    beyond :data:`BEYOND` seconds may come back as ``now + BEYOND`` (the homeserver refuses both).
    """
    if (send_at is None) == (delay_seconds is None):
        raise bad_json(_("Give either 'send_at' (a date and time, or a time of day like 08:00) or 'delay_seconds'"))
    if delay_seconds is not None:
        if not isinstance(delay_seconds, int) or isinstance(delay_seconds, bool) or delay_seconds < 1:
            raise bad_json(_("'delay_seconds' must be a whole number of seconds, at least 1"))
        return now + timedelta(seconds=min(delay_seconds, BEYOND))
    if not isinstance(send_at, str):
        raise bad_json(_("'send_at' must be a date and time (ISO 8601) or a time of day like 08:00"))
    local_now = now.astimezone(zone)
    m = _TIME_OF_DAY.match(send_at.strip())
    if m:
        at = local_now.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        if at <= local_now:
            at = (local_now + timedelta(days=1)).replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        return at.astimezone(UTC)
    try:
        at = datetime.fromisoformat(send_at.strip())
    except ValueError:
        raise bad_json(_("'send_at' must be a date and time (ISO 8601) or a time of day like 08:00")) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    try:
        at = at.astimezone(UTC)
    except OverflowError:  # the year 9999 west of UTC: beyond any delay the homeserver allows
        return now + timedelta(seconds=BEYOND)
    if at <= now:
        raise bad_json(_("'send_at' ({at}) has passed: choose a time in the future").format(at=send_at))
    return at


class Scheduled:
    """Scheduled messages of the person whose token is given (``schedule``, ``list``, ``cancel``)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def _client(self, token: str) -> PersonClient:
        return PersonClient(self.ctx.settings.homeserver_url, token)

    @staticmethod
    def _require_person(by: Account | None) -> Account:
        if by is None:
            check(deny("scheduled_needs_person", NEEDS_PERSON))
        assert by is not None
        return by

    async def _may_post(self, hs: PersonClient, by: Account, room_id: str) -> RoomInfo | None:
        """Refuse unless ``by`` may post a message in ``room_id`` now; the room's Parta tag (None: not Parta's)."""
        try:
            members = await hs.joined_members(room_id)
        except HomeserverRefused:  # 403 not in the room, 404 or 400 no such room
            members = {}
        if by.user_id not in members:
            check(deny("scheduled_not_member", NOT_MEMBER, room=room_id))
        # Parta's rules first: their reason says more than a power level
        room = RoomInfo.from_state(await hs.state_event(room_id, PartaEventTypes.ROOM))
        if room is not None and room.org:
            with self.ctx.store.begin() as tx:
                settings = self.ctx.org_settings(tx, room.org)
            decision = self.ctx.caps.may_post(by, room, "m.room.message", settings, {"msgtype": "m.text", "body": "."})
            if not decision:  # the module's own reason, said of a message that would never be sent
                check(deny(decision.reason, NEVER_SENT, why=decision))
        pl = await hs.state_event(room_id, "m.room.power_levels") or {}
        creators = await self._creators(hs, room_id)
        if by.user_id not in creators:
            level = int((pl.get("users") or {}).get(by.user_id, pl.get("users_default", 0)))
            needed = int((pl.get("events") or {}).get("m.room.message", pl.get("events_default", 0)))
            if level < needed:
                check(deny("scheduled_no_power", NO_POWER, level=level, needed=needed))
        return room

    @staticmethod
    async def _creators(hs: PersonClient, room_id: str) -> set[str]:
        """Who has unlimited power in the room: in room version 12 (MSC4289) the creator and the
        ``additional_creators``; nobody in older versions."""
        try:
            ev = await hs.create_event(room_id)
        except HomeserverRefused:
            return set()
        content = ev.get("content") or {}
        if str(content.get("room_version", "1")) not in ("12", "org.matrix.hydra.11"):
            return set()
        return {str(ev.get("sender") or ""), *(str(u) for u in content.get("additional_creators") or ())}

    def _announcement(self, room: RoomInfo | None) -> bool:
        if room is None or not room.org:
            return False
        t = self.ctx.templates.kinds.get(room.kind)
        return t is not None and t.posting is not None

    def _zone_of(self, room: RoomInfo | None) -> ZoneInfo:
        if room is None or not room.org:
            return _zone(org_settings.defaults()["timezone"])
        with self.ctx.store.begin() as tx:
            return _zone(self.ctx.org_settings(tx, room.org).get("timezone"))

    async def schedule(self, token: str, by: Account | None, body: dict[str, Any]) -> dict:
        """Schedule a text message from the request ``body``::

            {"room_id": "!room:server", "body": "text", "formatted_body"?: "HTML",
             "send_at"?: "ISO 8601 | HH:MM", "delay_seconds"?: int}

        as ``by`` (``token``: their access token). Returns ``{"id", "room_id", "send_at" (ISO UTC),
        "send_at_local" (ISO in the school's zone), "delay_ms"}``. Raises 403 ``M_FORBIDDEN`` with
        reason ``scheduled_needs_person`` (the operator), ``scheduled_not_member``, ``scheduled_no_power``,
        or the posting rules' own (``announcements_read_only``); 400 ``M_BAD_JSON`` for the body or a
        time not in the future; 400 ``M_INVALID_PARAM`` (``scheduled_too_far``) beyond the homeserver's
        longest delay.
        """
        person = self._require_person(by)
        room_id, text, html = body.get("room_id"), body.get("body"), body.get("formatted_body")
        if not isinstance(room_id, str) or not room_id.startswith("!"):
            raise bad_json(_("'room_id' must be a room id (!...:server)"))
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_BODY:
            raise bad_json(_("'body' must be the message's text (1 to {n} characters)").format(n=MAX_BODY))
        if html is not None and (not isinstance(html, str) or len(html) > 2 * MAX_BODY):
            raise bad_json(_("'formatted_body' must be the message as HTML"))
        hs = self._client(token)
        room = await self._may_post(hs, person, room_id)
        zone = self._zone_of(room)
        now = datetime.now(UTC)
        at = send_time(body.get("send_at"), body.get("delay_seconds"), zone, now)
        delay_ms = max(1, int((at - now).total_seconds() * 1000))
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if html is not None:
            content.update(format="org.matrix.custom.html", formatted_body=html)
        try:
            delay_id = await hs.send_delayed(room_id, "m.room.message", content, delay_ms)
        except HomeserverRefused as e:
            if e.errcode.endswith("DELAY_TOO_LARGE"):  # ORG.MATRIX.MSC4140_DELAY_TOO_LARGE; M_ once stable
                m = _MAX_MS.search(e.error)
                hours = int(m[1]) // 3_600_000 if m else 24
                raise ProvisioningError(400, Errcode.INVALID_PARAM, _(
                    "A message can be scheduled at most {hours} hours ahead").format(hours=hours),
                    reason="scheduled_too_far") from None
            raise ProvisioningError(403 if e.status == 403 else 400, Errcode.HOMESERVER_REFUSED, _(
                "The homeserver refused to schedule the message: {error}").format(error=e.error or e.errcode)) from None
        send_ms = int(at.timestamp() * 1000)
        if self._announcement(room):
            assert room is not None
            with self.ctx.store.begin() as tx:
                st.audit(tx, person.user_id, "announcement.schedule", org=room.org, room=room_id, kind=room.kind,
                         send_at=_iso(send_ms), ref=digest(delay_id))
        return {"id": delay_id, "room_id": room_id, "send_at": _iso(send_ms),
                "send_at_local": at.astimezone(zone).isoformat(timespec="seconds"), "delay_ms": delay_ms}

    async def list(self, token: str, by: Account | None) -> dict:
        """The caller's pending scheduled messages, soonest first::

            {"scheduled": [{"id", "room_id", "room_name", "body", "send_at" (ISO UTC), "scheduled_at" (ISO UTC)}]}

        Only message events (not state: a call's delayed leave is not a message)."""
        self._require_person(by)
        hs = self._client(token)
        names: dict[str, str] = {}
        out = []
        for d in await hs.delayed_events():
            if "state_key" in d:
                continue
            room_id = str(d.get("room_id"))
            if room_id not in names:
                try:
                    names[room_id] = str((await hs.state_event(room_id, "m.room.name") or {}).get("name") or "")
                except HomeserverRefused:
                    names[room_id] = ""
            since = int(d.get("delayed_since_ts", d.get("running_since", 0)))
            delay = int(d.get("delay_ms", d.get("delay", 0)))
            content = d.get("content") or {}
            out.append({"id": d["delay_id"], "room_id": room_id, "room_name": names[room_id], "type": d.get("type"),
                        "body": content.get("body", "") if isinstance(content, dict) else "",
                        "send_at": _iso(since + delay), "scheduled_at": _iso(since)})
        return {"scheduled": out}

    async def cancel(self, token: str, by: Account | None, delay_id: str) -> dict:
        """Cancel the caller's own scheduled message ``delay_id``; ``{}``. 404 ``M_NOT_FOUND``
        (``scheduled_not_found``) when it is not theirs, was sent or was cancelled: the service never
        cancels by a delay id alone."""
        person = self._require_person(by)
        hs = self._client(token)
        mine = await hs.delayed_event(delay_id)
        if mine is None or "state_key" in mine:
            check(deny("scheduled_not_found", NOT_FOUND, id=delay_id), 404)
        assert mine is not None
        try:
            await hs.cancel_delayed(delay_id)
        except HomeserverRefused as e:
            if e.status == 404:  # sent or cancelled meanwhile
                check(deny("scheduled_not_found", NOT_FOUND, id=delay_id), 404)
            raise
        room_id = str(mine.get("room_id"))
        try:
            room = RoomInfo.from_state(await hs.state_event(room_id, PartaEventTypes.ROOM))
        except HomeserverRefused:
            room = None
        if self._announcement(room):
            assert room is not None
            since = int(mine.get("delayed_since_ts", 0))
            with self.ctx.store.begin() as tx:
                st.audit(tx, person.user_id, "announcement.cancel", org=room.org, room=room_id, kind=room.kind,
                         send_at=_iso(since + int(mine.get("delay_ms", 0))), ref=digest(delay_id))
        return {}
