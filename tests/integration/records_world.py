"""The school the records tests act in (issue 12: exports and retention).

School A is the attack suite's generated two-class school (``tests.schools.attack_cast``): class 5А with its
class teacher, a pupil and a parent, and its administrator; school B is the demo's, with its administrator.
In 5А's class chat the teacher writes a message and edits it, and redacts a pupil's message with a
reason: what an export must show.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import aiohttp

from policies.templates import RoomRef, default_templates

from ..helpers import API, SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, q
from ..schools import attack_cast, write_attack_roster

T = default_templates()
V = "/_matrix/client/v3"
_n = itertools.count(1)

FIRST = "Контрольная по математике в четверг"
EDITED = "Контрольная по математике в пятницу"
RUDE = "Это сообщение удалят"
REASON = "оскорбление"
REPLY = "Спасибо, поняла"


@dataclass
class Records:
    org: str
    org_b: str
    chat: str                 # 5А's class chat
    parents: str              # 5А's parents' room
    admin: User
    teacher: User             # confirmed, class teacher of 5А
    student: User
    parent: User
    admin_b: User             # school B's administrator
    edited: str               # the teacher's message, edited
    redacted: str             # the pupil's message, redacted by the teacher


async def send(u: User, room: str, content: dict, event_type: str = "m.room.message") -> str:
    """One event as ``u``; its event id."""
    code, body = await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/{event_type}/rec{next(_n)}", content)
    assert code == 200, body
    return body["event_id"]


async def export(hs, who: User | str, org: str, room: str, fmt: str = "json") -> tuple[int, object, str]:
    """``GET /api/v1/organizations/{org}/rooms/{room}/export`` with ``who``'s token: (status, JSON or bytes,
    content type)."""
    token = who.token if isinstance(who, User) else who
    url = f"{hs.settings.provisioning_url}{API}/organizations/{q(org)}/rooms/{q(room)}/export"
    async with aiohttp.ClientSession() as s, s.get(url, params={"format": fmt},
                                                   headers={"Authorization": f"Bearer {token}"}) as r:
        if r.status == 200 and fmt != "json":
            return r.status, await r.read(), r.content_type
        return r.status, await r.json(content_type=None), r.content_type


async def retention(hs, who: User | str, org: str, dry_run: bool) -> tuple[int, dict]:
    """``POST /api/v1/organizations/{org}/retention`` with ``who``'s token: (status, JSON)."""
    token = who.token if isinstance(who, User) else who
    url = f"{hs.settings.provisioning_url}{API}/organizations/{q(org)}/retention"
    async with aiohttp.ClientSession() as s, s.post(url, params={"dry_run": "true" if dry_run else "false"},
                                                    headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None)


async def build(hs, tmp_path_factory) -> Records:
    """Provision school A and B, sign the cast in and write the conversation."""
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("records-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org = a["org"]
    chat = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'class_chat', c.class_id))}:{hs.server_name}")
    parents = await hs.bot.resolve_alias(
        f"#{T.alias_localpart(RoomRef(org, 'class_parents', c.class_id))}:{hs.server_name}")
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    acc_b = {x["role"]: x for x in b["approve"]["accounts"]}
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    teacher = await hs.person(org, c.teacher, confirmed=True)
    student = await hs.person(org, c.student)
    edited = await send(teacher, chat, {"msgtype": "m.text", "body": FIRST})
    await send(teacher, chat, {"msgtype": "m.text", "body": f"* {EDITED}",
                               "m.new_content": {"msgtype": "m.text", "body": EDITED},
                               "m.relates_to": {"rel_type": "m.replace", "event_id": edited}})
    redacted = await send(student, chat, {"msgtype": "m.text", "body": RUDE})
    code, body = await teacher.attempt("PUT", f"{V}/rooms/{q(chat)}/redact/{q(redacted)}/rec{next(_n)}",
                                     {"reason": REASON})
    assert code == 200, body
    await send(student, chat, {"msgtype": "m.text", "body": REPLY})
    return Records(org=org, org_b=b["org"], chat=chat, parents=parents, admin=admin, teacher=teacher,
                   student=student, parent=await hs.person(org, c.parent),
                   admin_b=await hs.login(acc_b["admin"]["user_id"], acc_b["admin"]["password"]),
                   edited=edited, redacted=redacted)
