"""Poll results for the poll's author and the school's administration: who answered what, and who
has not answered yet (consent slips, "who has read").

The bot reads the room as it is: the poll's start event (``GET /rooms/{id}/event/{id}``), every
event that refers to it (``/relations``: the answers and the end; a redacted answer has lost its
relation and is gone), and the room's joined members with their display names. The counting is
``policies.polls`` (MSC3381: the latest answer counts, answers after the end do not); roles and
classes come from the service's own records.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from policies import people_chats, polls
from policies.capabilities import Account, RoomInfo, deny
from policies.i18n import N_, _
from policies.labels import role_title
from policies.model import FullName, Role
from policies.state_events import PartaEventTypes

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import chat_members
from spaces_provisioner.errors import ProvisioningError, check, not_found
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.ops.context import Context

#: The refusal of someone who neither started the poll nor runs the school.
NOT_YOURS = N_("Only the poll's author and the school's administration can see who answered what")


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts / 1000, UTC).isoformat(timespec="seconds")


class Polls:
    """Poll results (``results``) as JSON or CSV (``results_csv``)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def _room(self, room_id: str) -> RoomInfo:
        try:
            tag = await self.ctx.bot.state_event(room_id, PartaEventTypes.ROOM, "")
        except MatrixRequestError:  # the bot is in no such room: not a school room
            tag = None
        room = RoomInfo.from_state(tag)
        if room is None or room.org is None:
            raise not_found(_("There is no school room {room}").format(room=room_id))
        return room

    def _may_see(self, by: Account | None, poll: polls.Poll | None, room: RoomInfo, orgs: frozenset[str]) -> bool:
        """The operator (``by`` None), the poll's author, the administration (its administrator and head:
        ``confirm_teachers``) of the room's organization, ``orgs`` (:meth:`_orgs`). ``poll`` None: without
        the author."""
        if by is None:
            return True  # the operator
        if poll is not None and by.user_id == poll.sender:
            return True
        return any(self.ctx.caps.can(by.memberships.get(o), "confirm_teachers") for o in orgs)

    def _orgs(self, room: RoomInfo, members: Any) -> frozenset[str]:
        """The room's organizations: its tag's, or for a people's chat those of everyone joined
        (``policies.people_chats.chat_orgs``: its tag may name its creator's other school)."""
        if not people_chats.is_people_chat(room):
            return frozenset({room.org} if room.org else ())
        state = {("m.room.member", u): {"membership": "join"} for u in members}
        with self.ctx.store.begin() as tx:
            return people_chats.chat_orgs(room, chat_members(tx, state, skip=(self.ctx.bot.user_id,)))

    def _people(self, org_id: str, user_ids: set[str], class_id: str | None) -> dict[str, dict]:
        """user id → ``{"name", "role", "classes": [titles], "children": [names]}`` from the service's
        records. A parent's classes are their children's; ``children`` (parents only) names the children
        a consent slip is for. In a class's room (``class_id``) only that class counts."""
        def name(r: Any) -> str:
            return FullName(r.family_name, r.given_name, r.middle_name).display

        with self.ctx.store.begin() as tx:
            rows = {r.user_id: r for r in tx.execute(sa.select(st.people).where(
                st.people.c.org_id == org_id, st.people.c.user_id.in_(sorted(user_ids))))}
            pupils = {r.person_id: r for r in tx.execute(sa.select(st.people).where(
                st.people.c.org_id == org_id, st.people.c.role == Role.STUDENT))}
            titles = {r.class_id: r.title for r in tx.execute(
                sa.select(st.classes).where(st.classes.c.org_id == org_id))}
            of_person: dict[str, set[str]] = {}
            for e in tx.execute(sa.select(st.enrollments).where(st.enrollments.c.org_id == org_id)):
                of_person.setdefault(e.person_id, set()).add(e.class_id)
            children: dict[str, set[str]] = {}
            for g in tx.execute(sa.select(st.guardianships).where(st.guardianships.c.org_id == org_id)):
                children.setdefault(g.guardian_id, set()).add(g.student_id)
        def here(classes: set[str]) -> set[str]:
            return classes & {class_id} if class_id is not None else classes

        out = {}
        for user_id, r in rows.items():
            classes = here(set(of_person.get(r.person_id, set())))
            kids = []
            if r.role == Role.PARENT:
                for child in sorted(children.get(r.person_id, set())):
                    theirs = here(of_person.get(child, set()))
                    if theirs and child in pupils:
                        classes |= theirs
                        kids.append(name(pupils[child]))
            out[user_id] = {"name": name(r), "role": r.role, "classes": sorted(titles.get(c, c) for c in classes),
                            "children": sorted(kids)}
        return out

    async def results(self, room_id: str, event_id: str, by: Account | None) -> dict:
        """The results of the poll ``event_id`` in ``room_id``, for ``by`` (None: the operator)::

            {"room_id", "org", "poll": {"event_id", "question", "author", "undisclosed", "max_selections",
                                        "ended", "ended_at" (ISO 8601 UTC | null),
                                        "answers": [{"id", "text", "votes"}]},
             "people": [{"user_id", "name", "role", "role_title", "classes": [titles], "children": [names],
                         "answered": bool,
                         "answer": [answer ids], "answer_text": "; "-joined texts, "answered_at"}],
             "answered": int, "not_answered": int}

        ``people``: the room's joined members who may answer (everyone but the bot, the journal
        bridge and the poll's author), those who have not answered first. 404 ``M_NOT_FOUND`` for
        a room that is not a school room or an event that is not a poll there, and, with the same
        message, for every ``by`` who is neither joined to the room nor its organization's
        administration (another school, an outsider, another class's teacher): they cannot read
        the room, so the answer must not confirm that it is a school room or the event a poll; 403
        ``M_FORBIDDEN`` (``poll_results_not_yours``) for the room's other members, unless ``by``
        started the poll or administers the school.
        """
        no_poll = not_found(_("There is no poll {event} in room {room}").format(event=event_id, room=room_id))
        try:
            room = await self._room(room_id)
        except ProvisioningError:
            if by is None:
                raise  # the operator learns which of the two is wrong
            raise no_poll from None
        members = await self.ctx.bot.joined_member_names(room_id)
        orgs = self._orgs(room, members)
        if by is not None and by.user_id not in members and not self._may_see(by, None, room, orgs):
            raise no_poll
        try:
            start = await self.ctx.bot.event(room_id, event_id)
        except MatrixRequestError:  # an event id the homeserver cannot read (400): no poll either
            start = None
        poll = polls.parse_poll(start or {})
        if poll is None:
            raise no_poll
        if not self._may_see(by, poll, room, orgs):
            check(deny("poll_results_not_yours", NOT_YOURS))
        related = await self.ctx.bot.relations(room_id, event_id, "m.reference")
        skip = {self.ctx.bot.user_id, self.ctx.settings.journal_bridge_user_id, poll.sender}
        voters = {u: name for u, name in members.items() if u not in skip}
        # MSC3381: an end by the author, or by someone with power to redact (the school's staff here)
        records = self._people(room.org or "", set(members), room.class_id)
        staff = {u for u, p in records.items() if p["role"] in (Role.ADMIN, Role.HEAD)}
        result = polls.tally(poll, related, frozenset(staff))
        texts = dict(poll.answers)
        people = []
        for user_id, display in voters.items():
            rec = records.get(user_id) or {"name": display, "role": "", "classes": [], "children": []}
            ans = result.answers.get(user_id)
            people.append({
                "user_id": user_id, "name": display or rec["name"], "role": rec["role"],
                "role_title": role_title(rec["role"]) if rec["role"] else "", "classes": rec["classes"],
                "children": rec["children"],
                "answered": ans is not None, "answer": list(ans.selections) if ans else [],
                "answer_text": "; ".join(texts.get(a, a) for a in ans.selections) if ans else "",
                "answered_at": _iso(ans.ts) if ans else None})
        people.sort(key=lambda p: (p["answered"], ",".join(p["classes"]), p["role"], p["name"]))
        answered = sum(1 for p in people if p["answered"])
        return {"room_id": room_id, "org": room.org,
                "poll": {"event_id": poll.event_id, "question": poll.question, "author": poll.sender,
                         "undisclosed": poll.undisclosed, "max_selections": poll.max_selections,
                         "ended": result.ended_ts is not None, "ended_at": _iso(result.ended_ts),
                         "answers": [{"id": a, "text": t, "votes": result.votes.get(a, 0)} for a, t in poll.answers]},
                "people": people, "answered": answered, "not_answered": len(people) - answered}


