"""Retention per school year (``parta retention run``, ``POST /organizations/{org}/retention``): the messages
and files of last years' archived class rooms are purged once the organization's rule says so.

``parta year rollover`` archives a year's class rooms (kind ``archive``, the year in their tag and in
their database key ``archive/<year>/<key>``); :class:`policies.retention.RetentionRules` says when each
year's archive goes (``retention_archived_months`` after ``school_year_end``). For each room that is due
and not yet purged, in this order (each step safe to repeat after an interruption):

1. the files its events refer to are listed (Synapse's index, Admin API ``/room/{id}/media``) while the
   events still exist;
2. the bot writes ``org.parta.retention`` state into the room (what was purged, by which rule): the
   room's newest event, so that Synapse's purge, which keeps the last event before its timestamp, leaves
   no message behind;
3. the history is purged (Admin API ``purge_history``, ``delete_local_events``; state stays: the room,
   its name, members and power levels);
4. its local files are deleted (Admin API ``DELETE /media/{server}/{id}``);
5. the bot posts a notice that the year's history was removed by the school's rule, and the room is
   marked purged (``state`` row ``retention/<room id>``) and audited (``retention.purge``).

People's own chats (kinds ``dm`` and ``chat``: direct chats and the group chats people create) are a school's
when everyone who has been in them and belongs to a school is of that school (``policies.people_chats.chat_orgs``,
whatever organization the tag names: a pupil of A's chat with her mother who teaches in B is A's, and B's rule
never purges it). A chat of several schools (two colleagues of both) follows each one's rule, so the shortest
wins: a retention rule only ever removes, and every person in the chat is of each of those schools. They
follow ``retention_direct_chats_months``: their messages
older than that many months are purged (``purge_up_to_event_id``: the oldest message kept; Synapse keeps that
event and every later one), with the local files only those messages carried, and the chat goes on. The bot is
no member of a direct chat and needs none: the Admin API lists the server's rooms and reads their tags. When
nobody has written since the cut-off, Synapse keeps the chat's newest message (the last event before the
timestamp) until the next one.

A dry run does none of it and lists the rooms that would go, with their message and file counts.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import sqlalchemy as sa

from policies import people_chats
from policies.capabilities import RoomInfo
from policies.i18n import N_, _, gettext_
from policies.retention import RetentionRules
from policies.state_events import PartaEventTypes

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import chat_members
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.homeserver import history
from spaces_provisioner.ops.context import Context

#: An archived room's database key: ``archive/2025/26/<the room's old key>``.
ARCHIVED_KEY = re.compile(r"^archive/(\d{4}/\d{2})/(.+)$")
#: What members see in an archived room once its messages are gone (the installation's language).
PURGED_NOTICE = N_("The messages and files of the school year {year} were removed by the school's retention "
                   "rule ({months} months after the year ended).")


def _marker(room_id: str) -> str:
    return f"retention/{room_id}"


class Retention:
    """Retention of one organization's archived class rooms (:meth:`run`)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def run(self, org_id: str, actor: str, dry_run: bool = False,
                  today: datetime.date | None = None) -> dict:
        """Purge (or, ``dry_run``, list) ``org_id``'s archived class rooms whose retention has run out on
        ``today`` (default: today, UTC).

        Returns ``{"org", "dry_run", "today" (ISO date), "archived_months" (int | null), "school_year_end"
        ("MM-DD"), "due": [room], "kept": [room], "purged": int, "messages": int, "media": int}`` where a
        room is ``{"room_id", "key", "name", "year", "purge_after" (ISO date | null), "kind", "messages",
        "media"}`` (``messages``: the messages and other non-state events that go; ``media``: its local
        files) and ``purged`` counts the rooms purged now. ``due`` lists rooms that go (or went, in this
        run); ``kept`` those whose time has not come. People's own chats: ``"direct_chats_months"`` (int |
        null), ``"chats": [{"room_id", "kind" ("dm" | "chat"), "before" (ISO datetime: the cut-off),
        "messages", "media"}]`` (chats with messages older than the cut-off; ``messages`` and ``media`` count
        them in the totals too). Raises 404 ``M_NOT_FOUND`` for an unknown
        organization, 400 ``M_INVALID_PARAM`` for malformed retention settings, and what the homeserver
        answers (``PARTA_HOMESERVER_REFUSED``) when a purge fails.
        """
        today = today or datetime.datetime.now(datetime.UTC).date()
        async with self.ctx.lock:
            with self.ctx.store.begin() as tx:
                self.ctx.org_row(tx, org_id)
                settings = self.ctx.org_settings(tx, org_id)
                archived = [(r.key, r.room_id) for r in tx.execute(sa.select(st.rooms).where(
                    st.rooms.c.org_id == org_id, st.rooms.c.key.like("archive/%")).order_by(st.rooms.c.key))]
                done = {r.key for r in tx.execute(sa.select(st.state.c.key).where(
                    st.state.c.key.in_([_marker(room_id) for _k, room_id in archived])))} if archived else set()
            try:
                rules = RetentionRules.from_settings(settings)
            except ValueError as e:
                raise ProvisioningError(400, Errcode.INVALID_PARAM, _(
                    "The organization's retention settings are wrong: {problem}").format(problem=e)) from e
            answer: dict[str, Any] = {
                "org": org_id, "dry_run": dry_run, "today": today.isoformat(),
                "archived_months": rules.archived_months, "school_year_end": "{:02d}-{:02d}".format(*rules.year_end),
                "due": [], "kept": [], "purged": 0, "messages": 0, "media": 0}
            for key, room_id in archived:
                if _marker(room_id) in done:
                    continue  # purged before: the archive is read-only, nothing new arrived since
                room = await self._describe(key, room_id, rules)
                if room is None:
                    continue
                if not rules.is_due(room["year"], today):
                    answer["kept"].append(room)
                    continue
                answer["due"].append(room)
                answer["messages"] += room["messages"]
                answer["media"] += room["media"]
                if not dry_run:
                    await self._purge(org_id, room, rules, actor)
                    answer["purged"] += 1
        # people's chats are the homeserver's alone (no row of the service moves them), and reading every
        # room of a large server takes a while: registrations must not wait for it behind the lock
        answer["direct_chats_months"] = rules.direct_months
        answer["chats"] = await self._people_chats(org_id, rules, actor, dry_run)
        for chat in answer["chats"]:
            answer["messages"] += chat["messages"]
            answer["media"] += chat["media"]
        if dry_run and (answer["due"] or answer["chats"]):
            with self.ctx.store.begin() as tx:
                st.audit(tx, actor, "retention.dry_run", org=org_id,
                         rooms=[r["room_id"] for r in answer["due"] + answer["chats"]])
        return answer

    async def _describe(self, key: str, room_id: str, rules: RetentionRules) -> dict | None:
        """What an archived room is and what a purge would take from it; None when the homeserver has no
        such room any more (deleted by hand) or its year cannot be read."""
        state = await self.ctx.bot.room_state_or_none(room_id)
        if state is None:
            return None
        tag = state.get((PartaEventTypes.ROOM, "")) or {}
        m = ARCHIVED_KEY.match(key)
        year = tag.get("year") if isinstance(tag.get("year"), str) else (m.group(1) if m else None)
        try:
            after = rules.purge_after(year) if year else None
        except ValueError:
            return None
        if year is None:
            return None
        events = await history.all_events(self.ctx.bot, room_id)
        local, _remote = await history.room_media(self.ctx.bot, room_id)
        return {"room_id": room_id, "key": key, "name": (state.get(("m.room.name", "")) or {}).get("name") or key,
                "year": year, "purge_after": after.isoformat() if after else None,
                "kind": tag.get("archived_kind") or tag.get("kind"),
                "messages": sum(1 for e in events if "state_key" not in e), "media": len(local)}

    async def _purge(self, org_id: str, room: dict, rules: RetentionRules, actor: str) -> None:
        """Steps 1-5 of the module's docstring for one room."""
        bot, room_id = self.ctx.bot, room["room_id"]
        local, _remote = await history.room_media(bot, room_id)
        up_to = st.now_ms()
        await bot.send_state(room_id, PartaEventTypes.RETENTION, "", {
            "year": room["year"], "purged_before": up_to, "archived_months": rules.archived_months})
        # the marker is the newest event; Synapse keeps the last event before the timestamp, so count
        # from just after it
        await history.purge_history(bot, room_id, st.now_ms() + 1)
        deleted = 0
        for mxc in local:
            if mxc.startswith(f"mxc://{self.ctx.settings.server_name}/"):
                deleted += await history.delete_media(bot, mxc)
        notice = gettext_(PURGED_NOTICE, self.ctx.settings.language).format(
            year=room["year"], months=rules.archived_months)
        await history.send_notice(bot, room_id, notice)
        with self.ctx.store.begin() as tx:
            tx.execute(st.state.delete().where(st.state.c.key == _marker(room_id)))
            tx.execute(st.state.insert().values(key=_marker(room_id), value=str(up_to)))
            st.audit(tx, actor, "retention.purge", org=org_id, room=room_id, year=room["year"],
                     messages=room["messages"], media=deleted)


    async def _people_chats(self, org_id: str, rules: RetentionRules, actor: str, dry_run: bool) -> list[dict]:
        """People's own chats of ``org_id`` with messages older than the rule's cut-off, purged unless
        ``dry_run`` (see the module's docstring)."""
        cutoff = rules.direct_cutoff(datetime.datetime.now(datetime.UTC))
        if cutoff is None:
            return []
        cut_ms = int(cutoff.timestamp() * 1000)
        bot, out = self.ctx.bot, []
        local_prefix = f"mxc://{self.ctx.settings.server_name}/"
        for listed in await history.list_rooms(bot):
            if listed.get("creator") == bot.user_id:
                continue  # the school's own rooms: the bot creates them, people's chats are made by people
            room_id = listed["room_id"]
            state = {(e.get("type"), e.get("state_key")): e.get("content") or {}
                     for e in await bot.room_events_as_admin(room_id)}
            info = RoomInfo.from_state(state.get((PartaEventTypes.ROOM, "")))
            if info is None or not people_chats.is_people_chat(info):
                continue
            with self.ctx.store.begin() as tx:  # the chat's schools are its people's, not its tag's
                members = chat_members(tx, state, skip=(bot.user_id,))
            if not people_chats.belongs_to(info, members, org_id):
                continue
            events = await history.all_events(bot, room_id)
            first_kept = next((i for i, e in enumerate(events) if (e.get("origin_server_ts") or 0) >= cut_ms), None)
            # Synapse keeps the event it purges up to; without a newer one, the last event before the time
            older = events[:first_kept] if first_kept is not None else events[:-1]
            kept = events[len(older):]
            going = [e for e in older if "state_key" not in e]
            if not going:
                continue
            media = sorted({u for e in going for u in history.event_media(e) if u.startswith(local_prefix)}
                           - {u for e in kept for u in history.event_media(e)})
            chat = {"room_id": room_id, "kind": info.kind, "before": cutoff.isoformat(timespec="seconds"),
                    "messages": len(going), "media": len(media)}
            out.append(chat)
            if dry_run:
                continue
            if first_kept is not None:
                await history.purge_history(bot, room_id, up_to_event=events[first_kept]["event_id"])
            else:
                await history.purge_history(bot, room_id, cut_ms)
            deleted = 0
            for mxc in media:
                deleted += await history.delete_media(bot, mxc)
            with self.ctx.store.begin() as tx:
                st.audit(tx, actor, "retention.purge", org=org_id, room=room_id, kind=chat["kind"],
                         before=chat["before"], messages=len(going), media=deleted)
        return out
