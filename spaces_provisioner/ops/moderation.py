"""Reports reach the school, the administration acts on them, and the audit log is read per organization.

Synapse 1.163 fires no module callback when someone reports something, so the service polls the
Admin API (``GET /_synapse/admin/v1/event_reports`` and ``/user_reports``, newest first, down to the
last report it has seen; a report's details from ``/event_reports/{id}``) every few seconds and on
``POST /api/v1/moderation/sweep``. Polling was chosen over wrapping Synapse's report servlets in the
module: the reports stay in Synapse's own tables whatever happens to the service (a service that was
down catches up on its next sweep), the Admin API is a documented, stable interface, and the module
keeps no state. Room reports (MSC4151) have no Admin API in 1.163 (``room_reports`` is written by
``ReportsHandler.report_room`` and read by nothing): the module serves them to the bot
(``GET /_synapse/client/parta/room_reports``, :mod:`synapse_module.room_reports`) and the sweep reads them there.

Each report goes to the moderation room («Модерация») of the reporter's own schools only
(``policies.moderation.report_schools``) as one ``m.notice`` from the bot: the reported message's
text, its author, the room, the reporter, the reason and the commands to act. The transaction id
is the report's, so a retried sweep posts it once. The report is kept in ``reports`` and audited
(``report.received``, the reporter as actor).

The school's administrator and head (``moderate`` in capabilities.yaml) act through
``POST /api/v1/organizations/{org}/moderation`` or ``parta moderation``: the bot redacts the message,
kicks or bans someone from a room of that school (a people's chat is a school's when everyone in it who
belongs to a school is of that one, ``policies.people_chats.belongs_to``), or removes a person from the school
(``People.remove``); each action is audited (``moderation.<action>``) with the report it answers.
Actions are not taken from the moderation room itself (no reply commands): a typed command in a
room is easy to forge by quoting and hard to confirm, while the API has the person's own token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from mautrix.api import Method

from policies import moderation as policy
from policies.capabilities import Account, RoomInfo, deny
from policies.i18n import N_, _
from policies.model import FullName
from policies.people_chats import belongs_to, is_people_chat
from policies.state_events import PartaEventTypes
from policies.templates import RoomRef

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import account_from_db, chat_members
from spaces_provisioner.errors import Refused, bad_json, check, not_found
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.people import People

log = logging.getLogger("parta.moderation")

ADMIN = "/_synapse/admin/v1"
#: The module's resource with room reports (synapse_module/room_reports.py; the bot only).
ROOM_REPORTS = "/_synapse/client/parta/room_reports"
#: How many audit lines one page holds at most (``limit``).
MAX_PAGE = 500
#: The longest piece of a reported message the notice quotes (characters).
QUOTE_CHARS = 1000


def _q(s: str) -> str:
    return quote(s, safe="")


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).isoformat(timespec="seconds")


def _text_of(event: dict) -> str:
    """What a reported event says: a message's body, a poll's question, else its type."""
    content = event.get("content") or {}
    body = content.get("body")
    if isinstance(body, str) and body:
        return body[:QUOTE_CHARS]
    for key in ("org.matrix.msc1767.text", "m.text"):
        text = content.get(key)
        if isinstance(text, str):
            return text[:QUOTE_CHARS]
        if isinstance(text, list) and text and isinstance(text[0], dict):
            return str(text[0].get("body", ""))[:QUOTE_CHARS]
    return f"[{event.get('type', '?')}]"


def set_origin(address: str | None) -> None:
    """Record ``address`` (the client's) as where the current request comes from, for every audit line it
    writes (:data:`spaces_provisioner.db.schema.audit_origin`; the API sets it for each request)."""
    st.audit_origin.set(address)


class Moderation:
    """Reports delivered to the schools' moderation rooms (``sweep``), the administration's actions
    (``act``) and the per-organization audit log (``audit_entries``)."""

    def __init__(self, ctx: Context, people: People):
        self.ctx = ctx
        self.people = people
        self._sweep_lock = asyncio.Lock()   # not ctx.lock: a long roster import must not hold reports back

    # -- reading the homeserver ------------------------------------------------------------------
    async def _room_state(self, room_id: str) -> dict[tuple[str, str], dict]:
        """The room's state as the Admin API gives it (the bot need not be in the room: a direct chat)."""
        try:
            r = await self.ctx.bot.request(Method.GET, f"{ADMIN}/rooms/{_q(room_id)}/state")
        except MatrixRequestError:
            return {}
        return {(e["type"], str(e.get("state_key", ""))): e.get("content") or {} for e in r.get("state", [])}

    async def _new_reports(self, kind: str) -> list[dict]:
        """Reports of ``kind`` (``event``/``user``/``room``) newer than the last one seen, oldest first."""
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.state.c.value).where(st.state.c.key == f"reports.{kind}.last")).first()
        last = int(row.value) if row else 0
        found: list[dict] = []
        if kind == "room":  # the module's resource (no Admin API for room reports): oldest first after an id
            while True:
                page = (await self.ctx.bot.request(Method.GET, ROOM_REPORTS, query={"after": str(last)}))
                chunk = page.get("room_reports") or []
                found.extend(chunk)
                if len(chunk) < 100:
                    return found
                last = int(chunk[-1]["id"])
        start = 0
        while True:
            page = await self.ctx.bot.request(Method.GET, f"{ADMIN}/{kind}_reports",
                                              query={"from": str(start), "limit": "100", "dir": "b"})
            chunk = page.get(f"{kind}_reports") or []
            fresh = [r for r in chunk if int(r["id"]) > last]
            found.extend(fresh)
            if len(fresh) < len(chunk) or "next_token" not in page:
                break
            start = int(page["next_token"])
        return sorted(found, key=lambda r: int(r["id"]))

    def _names(self, user_ids: set[str]) -> dict[str, str]:
        """user id → the person's name from the service's records (the user id when unknown)."""
        with self.ctx.store.begin() as tx:
            rows = tx.execute(sa.select(st.people).where(st.people.c.user_id.in_(sorted(user_ids)))).all()
        names = {r.user_id: FullName(r.family_name, r.given_name, r.middle_name).display for r in rows}
        return {u: names.get(u, u) for u in user_ids}

    # -- delivering reports ------------------------------------------------------------------------
    async def sweep(self) -> int:
        """Deliver every report not delivered yet; returns how many reports were read."""
        async with self._sweep_lock:
            n = 0
            for kind in policy.REPORT_KINDS:
                try:
                    new = await self._new_reports(kind)
                except MatrixRequestError as e:
                    if kind != "room" or e.http_status != 404:
                        raise
                    log.warning("the homeserver serves no room reports (is Parta's module loaded?): %s", e)
                    continue
                for report in new:
                    await self._deliver(kind, report)
                    with self.ctx.store.begin() as tx:
                        key = f"reports.{kind}.last"
                        tx.execute(st.state.delete().where(st.state.c.key == key))
                        tx.execute(st.state.insert().values(key=key, value=str(report["id"])))
                    n += 1
            return n

    async def sweep_forever(self, every_s: float = 5.0) -> None:
        """Run :meth:`sweep` every ``every_s`` seconds (the service's background task)."""
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - any failure: log it and try again next time
                log.exception("report sweep failed")
            await asyncio.sleep(every_s)

    async def _deliver(self, kind: str, report: dict) -> None:
        report_id = f"{kind}:{report['id']}"
        reporter = str(report.get("user_id") or "")
        reason = str(report.get("reason") or "")
        room_id: str | None = None
        event_id: str | None = None
        content: str | None = None
        if kind == "event":
            detail = await self.ctx.bot.request(Method.GET, f"{ADMIN}/event_reports/{report['id']}")
            event = detail.get("event_json") or {}
            room_id, event_id = str(detail.get("room_id") or ""), str(detail.get("event_id") or "")
            target = str(event.get("sender") or detail.get("sender") or "")
            content = _text_of(event)
        elif kind == "room":
            room_id, target = str(report.get("room_id") or ""), ""
        else:
            target = str(report.get("target_user_id") or "")
        state = await self._room_state(room_id) if room_id else {}
        room = RoomInfo.from_state(state.get((PartaEventTypes.ROOM, "")))
        with self.ctx.store.begin() as tx:
            who = account_from_db(tx, reporter)
            reported = account_from_db(tx, target) if target else Account(target)
        orgs = sorted(policy.report_schools(who, room, reported.memberships))
        names = self._names({u for u in (reporter, target) if u})
        room_name = str(state.get(("m.room.name", ""), {}).get("name") or room_id or "")
        for org in orgs or [""]:
            notice = await self._post(org, report_id, kind, names, reporter, target, room_name, room_id,
                                      content, reason) if org else None
            with self.ctx.store.begin() as tx:
                if tx.execute(sa.select(st.reports.c.id).where(st.reports.c.id == report_id,
                                                               st.reports.c.org_id == org)).first() is None:
                    tx.execute(st.reports.insert().values(
                        id=report_id, org_id=org, kind=kind, reporter=reporter, room_id=room_id, event_id=event_id,
                        target_user=target or None, reason=reason, content=content,
                        received_ts=int(report.get("received_ts") or st.now_ms()), notice_event_id=notice))
                    st.audit(tx, reporter, "report.received", **({"org": org} if org else {}), report=report_id,
                             room=room_id, event=event_id, user=target or None)

    async def moderation_room(self, org: str) -> str:
        """The organization's moderation room id (made by a reconcile when the organization predates it)."""
        key = RoomRef(org, "moderation").key
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.rooms.c.room_id).where(st.rooms.c.key == key)).first()
        if row is None:
            async with self.ctx.lock:
                _changes, ids = await self.ctx.reconciler().reconcile(org)
            return ids[key]
        return str(row.room_id)

    async def _post(self, org: str, report_id: str, kind: str, names: dict[str, str], reporter: str, target: str,
                    room_name: str, room_id: str | None, content: str | None, reason: str) -> str:
        """The report's notice in ``org``'s moderation room (in the installation's language); its event id."""
        lang = self.ctx.settings.language
        title = {"event": N_("Report {id}: a message"), "room": N_("Report {id}: a room")}.get(
            kind, N_("Report {id}: a person"))
        lines = [_(title, lang).format(id=report_id),
                 _(N_("Reported by: {name} ({user})"), lang).format(name=names[reporter], user=reporter)]
        if room_id:
            lines.append(_(N_("Room: {name} ({room})"), lang).format(name=room_name, room=room_id))
        if target:
            label = N_("Author: {name} ({user})") if kind == "event" else N_("Reported person: {name} ({user})")
            lines.append(_(label, lang).format(name=names[target], user=target))
        if content is not None:
            lines.append(_(N_("Message: «{text}»"), lang).format(text=content))
        lines.append(_(N_("Reason: {reason}"), lang).format(reason=reason or "—"))
        lines.append(_(N_("To act: parta moderation redact|kick|ban|remove --org {org} --report {id} (or POST "
                          "/api/v1/organizations/{org}/moderation); every action is recorded in the audit log"),
                       lang).format(org=org, id=report_id))
        room = await self.moderation_room(org)
        r = await self.ctx.bot.request(
            Method.PUT, f"/_matrix/client/v3/rooms/{_q(room)}/send/m.room.message/{_q('parta-' + report_id)}",
            {"msgtype": "m.notice", "body": "\n".join(lines), "org.parta.report": {
                "id": report_id, "kind": kind, "reporter": reporter, "room_id": room_id, "user_id": target or None}})
        return str(r["event_id"])

    def reports_of(self, org: str, by: Account | None, limit: int = 50) -> dict:
        """The reports delivered to ``org``, newest first: ``{"reports": [{"id", "kind", "reporter",
        "room_id", "event_id", "user_id", "reason", "content", "received", "notice_event_id"}]}``."""
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org)
            check(policy.may_moderate(self.ctx.caps, by, org))
            rows = tx.execute(sa.select(st.reports).where(st.reports.c.org_id == org)
                              .order_by(st.reports.c.received_ts.desc()).limit(max(1, min(limit, MAX_PAGE)))).all()
        return {"reports": [{"id": r.id, "kind": r.kind, "reporter": r.reporter, "room_id": r.room_id,
                             "event_id": r.event_id, "user_id": r.target_user, "reason": r.reason,
                             "content": r.content, "received": _iso(r.received_ts),
                             "notice_event_id": r.notice_event_id} for r in rows]}

    # -- acting --------------------------------------------------------------------------------------
    async def act(self, org: str, action: str, actor: str, by: Account | None, *, report: str | None = None,
                  room_id: str | None = None, event_id: str | None = None, user_id: str | None = None,
                  reason: str | None = None) -> dict:
        """Act on a report (or on a room, event and person named directly) in ``org``.

        ``action``: ``redact`` (the event), ``kick`` or ``ban`` (``user_id`` from the room), ``remove``
        (``user_id`` from the school). A ``report`` delivered to ``org`` supplies the room, the event and
        the person (the event's author or the reported user). Returns ``{"action", "room_id", "event_id",
        "user_id", "report", "done": true}``. Raises 403 ``M_FORBIDDEN`` (``may_not_moderate``; a room of
        another school: ``room_not_of_organization``), 404 (unknown report or person), 400 (missing
        field), 502 when the homeserver refuses.
        """
        if action not in policy.ACTIONS:
            raise bad_json(_("'action' must be one of: {actions}").format(actions=", ".join(policy.ACTIONS)))
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org)
            check(policy.may_moderate(self.ctx.caps, by, org))
            if report is not None:
                row = tx.execute(sa.select(st.reports).where(st.reports.c.id == report,
                                                             st.reports.c.org_id == org)).first()
                if row is None:
                    raise not_found(_("Organization {org} has no report {id}").format(org=org, id=report))
                room_id = room_id or row.room_id
                event_id = event_id or row.event_id
                user_id = user_id or row.target_user
        reason = reason or ""
        if action == "remove":
            if not user_id:
                raise bad_json(_("Name the person: 'user_id' or a report about them"))
            person = self.people.find(org, user_id)
            await self.people.remove(org, person, actor, by=by)
        else:
            if not room_id or (action == "redact" and not event_id) or (action != "redact" and not user_id):
                raise bad_json(_("Name the room and the message ('room_id', 'event_id') or the person ('user_id'), "
                                 "or give a report"))
            state = await self._room_state(room_id)
            tag = RoomInfo.from_state(state.get((PartaEventTypes.ROOM, "")))
            with self.ctx.store.begin() as tx:  # a people's chat is its people's schools', not its tag's
                members = chat_members(tx, state, skip=(self.ctx.bot.user_id,)) if is_people_chat(tag) else []
            if tag is None or not belongs_to(tag, members, org):
                raise Refused(deny("room_not_of_organization", N_(
                    "This room is not a room of {org}; its administration acts only in its own rooms"), org=org))
            if action != "redact" and tag.orgs:
                with self.ctx.store.begin() as tx:
                    target = account_from_db(tx, str(user_id))
                check(policy.may_remove_from_shared_room(target, org, tag.orgs))
            if action == "redact" and tag.orgs:
                author = await self._author(room_id, str(event_id))
                with self.ctx.store.begin() as tx:
                    target = account_from_db(tx, author)
                check(policy.may_redact_in_shared_room(target, org, tag.orgs))
            bot = self.ctx.bot
            if action == "redact":
                path = f"/_matrix/client/v3/rooms/{_q(room_id)}/redact/{_q(str(event_id))}/parta-{st.now_ms()}"
                await bot.request(Method.PUT, path, {"reason": reason} if reason else {})
            elif action == "kick":
                await bot.kick(room_id, str(user_id), reason)
            else:
                await bot.request(Method.POST, f"/_matrix/client/v3/rooms/{_q(room_id)}/ban",
                                  {"user_id": user_id, "reason": reason})
        with self.ctx.store.begin() as tx:
            st.audit(tx, actor, f"moderation.{action}", org=org, report=report, room=room_id,
                     event=event_id if action == "redact" else None, user=user_id if action != "redact" else None,
                     reason=reason or None)
        await self._tell_moderators(org, action, actor, report, user_id)
        return {"action": action, "room_id": room_id, "event_id": event_id, "user_id": user_id, "report": report,
                "done": True}

    async def _author(self, room_id: str, event_id: str) -> str:
        """The sender of ``event_id`` in ``room_id``, read as the bot (``GET /rooms/{room}/event/{event}``,
        Client-Server API "Getting events for a room"); raises 404 when the room has no such event."""
        try:
            event = await self.ctx.bot.request(
                Method.GET, f"/_matrix/client/v3/rooms/{_q(room_id)}/event/{_q(event_id)}")
        except MatrixRequestError as e:
            if e.http_status == 404:
                raise not_found(_("The room has no message {id}").format(id=event_id)) from e
            raise
        return str(event.get("sender") or "")

    async def _tell_moderators(self, org: str, action: str, actor: str, report: str | None,
                               user_id: str | None) -> None:
        """One line in the moderation room saying what was done (the head sees the administrator's action);
        a failure here is logged, never undoes the action (the audit log has it)."""
        lang = self.ctx.settings.language
        done = {"redact": N_("the message was removed"), "kick": N_("{user} was taken out of the room"),
                "ban": N_("{user} was banned from the room"), "remove": N_("{user} was removed from the school")}
        who = self._names({actor})[actor] if actor.startswith("@") else actor
        text = _(N_("{who}: {what} (report {report})"), lang).format(
            who=who, what=_(done[action], lang).format(user=user_id or ""), report=report or "—")
        try:
            room = await self.moderation_room(org)
            await self.ctx.bot.request(
                Method.PUT, f"/_matrix/client/v3/rooms/{_q(room)}/send/m.room.message/parta-action-{st.now_ms()}",
                {"msgtype": "m.notice", "body": text})
        except MatrixRequestError:
            log.exception("could not tell %s's moderation room about %s", org, action)

    # -- the audit log -------------------------------------------------------------------------------
    def audit_entries(self, org: str, by: Account | None, *, actor: str | None = None, action: str | None = None,
                      since: int | None = None, until: int | None = None, before: int | None = None,
                      limit: int = 100) -> dict:
        """``org``'s audit log, newest first, for the operator (``by`` None) and its administration.

        Filters: ``actor`` (a user id, ``operator``...), ``action`` (exact, or a prefix ending in ``.``:
        ``moderation.``), ``since``/``until`` (milliseconds, inclusive), ``before`` (an entry id: the next
        page). Returns ``{"entries": [{"id", "ts", "time", "actor", "action", "origin", "detail"}],
        "next": id | None}``. Raises 403 ``may_not_read_audit``, 404 for an unknown organization.
        """
        limit = max(1, min(limit, MAX_PAGE))
        a = st.audit_log.c
        with self.ctx.store.begin() as tx:
            self.ctx.org_row(tx, org)
            check(policy.may_read_audit(self.ctx.caps, by, org))
            q = sa.select(st.audit_log).where(a.org_id == org)
            if actor:
                q = q.where(a.actor == actor)
            if action:
                q = q.where(a.action.startswith(action, autoescape=True) if action.endswith(".")
                            else a.action == action)
            if since is not None:
                q = q.where(a.ts >= since)
            if until is not None:
                q = q.where(a.ts <= until)
            if before is not None:
                q = q.where(a.id < before)
            rows = tx.execute(q.order_by(a.id.desc()).limit(limit + 1)).all()
        entries: list[dict[str, Any]] = [
            {"id": r.id, "ts": r.ts, "time": _iso(r.ts), "actor": r.actor, "action": r.action, "origin": r.origin,
             "detail": json.loads(r.detail)} for r in rows[:limit]]
        return {"entries": entries, "next": entries[-1]["id"] if len(rows) > limit else None}
