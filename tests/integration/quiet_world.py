"""The school and the push gateway the quiet-hours tests use (issue 12, quiet hours).

School A is the attack suite's generated school (``tests.schools.attack_cast``): class 5А's class
teacher (confirmed), a pupil, a parent, a confirmed teacher of another class, the administrator.
Its settings hold back the administration's plain messages too (``quiet_hours_silence``), so that
an urgent announcement is the one way through. The push gateway is a Sygnal-compatible
``POST /_matrix/push/v1/notify`` on a free localhost port, recording what Synapse's HTTP pusher
sends (Push Gateway API, "POST /_matrix/push/v1/notify").

Windows are computed around the real now in the school's zone, so the tests pass at any hour.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from policies.templates import RoomRef, default_templates

from ..helpers import API, User, q
from ..processes import free_port
from ..schools import attack_cast, attack_school, write_attack_roster

T = default_templates()
V = "/_matrix/client/v3"
ZONE = "Europe/Moscow"
#: The school's settings: the administration's plain messages wait too; its urgent ones do not.
SETTINGS = {"timezone": ZONE, "quiet_hours_silence": ["student", "parent", "admin", "head"]}
_n = itertools.count(1)


@dataclass
class Gateway:
    """A push gateway on 127.0.0.1: every notification Synapse posts, in order."""

    url: str = ""
    received: list[dict] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free port at ``/_matrix/push/v1/notify`` (answers ``{"rejected": []}``)."""
        async def notify(request: web.Request) -> web.Response:
            self.received.append((await request.json())["notification"])
            return web.json_response({"rejected": []})
        app = web.Application()
        app.router.add_post("/_matrix/push/v1/notify", notify)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/_matrix/push/v1/notify"

    def event_ids(self) -> list[str]:
        """The event ids pushed so far."""
        return [str(n.get("event_id")) for n in self.received]

    async def wait_for(self, event_id: str, timeout: float = 20.0) -> None:
        """Until ``event_id`` was pushed (AssertionError after ``timeout`` seconds)."""
        for _ in range(int(timeout * 10)):
            if event_id in self.event_ids():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{event_id} never reached the push gateway: {self.event_ids()}")


@dataclass
class Quiet:
    org: str
    rooms: dict[str, str]   # class_parents, announcements, class_chat -> room id
    admin: User
    teacher: User           # confirmed, class teacher of 5А
    other_teacher: User     # confirmed, another class
    student: User
    parent: User            # a parent of student


async def build(hs, tmp_path_factory) -> Quiet:
    """Provision school A with :data:`SETTINGS` and sign the cast in."""
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("quiet-roster")), settings=SETTINGS)
    org = a["org"]
    other = next(t.source_id for t in attack_school().teachers if t.class_ids and c.class_id not in t.class_ids)
    refs = {"announcements": RoomRef(org, "announcements"),
            **{k: RoomRef(org, k, c.class_id) for k in ("class_parents", "class_chat")}}
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    return Quiet(org=org, rooms=rooms, admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
                 teacher=await hs.person(org, c.teacher, confirmed=True),
                 other_teacher=await hs.person(org, other, confirmed=True),
                 student=await hs.person(org, c.student), parent=await hs.person(org, c.parent))


async def send(u: User, room: str, body: str = "hello", **extra) -> tuple[int, dict]:
    """A text message as ``u`` (``extra``: more content keys): ``(status, body)``."""
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/q{next(_n)}",
                           {"msgtype": "m.text", "body": body, **extra})


def sent(resp: tuple[int, dict]) -> str:
    """The event id of a send that must succeed."""
    code, body = resp
    assert code == 200, body
    return body["event_id"]


async def office_hours(hs, who: User | str, user_id: str, body: dict | None = None) -> tuple[int, dict]:
    """``GET`` (``body`` None) or ``PUT /api/v1/users/{user}/office-hours`` with ``who``'s token."""
    token = who.token if isinstance(who, User) else who
    url = f"{hs.settings.provisioning_url}{API}/users/{q(user_id)}/office-hours"
    async with aiohttp.ClientSession() as s, s.request("GET" if body is None else "PUT", url, json=body,
                                                       headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None)


def hours_around(inside: bool) -> dict:
    """Office hours, every day, that the real now is inside (``inside``) or outside of, in :data:`ZONE`."""
    now = dt.datetime.now(ZoneInfo(ZONE))
    if inside:
        start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    else:
        start, end = now + dt.timedelta(hours=2), now + dt.timedelta(hours=3)
    return {"days": [1, 2, 3, 4, 5, 6, 7], "from": start.strftime("%H:%M"), "to": end.strftime("%H:%M")}