#: What starts a formula in a spreadsheet cell (OWASP "CSV Injection"): = + - @, a tab, a carriage return.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A Matrix user id as Synapse allows local ones (lower-case localpart grammar, no brackets, quotes or
#: pipes): it starts with "@" but can hold no function call or DDE, so it is written as it is.
_USER_ID = re.compile(r"@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:[0-9]+)?")


def _cell(value: str, user_id: bool = False) -> str:
    """``value`` safe to open in a spreadsheet: a cell that would start a formula gets a leading ``'``
    (OWASP "CSV Injection"; answer texts and names are people's free text: a pupil's poll could carry
    ``=HYPERLINK(...)`` into the administrator's Excel). ``user_id``: the account column, kept as it is
    when it is a plain Matrix user id."""
    if user_id and _USER_ID.fullmatch(value):
        return value
    return "'" + value if value.startswith(FORMULA_START) else value


def results_csv(results: dict) -> bytes:
    """The results of :meth:`Polls.results` as a CSV file for a spreadsheet: UTF-8 with a byte-order
    mark and ``;`` separators (what Excel in Russia opens as is), one row per person, headers in the
    current language: name, role, class, parent of (the children), answered (yes/no), answer, answered at,
    user id. Every cell that would start a formula is neutralised (:func:`_cell`)."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow([_("Name"), _("Role"), _("Class"), _("Parent of"), _("Answered"), _("Answer"), _("Answered at"),
                _("Account")])
    for p in results["people"]:
        w.writerow([_cell(str(c)) for c in (
            p["name"], p["role_title"], ", ".join(p["classes"]), ", ".join(p["children"]),
            _("yes") if p["answered"] else _("no"), p["answer_text"], p["answered_at"] or "")]
            + [_cell(p["user_id"], user_id=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
