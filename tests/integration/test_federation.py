"""Issue 13: federation between two school servers, each with Parta (tests/integration/federation_world.py).

World (module fixture): servers A and B allow-list each other (``parta init --federate-with``); each has
the attack suite's school (a confirmed class teacher, a pupil of the class); server C allow-lists A but
is not A's partner. The legitimate cross-server request: A's operator makes a network room, A's teacher
invites B's teacher, both write. Every attack is made from the remote side (or towards it) as a real
request, next to the legitimate one; docs/security.md lists each test.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from mautrix.api import Method
from mautrix.errors import MatrixRequestError

from policies.templates import RoomRef, default_templates

from ..helpers import Homeserver, User, eventually, q
from ..schools import attack_cast, write_attack_roster
from .federation_world import federated_servers

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"
_n = itertools.count(1)


@dataclass
class Side:
    """One server's handle, its school and people."""

    hs: Homeserver
    org: str
    class_chat: str
    teacher: User
    student: User


@dataclass
class Fed:
    a: Side
    b: Side
    c: Side
    network_room: str          # on A, for A's organization
    started: float             # when the fixture began (the two-server test's time)


async def _side(hs: Homeserver, roster) -> Side:
    c = attack_cast()
    school = await hs.new_school(roster=roster)
    org = school["org"]
    chat = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'class_chat', c.class_id))}:{hs.server_name}")
    return Side(hs=hs, org=org, class_chat=chat, teacher=await hs.person(org, c.teacher, confirmed=True),
                student=await hs.person(org, c.student))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A, B and C running (init is synchronous: it runs its own event loop)."""
    started = time.monotonic()
    with federated_servers(tmp_path_factory.mktemp("federation"), third=True) as running:
        print(f"\nfederation: three installations made and started in {time.monotonic() - started:.1f} s")
        yield running
    print(f"\nfederation: the world and its tests took {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module")
async def fed(servers, tmp_path_factory):
    started = time.monotonic()
    handles = [Homeserver(s.settings) for s in servers]
    for h in handles:
        await h.open()
    try:
        sides = [await _side(h, write_attack_roster(tmp_path_factory.mktemp(f"roster{i}")))
                 for i, h in enumerate(handles)]
        a = sides[0]
        room = (await a.hs.api.call("POST", "/network-rooms", json={"name": "Олимпиада городов",
                                                                     "orgs": [a.org]}))["room_id"]
        await a.hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": a.teacher.user_id})
        yield Fed(a=a, b=sides[1], c=sides[2], network_room=room, started=started)
    finally:
        for h in handles:
            await h.close()


async def invite(u: User, room: str, user_id: str):
    return await u.attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": user_id})


async def join(u: User, room: str, via: str | None = None):
    return await u.attempt("POST", f"{V}/join/{q(room)}", {}, query={"server_name": via} if via else None)


def ok(resp: tuple[int, dict]) -> dict:
    code, body = resp
    assert code == 200, body
    return body


def refused(resp: tuple[int, dict], reason: str | None = None, says: str | None = None) -> dict:
    """A 403 ``M_FORBIDDEN``; ``reason``: Parta's ``org.parta.reason`` (refused by the local module);
    ``says``: words of the error (refused by the other server, whose reason fields do not travel)."""
    code, body = resp
    assert code == 403 and body.get("errcode") == "M_FORBIDDEN", body
    if reason is not None:
        assert body.get("org.parta.reason") == reason and body.get("error"), body
    if says is not None:
        assert says in body.get("error", ""), body
    return body


async def members(u: User, room: str) -> set[str]:
    return set((await u.get(f"{V}/rooms/{q(room)}/joined_members"))["joined"])


async def messages(u: User, room: str) -> list[str]:
    r = await u.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "50"})
    return [e["content"].get("body", "") for e in r["chunk"] if e["type"] == "m.room.message"]


async def sent_and_seen(sender: User, reader: User, room: str) -> float:
    """Send a message and wait until the other server's reader sees it; seconds between."""
    text = f"привет {next(_n)}"
    t0 = time.monotonic()
    await sender.send_text(room, text)

    async def seen():
        return text in await messages(reader, room)

    assert await eventually(seen, timeout=60), f"{text!r} never reached {reader.user_id}"
    return time.monotonic() - t0


async def network_room(side: Side) -> str:
    """A new network room on ``side``'s server for its organization, its teacher joined (by the bot)."""
    room = (await side.hs.api.call("POST", "/network-rooms", json={"name": f"Методобъединение {next(_n)}",
                                                                   "orgs": [side.org]}))["room_id"]
    await side.hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": side.teacher.user_id})
    return room


async def bot_invite(hs: Homeserver, room: str, user_id: str) -> tuple[int, dict]:
    """An invitation by the server's bot (a server admin: past every check of its own module)."""
    try:
        await hs.bot.request(Method.POST, f"{V}/rooms/{q(room)}/invite", {"user_id": user_id})
    except MatrixRequestError as e:
        return e.http_status, {"errcode": e.errcode, "error": e.message}
    return 200, {}


# --- the legitimate request: staff of two servers in one network room ----------------------------

