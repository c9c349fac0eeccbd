"""A room's history for the school's records (a dispute, a complaint): ``GET /organizations/{org}/rooms/{room}/
export`` and ``parta export``; rendered as JSON here, as HTML or PDF by :mod:`spaces_provisioner.web.transcript`.

Only the school's administration (its administrators and head) or the operator export, and only rooms of their
own organization: class chats, parents' rooms and people's own chats hold pupils' and parents' words, so a
teacher never exports, and another school's administrator gets nothing. A people's chat (a direct or group
chat) is a school's when everyone who has been in it and belongs to a school is of that school
(``policies.people_chats.chat_orgs``), whatever organization its tag names: a pupil of school A's chat with
her mother, who teaches in school B, is A's record, and B's administration gets 404 like for any other room.
Every export is audited (``room.export``: who, which room, which format, how many events).

The bot reads with the Admin API (``GET /_synapse/admin/v1/rooms/{id}/messages``: every event whatever the
history visibility, joined or not). Edits (``m.replace``, Matrix spec "Event replacements") are shown on the
message they change, with each earlier text; a redacted message (``unsigned.redacted_because``) is marked
with who removed it, when and why — its text is gone from the homeserver, as the spec requires.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import sqlalchemy as sa

from policies import people_chats
from policies.capabilities import Account, RoomInfo, deny
from policies.i18n import N_, _
from policies.labels import role_title
from policies.model import FullName
from policies.state_events import PartaEventTypes

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import chat_members
from spaces_provisioner.errors import check
from spaces_provisioner.homeserver import history
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.ops.context import Context

#: The refusal of anyone but the school's administration.
ADMINISTRATION_ONLY = N_("Only the school's administration (its administrator and head) can export a room's history")
#: The refusal of a room that is not the organization's.
NOT_THIS_SCHOOL = N_("Room {room} is not a room of {org}")
#: Event types a transcript shows as lines (others, e.g. reactions and receipts, are left out).
MESSAGE_TYPES = ("m.room.message", "m.sticker", "m.poll.start", "org.matrix.msc3381.poll.start")
SHOWN_STATE = ("m.room.member", "m.room.name", "m.room.topic")


def _text(content: dict) -> str:
    """What a message says: its body, a poll's question, or its file's name."""
    if isinstance(content.get("body"), str):
        return content["body"]
    for key in ("m.poll.start", "org.matrix.msc3381.poll.start", "m.poll"):
        poll = content.get(key)
        if isinstance(poll, dict):
            question = poll.get("question") or {}
            text = question.get("body") or question.get("m.text") or ""
            if isinstance(text, list):
                text = next((t.get("body", "") for t in text if isinstance(t, dict)), "")
            answers = [a.get("org.matrix.msc1767.text") or a.get("m.text") or "" for a in poll.get("answers") or []
                       if isinstance(a, dict)]
            return f"{text} [{' / '.join(str(a) for a in answers)}]" if answers else str(text)
    return ""


class Export:
    """Room transcripts (:meth:`transcript`)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def transcript(self, org_id: str, room_id: str, by: Account | None, fmt: str = "json") -> dict:
        """The history of ``room_id`` of ``org_id`` for ``by`` (None: the operator), audited as exported in
        ``fmt`` (``json``, ``pdf`` or ``html``)::

            {"org", "org_name", "room_id", "name", "kind", "class", "timezone", "exported_at" (ISO, the school's
             zone), "exported_by", "members": [{"user_id", "name", "role", "role_title"}],
             "events": [{"event_id", "ts" (ms), "time" (ISO, the school's zone), "sender", "sender_name",
                         "type", "line": "message" | "membership" | "state", "text", "msgtype", "file"?
                         (a file's mxc URI), "edited": bool, "edits": [{"ts", "time", "text"}] (the earlier
                         texts, oldest first), "redacted": bool, "redacted_by"?, "redacted_by_name"?,
                         "redacted_at"?, "redaction_reason"?, "reply_to"?}],
             "counts": {"messages", "edited", "redacted"}}

        Raises 404 ``M_NOT_FOUND`` for an unknown organization, 403 ``M_FORBIDDEN``
        (``export_administration_only``) unless ``by`` administers ``org_id``, 404 ``M_NOT_FOUND``
        (``room_not_in_organization``) for a room that is not the organization's (another school's, or none; a
        people's chat with someone who is not of ``org_id``: ``policies.people_chats.belongs_to``).
        """
        with self.ctx.store.begin() as tx:
            org = self.ctx.org_row(tx, org_id)
            settings = self.ctx.org_settings(tx, org_id)
        if by is not None and not self.ctx.caps.can(by.memberships.get(org_id), "confirm_teachers"):
            check(deny("export_administration_only", ADMINISTRATION_ONLY))
        try:
            state = await self.ctx.bot.room_events_as_admin(room_id)
        except MatrixRequestError:  # no such room on this homeserver
            state = []
        current = {(e.get("type"), e.get("state_key")): e.get("content") or {} for e in state}
        tag = current.get((PartaEventTypes.ROOM, "")) or {}
        info = RoomInfo.from_state(tag) if tag else None
        if info is not None and people_chats.is_people_chat(info):
            # a people's chat is the record of the schools of everyone in it, not of its tag's school
            # (policies.people_chats: a pupil of A's chat with her parent who teaches in B is A's alone)
            with self.ctx.store.begin() as tx:
                in_chat = chat_members(tx, current, skip=(self.ctx.bot.user_id,))
            mine = people_chats.belongs_to(info, in_chat, org_id)
        else:
            mine = tag.get("org") == org_id or org_id in (tag.get("orgs") or ())
        if not mine:
            check(deny("room_not_in_organization", NOT_THIS_SCHOOL, room=room_id, org=org_id), 404)
        try:
            zone = zoneinfo.ZoneInfo(str(settings.get("timezone") or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")

        def when(ts: int | None) -> str | None:
            return None if ts is None else datetime.datetime.fromtimestamp(ts / 1000, zone).isoformat(
                timespec="seconds")

        events = await history.all_events(self.ctx.bot, room_id)
        people = self._people(org_id)
        names = {k[1]: c.get("displayname") for k, c in current.items() if k[0] == "m.room.member" and c}
        for e in events:
            if e.get("type") == "m.room.member" and (e.get("content") or {}).get("displayname"):
                names.setdefault(e["state_key"], e["content"]["displayname"])

        def name(user_id: str) -> str:
            return people.get(user_id, {}).get("name") or names.get(user_id) or user_id

        lines: list[dict] = []
        by_id: dict[str, dict] = {}
        edits: dict[str, list[dict]] = {}
        for e in events:
            etype, content = e.get("type"), e.get("content") or {}
            unsigned = e.get("unsigned") or {}
            relates = content.get("m.relates_to") or {}
            if etype in MESSAGE_TYPES and relates.get("rel_type") == "m.replace":
                if not unsigned.get("redacted_because"):
                    edits.setdefault(str(relates.get("event_id")), []).append(e)
                continue
            if etype in MESSAGE_TYPES:
                kind = "message"
            elif etype in SHOWN_STATE and "state_key" in e:
                kind = "membership" if etype == "m.room.member" else "state"
            else:
                continue
            line: dict[str, Any] = {
                "event_id": e.get("event_id"), "ts": e.get("origin_server_ts"), "time": when(e.get("origin_server_ts")),
                "sender": e.get("sender"), "sender_name": name(str(e.get("sender"))), "type": etype, "line": kind,
                "text": self._state_text(e, name) if kind != "message" else _text(content),
                "msgtype": content.get("msgtype"), "edited": False, "edits": [], "redacted": False}
            if isinstance(content.get("url"), str):
                line["file"] = content["url"]
            reply = (relates.get("m.in_reply_to") or {}).get("event_id")
            if reply:
                line["reply_to"] = reply
            because = unsigned.get("redacted_because")
            if isinstance(because, dict):
                line.update(redacted=True, redacted_by=because.get("sender"),
                            redacted_by_name=name(str(because.get("sender"))),
                            redacted_at=when(because.get("origin_server_ts")),
                            redaction_reason=(because.get("content") or {}).get("reason")
                            or because.get("redacts_reason"))
            lines.append(line)
            by_id[str(e.get("event_id"))] = line
        for target, changes in edits.items():
            original = by_id.get(target)
            if original is None or original["redacted"]:
                continue
            line = original
            # only the original's sender may replace it (spec: "Validity of replacement events")
            changes = [c for c in changes if c.get("sender") == line["sender"]]
            if not changes:
                continue
            changes.sort(key=lambda c: c.get("origin_server_ts") or 0)
            texts = [(line["ts"], line["text"])]
            for c in changes:
                new = (c.get("content") or {}).get("m.new_content") or {}
                texts.append((c.get("origin_server_ts"), _text(new) or _text(c.get("content") or {})))
            line["edits"] = [{"ts": ts, "time": when(ts), "text": t} for ts, t in texts[:-1]]
            line["text"] = texts[-1][1]
            line["edited"] = True
            line["edited_at"] = when(texts[-1][0])
        joined = [str(u) for (t, u), c in current.items() if t == "m.room.member" and c.get("membership") == "join"
                  and u != self.ctx.bot.user_id]
        members = sorted(({"user_id": u, "name": name(u), "role": people.get(u, {}).get("role", ""),
                           "role_title": role_title(people[u]["role"]) if people.get(u, {}).get("role") else ""}
                          for u in joined), key=lambda m: (m["name"], m["user_id"]))
        messages = [ln for ln in lines if ln["line"] == "message"]
        actor = "operator" if by is None else by.user_id
        out = {"org": org_id, "org_name": getattr(org, "name", None) or org_id, "room_id": room_id,
               "name": (current.get(("m.room.name", "")) or {}).get("name") or room_id,
               "kind": tag.get("archived_kind") or tag.get("kind"), "class": tag.get("class_title") or tag.get("class"),
               "timezone": zone.key, "exported_at": when(st.now_ms()), "exported_by": actor,
               "exported_by_name": "operator" if by is None else name(by.user_id),
               "members": members, "events": lines,
               "counts": {"messages": len(messages), "edited": sum(1 for m in messages if m["edited"]),
                          "redacted": sum(1 for m in messages if m["redacted"])}}
        with self.ctx.store.begin() as tx:
            st.audit(tx, actor, "room.export", org=org_id, room=room_id, format=fmt, events=len(lines))
        return out

    @staticmethod
    def _state_text(e: dict, name: Any) -> str:
        """A membership or state change in words (the current language)."""
        content = e.get("content") or {}
        if e.get("type") == "m.room.member":
            target = name(str(e.get("state_key")))
            membership = content.get("membership")
            if membership == "join":
                return _("{name} joined").format(name=target)
            if membership == "invite":
                return _("{name} was invited").format(name=target)
            if membership == "ban":
                return _("{name} was banned").format(name=target)
            return _("{name} left").format(name=target)
        if e.get("type") == "m.room.name":
            return _("The room was named «{name}»").format(name=content.get("name", ""))
        return _("The topic: {topic}").format(topic=content.get("topic", ""))

    def _people(self, org_id: str) -> dict[str, dict]:
        """user id → ``{"name", "role"}`` from the service's records of ``org_id``."""
        with self.ctx.store.begin() as tx:
            rows = tx.execute(sa.select(st.people).where(st.people.c.org_id == org_id,
                                                         st.people.c.user_id.is_not(None))).all()
        return {r.user_id: {"name": FullName(r.family_name, r.given_name, r.middle_name).display, "role": r.role}
                for r in rows}
