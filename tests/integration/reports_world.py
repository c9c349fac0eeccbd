"""The world of issue 12's reports and audit tests: school A (the attack suite's generated two-class
school: class 5А's class teacher, two pupils, the administrator) and school B (the demo's, with its
administrator and a pupil), each with its moderation room («Модерация»), and the requests they make.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import aiohttp

from policies.templates import RoomRef, default_templates

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, api, q
from ..schools import attack_cast, write_attack_roster

T = default_templates()
V = "/_matrix/client/v3"
_n = itertools.count(1)


@dataclass
class World:
    org: str
    org_b: str
    rooms: dict[str, str]     # class_chat (5А), moderation, moderation_b
    admin: User
    admin_b: User
    teacher: User             # the class teacher of 5А, confirmed
    student: User
    classmate: User
    student_b: User           # a pupil of school B
    base: str                 # the provisioning service


async def build(hs, tmp_path_factory) -> World:
    """Provision schools A and B and sign the cast in."""
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("reports-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org, org_b = a["org"], b["org"]
    refs = {"class_chat": RoomRef(org, "class_chat", c.class_id), "moderation": RoomRef(org, "moderation"),
            "moderation_b": RoomRef(org_b, "moderation")}
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    acc_b = {x["role"]: x for x in b["approve"]["accounts"]}
    return World(org=org, org_b=org_b, rooms=rooms,
                 admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
                 admin_b=await hs.login(acc_b["admin"]["user_id"], acc_b["admin"]["password"]),
                 teacher=await hs.person(org, c.teacher, confirmed=True),
                 student=await hs.person(org, c.student), classmate=await hs.person(org, c.classmate),
                 student_b=await hs.person(org_b, "b-usr-002"), base=hs.settings.provisioning_url)


def ok(resp: tuple[int, dict]) -> dict:
    code, body = resp
    assert code in (200, 201), body
    return body


def refused(resp: tuple[int, dict], reason: str, status: int = 403, errcode: str = "M_FORBIDDEN") -> dict:
    code, body = resp
    assert code == status, body
    assert body.get("errcode") == errcode and body.get("org.parta.reason") == reason, body
    assert body.get("error"), body
    return body


async def say(u: User, room: str, text: str) -> str:
    code, body = await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/rep{next(_n)}",
                                 {"msgtype": "m.text", "body": text})
    assert code == 200, body
    return body["event_id"]


async def sweep(hs) -> int:
    """Deliver the reports made so far (the service also does it every 5 seconds)."""
    return ok(await api(hs.settings.operator_token, "POST", "/moderation/sweep", base=hs.settings.provisioning_url))[
        "reports"]


async def notices(u: User, room: str) -> list[dict]:
    """The bot's report notices in a moderation room, read by ``u`` (newest first)."""
    page = await u.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "100"})
    return [e for e in page["chunk"] if e["type"] == "m.room.message" and "org.parta.report" in e["content"]]


async def all_notices(hs, room: str) -> list[dict]:
    """Every report notice in ``room``, read through the Admin API (nobody of the test need be in it)."""
    from mautrix.api import Method
    r = await hs.bot.request(Method.GET, f"/_synapse/admin/v1/rooms/{q(room)}/messages",
                             query={"dir": "b", "limit": "1000"})
    return [e for e in r["chunk"] if e["type"] == "m.room.message" and "org.parta.report" in e.get("content", {})]


async def audit(w: World, who: User | str, org: str | None = None, **query) -> tuple[int, dict]:
    token = who.token if isinstance(who, User) else who
    async with aiohttp.ClientSession() as s, s.get(f"{w.base}/api/v1/organizations/{q(org or w.org)}/audit",
                                                   params=query, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None)


async def moderate(w: World, who: User | str, body: dict, org: str | None = None) -> tuple[int, dict]:
    return await api(who, "POST", f"/organizations/{q(org or w.org)}/moderation", body, base=w.base)