async def test_staff_of_two_servers_share_a_network_room(fed):
    a, b, room = fed.a, fed.b, fed.network_room
    ok(await invite(a.teacher, room, b.teacher.user_id))
    ok(await join(b.teacher, room, via=a.hs.server_name))
    there = await sent_and_seen(a.teacher, b.teacher, room)
    back = await sent_and_seen(b.teacher, a.teacher, room)
    print(f"\nfederation: message A→B {there * 1000:.0f} ms, B→A {back * 1000:.0f} ms")
    # leaving and coming back: B's module admits its confirmed staff into a partner's network room
    ok(await b.teacher.attempt("POST", f"{V}/rooms/{q(room)}/leave", {}))

    async def left() -> bool:
        return b.teacher.user_id not in await members(a.teacher, room)

    assert await eventually(left, timeout=60)
    ok(await invite(a.teacher, room, b.teacher.user_id))
    ok(await join(b.teacher, room, via=a.hs.server_name))


async def test_remote_pupil_is_refused_by_its_own_server(fed):
    # A cannot know B's roles: B's module refuses the invitation of its pupil (federated_user_may_invite)
    room = await network_room(fed.a)
    refused(await invite(fed.a.teacher, room, fed.b.student.user_id), "federation_invite_refused")
    ok(await invite(fed.a.teacher, room, fed.b.teacher.user_id))


# --- attacks ---------------------------------------------------------------------------------------

async def test_remote_join_of_a_class_room_is_refused(fed):
    # A refuses the remote join: the class chat admits members of the class space only (its join rule,
    # checked first), and, behind that, school rooms are created with m.federate: false
    refused(await join(fed.b.teacher, fed.a.class_chat, via=fed.a.hs.server_name),
            says="You do not belong to any of the required rooms/spaces")
    create = await fed.a.hs.bot.request(Method.GET, f"{V}/rooms/{q(fed.a.class_chat)}/state/m.room.create")
    assert create["m.federate"] is False
    room = await network_room(fed.a)
    ok(await invite(fed.a.teacher, room, fed.b.teacher.user_id))
    ok(await join(fed.b.teacher, room, via=fed.a.hs.server_name))


async def test_local_teacher_cannot_invite_a_remote_user_into_a_class_room(fed):
    refused(await invite(fed.a.teacher, fed.a.class_chat, fed.b.teacher.user_id), "remote_user_outsider")
    ok(await invite(fed.a.teacher, await network_room(fed.a), fed.b.teacher.user_id))


async def test_remote_direct_chat_to_a_local_pupil_is_refused(fed):
    a, b = fed.a, fed.b
    # B's teacher: B's own module refuses (a people's chat is never shared with another server)
    refused(await b.teacher.attempt("POST", f"{V}/createRoom", {"is_direct": True, "invite": [a.student.user_id]}),
            "remote_user_outsider")
    # B's bot, a server admin past every check of B's module: A's module refuses the invitation
    room = await b.hs.bot.create_room({"preset": "private_chat", "is_direct": True})
    refused(await bot_invite(b.hs, room, a.student.user_id))
    refused(await bot_invite(b.hs, room, a.teacher.user_id))
    # the invitation of A's teacher into a network room of B's is accepted by A
    net = await network_room(b)
    ok(await invite(b.teacher, net, a.teacher.user_id))
    ok(await join(a.teacher, net, via=b.hs.server_name))


async def test_remote_users_cannot_find_local_pupils(fed):
    a, b = fed.a, fed.b
    c = attack_cast()
    room = await network_room(a)
    ok(await invite(a.teacher, room, b.teacher.user_id))
    ok(await join(b.teacher, room, via=a.hs.server_name))

    # Synapse's directory lists no remote user (exclude_remote_users): A's pupil is not found from B,
    # nor is A's teacher, whom B's teacher sees as a member of the room they share
    assert a.student.user_id not in await b.teacher.search_users(c.name(c.student).family_name)
    assert a.teacher.user_id not in await b.teacher.search_users(c.name(c.teacher).family_name)
    assert a.teacher.user_id in await members(b.teacher, room)
    # nor can B's teacher read the profile of A's pupil (no profile look-ups over federation)
    code, body = await b.teacher.attempt("GET", f"{V}/profile/{q(a.student.user_id)}")
    assert code in (403, 404), body


async def test_server_that_is_not_a_partner_is_refused(fed):
    a, c = fed.a, fed.c
    # C allow-lists A, but A does not allow-list C: A refuses C's federation requests
    net = await network_room(c)
    refused(await invite(c.teacher, net, a.teacher.user_id), says="Federation denied")
    refused(await join(c.teacher, fed.network_room, via=a.hs.server_name), says="Federation denied")
    # A's partner B is admitted
    ok(await invite(a.teacher, await network_room(a), fed.b.teacher.user_id))


@contextlib.asynccontextmanager
async def partner_pair(servers, tmp_path_factory, name: str) -> AsyncIterator[Fed]:
    """The world of two partner servers (``federated_servers`` without the third): school A on the
    first, school B on the second (also standing as ``c``), and A's network room. ``name`` names the
    roster folders."""
    handles = [Homeserver(s.settings) for s in servers]
    for h in handles:
        await h.open()
    try:
        sides = [await _side(h, write_attack_roster(tmp_path_factory.mktemp(f"{name}{i}")))
                 for i, h in enumerate(handles)]
        yield Fed(a=sides[0], b=sides[1], c=sides[1], network_room=await network_room(sides[0]),
                  started=time.monotonic())
    finally:
        for h in handles:
            await h.close()
