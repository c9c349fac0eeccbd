"""The school the materials and polls tests act in (issue 11: learning materials, polls).

School A is the attack suite's generated two-class school (``tests.schools.attack_cast``): class 5А
with its class teacher, pupils and parents, plus a confirmed teacher of the other class; school B
is the demo's. Helpers post polls in both flavours Element and the Matrix spec use: the unstable
``org.matrix.msc3381.poll.*`` (what Element sends) and the stable ``m.poll.*`` (MSC3381).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import aiohttp

from policies.templates import RoomRef, default_templates

from ..helpers import API, SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, q
from ..schools import attack_cast, attack_school, write_attack_roster

T = default_templates()
V = "/_matrix/client/v3"
#: A small PDF (its bytes are sniffed as application/pdf).
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
_n = itertools.count(1)


@dataclass
class Lessons:
    org: str
    rooms: dict[str, str]     # short name → room id
    admin: User
    teacher: User             # confirmed, class teacher of 5А
    other_teacher: User       # confirmed, teaches the other class only
    student: User
    classmate: User
    other_class: User         # a pupil of the other class
    parent: User              # a parent of student
    student_b: User           # a pupil of school B
    outsider: User            # an account in no organization


async def build(hs, tmp_path_factory) -> Lessons:
    """Provision school A and B and sign the cast in."""
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("lessons-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org = a["org"]
    # the primary-school teacher of 1А (the attack suite leaves her unconfirmed; here she is confirmed)
    other_teacher = next(t.source_id for t in attack_school().teachers if t.class_ids and c.class_id not in t.class_ids)
    refs = {"announcements": RoomRef(org, "announcements"),
            **{k: RoomRef(org, k, c.class_id) for k in ("class_chat", "class_announcements", "class_materials")}}
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    return Lessons(
        org=org, rooms=rooms, admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
        teacher=await hs.person(org, c.teacher, confirmed=True),
        other_teacher=await hs.person(org, other_teacher, confirmed=True),
        student=await hs.person(org, c.student), classmate=await hs.person(org, c.classmate),
        other_class=await hs.person(org, c.other_class), parent=await hs.person(org, c.parent),
        student_b=await hs.person(b["org"], "b-usr-002"), outsider=await hs.outsider())


async def send(u: User, room: str, etype: str = "m.room.message", content: dict | None = None):
    """``PUT /rooms/{room}/send/{etype}``: ``(status, body)``."""
    content = content if content is not None else {"msgtype": "m.text", "body": "hello"}
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/{q(etype)}/l{next(_n)}", content)


async def redact(u: User, room: str, event_id: str):
    """``PUT /rooms/{room}/redact/{event_id}/{txn}`` with no reason."""
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/redact/{q(event_id)}/r{next(_n)}", {})


def poll_start(flavour: str, question: str, answers: dict[str, str], *, undisclosed: bool = False) -> tuple[str, dict]:
    """A poll start event ``(type, content)`` as Element (``unstable``) or the stable types write it."""
    if flavour == "unstable":
        kind = "org.matrix.msc3381.poll." + ("undisclosed" if undisclosed else "disclosed")
        return "org.matrix.msc3381.poll.start", {
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": question}, "kind": kind, "max_selections": 1,
                "answers": [{"id": k, "org.matrix.msc1767.text": v} for k, v in answers.items()]},
            "org.matrix.msc1767.text": question}
    kind = "m.poll." + ("undisclosed" if undisclosed else "disclosed")
    return "m.poll.start", {
        "m.poll": {"question": {"m.text": [{"body": question}]}, "kind": kind, "max_selections": 1,
                   "answers": [{"m.id": k, "m.text": [{"body": v}]} for k, v in answers.items()]},
        "m.text": [{"body": question}]}


def poll_response(flavour: str, poll_id: str, *answers: str) -> tuple[str, dict]:
    """A poll answer ``(type, content)`` (no answers: a spoiled vote)."""
    relates = {"rel_type": "m.reference", "event_id": poll_id}
    if flavour == "unstable":
        return "org.matrix.msc3381.poll.response", {"m.relates_to": relates,
                                                    "org.matrix.msc3381.poll.response": {"answers": list(answers)}}
    return "m.poll.response", {"m.relates_to": relates, "m.selections": list(answers)}


def poll_end(flavour: str, poll_id: str) -> tuple[str, dict]:
    """The poll's end ``(type, content)``."""
    relates = {"rel_type": "m.reference", "event_id": poll_id}
    if flavour == "unstable":
        return "org.matrix.msc3381.poll.end", {"m.relates_to": relates, "org.matrix.msc3381.poll.end": {},
                                               "org.matrix.msc1767.text": "The poll has ended"}
    return "m.poll.end", {"m.relates_to": relates, "m.text": [{"body": "The poll has ended"}]}


async def results(hs, who: User | str, room: str, poll: str, fmt: str = "json") -> tuple[int, object]:
    """``GET /api/v1/rooms/{room}/polls/{poll}/results`` with ``who``'s token: (status, JSON or CSV text)."""
    token = who.token if isinstance(who, User) else who
    url = f"{hs.settings.provisioning_url}{API}/rooms/{q(room)}/polls/{q(poll)}/results"
    async with aiohttp.ClientSession() as s, s.get(url, params={"format": fmt},
                                                   headers={"Authorization": f"Bearer {token}"}) as r:
        if fmt == "csv" and r.status == 200:
            assert r.content_type == "text/csv"
            return r.status, (await r.read()).decode("utf-8")
        return r.status, await r.json(content_type=None)


async def upload(u: User, data: bytes, filename: str, content_type: str = "application/pdf") -> str:
    """``POST /_matrix/media/v3/upload`` as ``u``; the ``mxc://`` URI."""
    async with u.api.session.post(f"{u.base_url}/_matrix/media/v3/upload", params={"filename": filename},
                                  data=data, headers={"Authorization": f"Bearer {u.token}",
                                                      "Content-Type": content_type}) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["content_uri"]
