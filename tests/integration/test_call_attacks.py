"""Attacks on calls (issue 11): each test is one attack made as a real request, to Parta's token
service for group lessons (``/api/v1/livekit``, what Element Call calls instead of lk-jwt-service)
or to the real Synapse, by a pupil, another school's pupil, a pupil of another class, an account
in no organization or someone with no account; it asserts the refusal (status, errcode, Parta's
reason, a message in the asker's language) and, next to it, that the legitimate request succeeds
and, for tokens, what the token lets its holder do (its claims).

World (module fixture): the generated two-class school (``tests.schools.attack_cast``: class 5А's
class teacher, two pupils, a pupil of another class), school B (demo roster: pupil b-usr-002)
and an account in no organization.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
import pytest

from policies.templates import RoomRef, default_templates

from spaces_provisioner.install.matrix_rtc import livekit_service_url
from spaces_provisioner.ops.calls import livekit_identity, livekit_room

from .. import calls
from ..calls import ask_token, claims, device_of, get_token_body, join_call, leave_call, openid_token
from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, q
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()


@dataclass
class World:
    class_chat: str
    materials: str       # 5А's materials room: read-only for pupils
    space: str           # the school's space: call membership needs power 100
    teacher: User        # confirmed class teacher of 5А
    student: User        # a pupil of 5А
    classmate: User      # another pupil of 5А
    other_class: User    # a pupil of another class of the same school
    student_b: User      # a pupil of school B
    outsider: User       # an account in no organization


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("call-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org = a["org"]

    async def room(kind: str, class_id: str | None = None) -> str:
        return await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, kind, class_id))}:{hs.server_name}")

    return World(
        class_chat=await room("class_chat", c.class_id), materials=await room("class_materials", c.class_id),
        space=await room("school_space"),
        teacher=await hs.person(org, c.teacher, confirmed=True),
        student=await hs.person(org, c.student), classmate=await hs.person(org, c.classmate),
        other_class=await hs.person(org, c.other_class),
        student_b=await hs.person(b["org"], "b-usr-002"), outsider=await hs.outsider(),
    )


def refused(resp: tuple[int, dict, dict], reason: str, *, status: int = 403, errcode: str = "M_FORBIDDEN") -> dict:
    """Assert a refusal of the token service: status, errcode, reason, an English message, CORS headers."""
    code, body, headers = resp
    assert code == status, body
    assert body.get("errcode") == errcode and body.get("org.parta.reason") == reason, body
    assert body.get("error") and "jwt" not in body, body
    assert headers.get("Access-Control-Allow-Origin") == "*", headers  # Element Call can read why
    return body


def granted(hs, resp: tuple[int, dict, dict], u: User, room_id: str, device: str, member_id: str = "m1") -> dict:
    """Assert a token (lk-jwt-service's answer) and return its checked claims."""
    code, body, _headers = resp
    assert code == 200, body
    assert body["url"] == hs.settings.livekit_url
    c = claims(hs.settings, body["jwt"])
    assert c["sub"] == livekit_identity(u.user_id, device, member_id)
    video = c["video"]
    assert video["room"] == livekit_room(room_id, "m.call#ROOM")
    assert video["roomJoin"] is True and video["canPublish"] is True and video["canSubscribe"] is True
    assert not video.get("roomCreate") and not video.get("roomAdmin")
    assert not video.get("canUpdateOwnMetadata")  # names come from Matrix, never from LiveKit (as lk-jwt-service)
    assert 3500 <= c["exp"] - time.time() <= 3600
    return c


async def test_pupil_asks_for_a_token_to_start_a_lesson(hs, w):
    """No call runs in the class chat: a pupil may not start one (Sferum: the teacher starts the
    lesson); the class teacher may, and once the teacher's client joins, the pupil joins too."""
    body = refused(await ask_token(hs.settings, await get_token_body(w.student, w.class_chat)), "may_not_start_call")
    assert "teachers" in body["error"]
    ru = refused(await ask_token(hs.settings, await get_token_body(w.student, w.class_chat), language="ru"),
                 "may_not_start_call")
    assert "учител" in ru["error"].lower()
    granted(hs, await ask_token(hs.settings, await get_token_body(w.teacher, w.class_chat)), w.teacher, w.class_chat,
            await device_of(w.teacher))
    await join_call(w.teacher, w.class_chat)
    try:
        granted(hs, await ask_token(hs.settings, await get_token_body(w.student, w.class_chat)), w.student,
                w.class_chat, await device_of(w.student))
        # the older request shape gives the same room, identity @user:server:DEVICE
        code, answer, _ = await ask_token(hs.settings, {"room": w.class_chat, "openid_token": await openid_token(
            w.student), "device_id": "PHONE"}, path="sfu/get")
        assert code == 200, answer
        c = claims(hs.settings, answer["jwt"])
        assert c["sub"] == f"{w.student.user_id}:PHONE" and c["video"]["room"] == livekit_room(w.class_chat)
    finally:
        await leave_call(w.teacher, w.class_chat)
    refused(await ask_token(hs.settings, await get_token_body(w.student, w.class_chat)), "may_not_start_call")


async def test_other_school_pupil_asks_for_a_lesson_token(hs, w):
    """Another school's pupil, with a valid OpenID token of this server, asks for a token to the
    running lesson of school A's class chat: not a member, no token (lk-jwt-service would give one)."""
    await join_call(w.teacher, w.class_chat)
    try:
        for path, body in (("get_token", await get_token_body(w.student_b, w.class_chat)),
                           ("sfu/get", {"room": w.class_chat, "openid_token": await openid_token(w.student_b),
                                        "device_id": "DEV"})):
            refused(await ask_token(hs.settings, body, path=path), "call_not_member")
        granted(hs, await ask_token(hs.settings, await get_token_body(w.classmate, w.class_chat)), w.classmate,
                w.class_chat, await device_of(w.classmate))
    finally:
        await leave_call(w.teacher, w.class_chat)


async def test_non_member_asks_for_a_lesson_token(hs, w):
    """A pupil of another class of the same school, and an account in no organization, ask for a
    token to a running lesson; a made-up room id is answered the same (nothing tells the room exists)."""
    await join_call(w.teacher, w.class_chat)
    try:
        first = refused(await ask_token(hs.settings, await get_token_body(w.other_class, w.class_chat)),
                        "call_not_member")
        refused(await ask_token(hs.settings, await get_token_body(w.outsider, w.class_chat)), "call_not_member")
        made_up = refused(await ask_token(hs.settings, await get_token_body(w.outsider, f"!nope:{hs.server_name}")),
                          "call_not_member")
        assert made_up["error"] == first["error"]
        granted(hs, await ask_token(hs.settings, await get_token_body(w.student, w.class_chat)), w.student,
                w.class_chat, await device_of(w.student))
    finally:
        await leave_call(w.teacher, w.class_chat)


async def test_forged_openid_token_for_a_lesson(hs, w):
    """Tokens that prove nothing: a made-up OpenID token, one claimed to come from another server,
    a Matrix access token passed as an OpenID token, an expired one, and a real OpenID token of a
    pupil presented as the teacher's (to start the lesson in the teacher's name)."""
    base = await get_token_body(w.teacher, w.class_chat)
    real = base["openid_token"]
    for forged in ({**real, "access_token": "forged-" + real["access_token"][:8]},
                   {**real, "matrix_server_name": "evil.example"},
                   {**real, "access_token": w.teacher.token}):
        refused(await ask_token(hs.settings, {**base, "openid_token": forged}), "openid_token_unknown",
                status=401, errcode="M_UNKNOWN_TOKEN")
    expired = await openid_token(w.teacher)
    calls.expire_openid_token(hs.settings, expired["access_token"])
    refused(await ask_token(hs.settings, {**base, "openid_token": expired}), "openid_token_unknown",
            status=401, errcode="M_UNKNOWN_TOKEN")
    pupils = await openid_token(w.student)
    refused(await ask_token(hs.settings, {**base, "openid_token": pupils}), "call_identity_mismatch")
    refused(await ask_token(hs.settings, await get_token_body(w.student, w.class_chat, openid=pupils,
                                                              claimed_user_id=w.teacher.user_id)),
            "call_identity_mismatch")
    granted(hs, await ask_token(hs.settings, base), w.teacher, w.class_chat, await device_of(w.teacher))


async def test_turn_credentials_without_an_account(hs, w):
    """Synapse hands out TURN credentials (valid for coturn an hour) only to signed-in accounts:
    no access token gets 401, guests cannot register; a pupil gets them for both transports."""
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{hs.url}/_matrix/client/v3/voip/turnServer") as r:
            assert r.status == 401 and (await r.json())["errcode"] == "M_MISSING_TOKEN"
        async with s.post(f"{hs.url}/_matrix/client/v3/register", params={"kind": "guest"}, json={}) as r:
            assert r.status == 403 and "Guest access is disabled" in (await r.json())["error"]
    creds = await w.student.get("/_matrix/client/v3/voip/turnServer")
    assert creds["username"].endswith(":" + w.student.user_id) and creds["password"]
    assert {u.split("?")[1] for u in creds["uris"]} == {"transport=udp", "transport=tcp"}
    assert 3500 <= creds["ttl"] <= 3600


async def test_federation_stays_closed_next_to_openid(hs, w):
    """The homeserver's listener serves the one federation path the token service needs (OpenID
    userinfo) and nothing else of federation: another server cannot talk to it."""
    async with aiohttp.ClientSession() as s:
        for path in ("/_matrix/federation/v1/version", "/_matrix/key/v2/server",
                     f"/_matrix/federation/v1/query/profile?user_id={w.student.user_id}"):
            async with s.get(hs.url + path) as r:
                assert r.status == 404, (path, r.status)
        token = await openid_token(w.student)
        async with s.get(f"{hs.url}/_matrix/federation/v1/openid/userinfo",
                         params={"access_token": token["access_token"]}) as r:
            assert r.status == 200 and (await r.json()) == {"sub": w.student.user_id}


def module_refused(resp: tuple[int, dict], reason: str) -> dict:
    """Assert the homeserver's refusal of a call membership: 403, M_FORBIDDEN, Parta's reason."""
    code, body = resp
    assert code == 403 and body.get("errcode") == "M_FORBIDDEN", body
    assert body.get("org.parta.reason") == reason and body.get("error"), body
    return body


async def put_member(u: User, room_id: str, content: dict, device: str = "DEV") -> tuple[int, dict]:
    """``u``'s call membership state (Element Call's state key), the raw answer."""
    key = q(f"_{u.user_id}_{device}_m.call")
    return await u.attempt("PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{calls.CALL_MEMBER}/{key}", content)


def membership(device: str = "DEV", **extra) -> dict:
    """Element Call's membership content (matrix-js-sdk ``MembershipManager.makeMyMembership``)."""
    return {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": device,
            "expires": calls.FOUR_HOURS_MS, "focus_active": {"type": "livekit", "focus_selection": "oldest_membership"},
            "foci_preferred": [{"type": "livekit"}], **extra}


async def test_pupil_points_the_lesson_at_her_own_livekit_service(hs, w):
    """F5: a pupil joins the running lesson with a focus naming her own server, so that each
    classmate's Element Call (taking the oldest member's focus) would hand her its OpenID token,
    replayable at the token service for any room of theirs: the homeserver refuses every membership
    naming a LiveKit service or SFU other than this installation's (Synapse's ``matrix_rtc.transports``),
    in the foci Element Call sends (``foci_preferred``, ``focus_active``) and the newer ``rtc_transports``;
    the teacher's membership naming the installation's own service is accepted."""
    own = {"type": "livekit", "livekit_service_url": livekit_service_url(hs.settings), "livekit_alias": w.class_chat}
    evil = {"type": "livekit", "livekit_service_url": "https://evil.example/lk", "livekit_alias": w.class_chat}
    code, body = await put_member(w.teacher, w.class_chat, membership(foci_preferred=[own]))
    assert code == 200, body
    try:
        for content in (membership(foci_preferred=[evil]), membership(foci_preferred=[own, evil]),
                        membership(focus_active={**evil, "focus_selection": "oldest_membership"}),
                        membership(foci_preferred=[{"type": "livekit", "url": "wss://evil.example"}]),
                        membership(rtc_transports=[evil])):
            body = module_refused(await put_member(w.student, w.class_chat, content), "call_focus_foreign")
        assert "сервис звонков" in body["error"]  # the server's language
        # in her own chats too: there anyone starts a call, so the foreign focus would be the oldest
        dm = (await w.student.post("/_matrix/client/v3/createRoom", {
            "preset": "trusted_private_chat", "is_direct": True, "invite": [w.teacher.user_id]}))["room_id"]
        module_refused(await put_member(w.student, dm, membership(foci_preferred=[evil])), "call_focus_foreign")
        code, body = await put_member(w.student, w.class_chat, membership(foci_preferred=[own]))
        assert code == 200, body  # the legitimate join of the running lesson
        await leave_call(w.student, w.class_chat)
    finally:
        await leave_call(w.teacher, w.class_chat)


async def test_pupils_keep_a_lesson_running_without_the_teacher(hs, w):
    """F11: a pupil joins the lesson with a membership that never expires, the teacher leaves, and
    the pupils' memberships would keep the call "running" for each other: a membership must say
    when it ends, and only a live membership of someone who may start calls (the teacher) makes a
    running lesson, for the homeserver and for the token service alike."""
    await join_call(w.teacher, w.class_chat)
    try:
        no_expiry = {k: v for k, v in membership().items() if k != "expires"}
        module_refused(await put_member(w.student, w.class_chat, no_expiry), "call_member_no_expiry")
        await join_call(w.student, w.class_chat)          # the lesson runs: the pupils join
        await join_call(w.classmate, w.class_chat)
        granted(hs, await ask_token(hs.settings, await get_token_body(w.classmate, w.class_chat)), w.classmate,
                w.class_chat, await device_of(w.classmate))
    finally:
        await leave_call(w.teacher, w.class_chat)
    try:
        # the teacher has gone: the classmate's live membership makes no lesson for the pupil
        refused(await ask_token(hs.settings, await get_token_body(w.student, w.class_chat)), "may_not_start_call")
        module_refused(await put_member(w.student, w.class_chat, membership(device="PHONE")),
                       "may_not_start_call")
    finally:
        await leave_call(w.student, w.class_chat)
        await leave_call(w.classmate, w.class_chat)


async def test_pupil_takes_a_token_for_a_read_only_rooms_call(hs, w):
    """F3: in the class's materials room (read-only for pupils) the homeserver refuses the pupil's
    call membership, so the token service gives her no token either (no publishing into a read-only
    room's call, no unseen listener); the class teacher, who posts there, gets one. In the school's
    space a call membership needs power 100: no token for the teacher there."""
    await join_call(w.teacher, w.materials)
    try:
        module_refused(await put_member(w.student, w.materials, membership()), "announcements_read_only")
        body = refused(await ask_token(hs.settings, await get_token_body(w.student, w.materials)), "call_read_only")
        assert "read-only" in body["error"]
        granted(hs, await ask_token(hs.settings, await get_token_body(w.teacher, w.materials)), w.teacher,
                w.materials, await device_of(w.teacher))
    finally:
        await leave_call(w.teacher, w.materials)
    refused(await ask_token(hs.settings, await get_token_body(w.teacher, w.space)), "call_read_only")
