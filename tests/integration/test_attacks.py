"""Issue 3: the attack suite. Each test is one attack, made as a real request to a real Synapse
with Parta by an outsider (another school's user or a user in no organization), a student,
a parent or an unconfirmed teacher; it asserts the refusal (status, errcode, Parta's reason and
message) and, next to it, that the legitimate version of the same action succeeds for the
right person. docs/security.md lists every test here (tests/unit/repository/test_security_doc.py checks).

World (module fixture): school A from the example application and a two-class school made by
Parta's generator (``tests.schools.attack_cast``: class 5А with its class teacher, three pupils,
a parent of one of them and a parent of another; an unconfirmed teacher and a pupil of class
1А), school B (demo roster: teacher b-usr-001, student b-usr-002) and an account in no
organization.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import pytest

from policies.templates import RoomRef, default_templates

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, q
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
_n = itertools.count(1)
V = "/_matrix/client/v3"


@dataclass
class World:
    org_a: str
    org_b: str
    rooms: dict[str, str]     # short name → room id (school A unless prefixed "b_")
    aliases: dict[str, str]
    admin: User
    head: User
    teacher: User             # confirmed, class teacher of the class (5А)
    unconfirmed: User         # teaches another class
    student: User             # of the class
    classmate: User           # of the class
    student3: User            # of the class, child of parent3
    other_class: User         # a pupil of another class
    parent: User              # a parent of student
    parent3: User             # a parent of student3
    teacher_b: User
    student_b: User
    outsider: User


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("attack-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org, org_b = a["org"], b["org"]
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    refs = {
        "space": RoomRef(org, "school_space"), "announcements": RoomRef(org, "announcements"),
        "staff": RoomRef(org, "staff_room"), "administration": RoomRef(org, "administration"),
        "class_space": RoomRef(org, "class_space", c.class_id), "class_chat": RoomRef(org, "class_chat", c.class_id),
        "class_parents": RoomRef(org, "class_parents", c.class_id),
        "class_announcements": RoomRef(org, "class_announcements", c.class_id),
        "b_space": RoomRef(org_b, "school_space"), "b_staff": RoomRef(org_b, "staff_room"),
    }
    aliases = {k: f"#{T.alias_localpart(r)}:{hs.server_name}" for k, r in refs.items()}
    rooms = {k: await hs.bot.resolve_alias(al) for k, al in aliases.items()}
    return World(
        org_a=org, org_b=org_b, rooms=rooms, aliases=aliases,
        admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
        head=await hs.login(acc["head"]["user_id"], acc["head"]["password"]),
        teacher=await hs.person(org, c.teacher, confirmed=True),
        unconfirmed=await hs.person(org, c.unconfirmed, confirmed=False),
        student=await hs.person(org, c.student), classmate=await hs.person(org, c.classmate),
        student3=await hs.person(org, c.student3), other_class=await hs.person(org, c.other_class),
        parent=await hs.person(org, c.parent), parent3=await hs.person(org, c.parent3),
        teacher_b=await hs.person(org_b, "b-usr-001", confirmed=True), student_b=await hs.person(org_b, "b-usr-002"),
        outsider=await hs.outsider(),
    )


def family(role: str) -> str:
    """The family name of a person of the cast (``student``, ``parent3``...), as one types it to
    search the directory (Synapse matches display names case-insensitively on SQLite and PostgreSQL)."""
    c = attack_cast()
    return c.name(getattr(c, role)).family_name


def refused(resp: tuple[int, dict], reason: str | None = None, *, status: int = 403,
            errcode: str = "M_FORBIDDEN", says: str | None = None) -> dict:
    """Assert a refusal: HTTP status, errcode, Parta's reason code, the English message has ``says``."""
    code, body = resp
    assert code == status, body
    assert body.get("errcode") == errcode, body
    if reason is not None:
        assert body.get("org.parta.reason") == reason, body
        assert body.get("error"), body  # the message in the server's language (Russian by default)
    if says is not None:
        text = body.get("org.parta.messages", {}).get("en") or body.get("error", "")
        assert says in text, body
    return body


async def finds(u: User, term: str, target: User, timeout: float = 15.0) -> list[str]:
    """Search until ``target`` shows up (Synapse updates its user directory in the background)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await u.search_users(term)
        if target.user_id in found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.2)


def ok(resp: tuple[int, dict]) -> dict:
    code, body = resp
    assert code == 200, body
    return body


async def join(u: User, room: str):
    return await u.attempt("POST", f"{V}/join/{q(room)}", {})


async def leave(u: User, room: str):
    return await u.attempt("POST", f"{V}/rooms/{q(room)}/leave", {})


async def invite(u: User, room: str, user_id: str):
    return await u.attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": user_id})


async def create(u: User, body: dict):
    return await u.attempt("POST", f"{V}/createRoom", body)


async def dm(u: User, other: User, **extra):
    return await create(u, {"preset": "trusted_private_chat", "is_direct": True, "invite": [other.user_id], **extra})


async def put_state(u: User, room: str, etype: str, key: str, content: dict):
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/state/{q(etype)}/{q(key)}", content)


async def send(u: User, room: str, etype: str = "m.room.message", content: dict | None = None):
    content = content if content is not None else {"msgtype": "m.text", "body": "hello"}
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/{q(etype)}/a{next(_n)}", content)


async def rejoin(u: User, room: str) -> None:
    """Leave and join again (the legitimate join)."""
    ok(await leave(u, room))
    ok(await join(u, room))


# --- joining by room ID and by alias ------------------------------------------------------------

async def test_outsider_joins_school_space_by_id(w):
    refused(await join(w.outsider, w.rooms["space"]), "not_in_organization", says="only its participants")
    ok(await leave(w.classmate, w.rooms["space"]))  # the school space is invite-only: the school invites back
    ok(await invite(w.admin, w.rooms["space"], w.classmate.user_id))
    ok(await join(w.classmate, w.rooms["space"]))


async def test_outsider_joins_class_chat_by_alias(w):
    refused(await join(w.outsider, w.aliases["class_chat"]), "not_in_organization")
    ok(await leave(w.classmate, w.rooms["class_chat"]))
    ok(await join(w.classmate, w.aliases["class_chat"]))


async def test_other_school_teacher_joins_staff_room_by_id(w):
    refused(await join(w.teacher_b, w.rooms["staff"]), "not_in_organization")
    await rejoin(w.teacher, w.rooms["staff"])


async def test_other_school_teacher_joins_staff_room_by_alias(w):
    refused(await join(w.teacher_b, w.aliases["staff"]), "not_in_organization")
    ok(await leave(w.teacher, w.rooms["staff"]))
    ok(await join(w.teacher, w.aliases["staff"]))


async def test_other_school_student_joins_class_space(w):
    refused(await join(w.student_b, w.rooms["class_space"]), "not_in_organization")
    await rejoin(w.student, w.rooms["class_space"])


async def test_student_joins_staff_room(w):
    refused(await join(w.student, w.rooms["staff"]), "not_for_staff_room", says="teachers and administration")
    await rejoin(w.head, w.rooms["staff"])


async def test_unconfirmed_teacher_joins_staff_room(w):
    refused(await join(w.unconfirmed, w.aliases["staff"]), "not_for_staff_room")
    await rejoin(w.teacher, w.rooms["staff"])


async def test_parent_joins_class_chat(w):
    refused(await join(w.parent, w.rooms["class_chat"]), "not_for_class_chat",
            says=f"class {attack_cast().class_title}")
    await rejoin(w.student, w.rooms["class_chat"])


async def test_student_joins_parents_chat(w):
    refused(await join(w.student, w.rooms["class_parents"]), "not_for_class_parents", says="parents of class")
    await rejoin(w.parent, w.rooms["class_parents"])


async def test_student_of_another_class_joins_class_chat(w):
    refused(await join(w.other_class, w.rooms["class_chat"]), "not_for_class_chat",
            says=f"class {attack_cast().class_title}")
    await rejoin(w.classmate, w.rooms["class_chat"])


async def test_student_joins_administration_room(w):
    refused(await join(w.student, w.rooms["administration"]), "not_for_administration", says="administrators and head")
    ok(await leave(w.head, w.rooms["administration"]))  # invite-only: the administrator invites back
    ok(await invite(w.admin, w.rooms["administration"], w.head.user_id))
    ok(await join(w.head, w.rooms["administration"]))


async def test_outsider_knocks_on_class_chat(w):
    code, body = await w.outsider.attempt("POST", f"{V}/knock/{q(w.rooms['class_chat'])}", {})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    await rejoin(w.student, w.rooms["class_chat"])


async def test_outsider_joins_the_registry(w, hs):
    registry = await hs.bot.resolve_alias(f"#parta.registry:{hs.server_name}")
    code, body = await join(w.outsider, registry)
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    assert (await hs.bot.room_state(registry))  # the bot, its only member, reads it


# --- invitations --------------------------------------------------------------------------------

async def test_student_invites_outsider_into_class_chat(w):
    refused(await invite(w.student, w.rooms["class_chat"], w.outsider.user_id), "may_not_invite")
    ok(await leave(w.classmate, w.rooms["class_chat"]))
    ok(await invite(w.teacher, w.rooms["class_chat"], w.classmate.user_id))
    ok(await join(w.classmate, w.rooms["class_chat"]))


async def test_teacher_invites_friend_from_another_school_into_staff_room(w):
    refused(await invite(w.teacher, w.rooms["staff"], w.teacher_b.user_id), "not_in_organization",
            says="cannot be invited")
    ok(await leave(w.head, w.rooms["staff"]))
    ok(await invite(w.teacher, w.rooms["staff"], w.head.user_id))
    ok(await join(w.head, w.rooms["staff"]))


async def test_teacher_invites_parent_into_class_chat(w):
    refused(await invite(w.teacher, w.rooms["class_chat"], w.parent.user_id), "not_for_class_chat")
    ok(await leave(w.student, w.rooms["class_chat"]))
    ok(await invite(w.teacher, w.rooms["class_chat"], w.student.user_id))
    ok(await join(w.student, w.rooms["class_chat"]))


async def test_compromised_student_invites_outsider_into_direct_chat(w):
    room = ok(await dm(w.student, w.teacher))["room_id"]
    refused(await invite(w.student, room, w.outsider.user_id), "direct_chat_full")
    group = ok(await create(w.teacher, {"name": "Олимпиада"}))["room_id"]
    ok(await invite(w.teacher, group, w.student.user_id))


async def test_outsider_invites_student_into_own_room(w):
    room = ok(await create(w.outsider, {"name": "Игры"}))["room_id"]
    refused(await invite(w.outsider, room, w.student.user_id), "no_shared_organization")
    group = ok(await create(w.teacher, {"name": "Кружок"}))["room_id"]
    ok(await invite(w.teacher, group, w.student.user_id))


async def test_teacher_invites_other_family_parent_into_group_with_student(w):
    group = ok(await create(w.teacher, {"name": "Проект", "invite": [w.student.user_id]}))["room_id"]
    refused(await invite(w.teacher, group, w.parent3.user_id), "child_safety", says="because of who is in it")
    ok(await invite(w.teacher, group, w.parent.user_id))


async def test_invite_by_email(w):
    room = ok(await create(w.teacher, {"name": "Родительский комитет"}))["room_id"]
    code, body = await w.teacher.attempt("POST", f"{V}/rooms/{q(room)}/invite", {
        "medium": "email", "address": "someone@example.org", "id_server": "id.example.org",
        "id_access_token": "x"})
    assert code == 403 and "third-party identifiers" in body["error"], body  # enable_3pid_lookup: false
    refused(await create(w.teacher, {"name": "По почте", "invite_3pid": [{
        "medium": "email", "address": "someone@example.org", "id_server": "id.example.org",
        "id_access_token": "x"}]}), "no_3pid_invites")
    ok(await invite(w.teacher, room, w.head.user_id))


async def test_federated_invite_target_is_refused(w):
    room = ok(await create(w.teacher, {"name": "Методобъединение"}))["room_id"]
    code, body = await invite(w.teacher, room, "@someone:remote.example")
    assert code == 403, body
    ok(await invite(w.teacher, room, w.admin.user_id))


# --- direct chats: child safety -------------------------------------------------------------------

async def test_outsider_opens_direct_chat_with_student(w):
    refused(await dm(w.outsider, w.student), "no_shared_organization", says="not in your school")
    ok(await dm(w.teacher, w.student))


async def test_other_school_teacher_opens_direct_chat_with_student(w):
    refused(await dm(w.teacher_b, w.student), "no_shared_organization")
    ok(await dm(w.teacher_b, w.student_b))


async def test_parent_messages_another_familys_child(w):
    refused(await dm(w.parent3, w.student), "child_safety", says="own teachers, own parents")
    ok(await dm(w.parent3, w.student3))


async def test_parent_messages_child_of_another_family_by_invite(w):
    room = ok(await dm(w.parent, w.teacher))["room_id"]
    refused(await invite(w.parent, room, w.student3.user_id), "direct_chat_full")
    ok(await dm(w.parent, w.student))


async def test_student_messages_adult_outsider(w):
    refused(await dm(w.student, w.outsider), "no_shared_organization")
    ok(await dm(w.student, w.parent))


async def test_student_messages_unconfirmed_teacher(w):
    refused(await dm(w.student, w.unconfirmed), "child_safety")
    ok(await dm(w.student, w.teacher))


async def test_student_messages_other_familys_parent(w):
    refused(await dm(w.student, w.parent3), "child_safety")
    ok(await dm(w.student, w.parent))


async def test_student_messages_student_of_another_class(w):
    refused(await dm(w.student, w.other_class), "child_safety")
    ok(await dm(w.student, w.classmate))


async def test_student_messages_student_of_another_school(w):
    refused(await dm(w.student, w.student_b), "no_shared_organization")
    ok(await dm(w.student, w.student3))


async def test_unconfirmed_teacher_messages_student(w):
    refused(await dm(w.unconfirmed, w.other_class), "child_safety")
    ok(await dm(w.unconfirmed, w.teacher))


# --- creating rooms ---------------------------------------------------------------------------------

async def test_student_creates_group_chat(w):
    refused(await create(w.student, {"name": "Наш чат", "invite": [w.classmate.user_id, w.student3.user_id]}),
            "may_not_create_chat")
    ok(await create(w.teacher, {"name": "Наш чат", "invite": [w.student.user_id, w.classmate.user_id]}))


async def test_unconfirmed_teacher_creates_group_chat(w):
    refused(await create(w.unconfirmed, {"name": "Мой кружок"}), "may_not_create_chat")
    ok(await create(w.teacher, {"name": "Мой кружок"}))


async def test_room_created_with_school_space_as_parent(w):
    refused(await create(w.teacher, {"name": "Подпольный чат", "initial_state": [
        {"type": "m.space.parent", "state_key": w.rooms["space"], "content": {"via": ["x"], "canonical": True}}]}),
        "bot_only_state")
    ok(await create(w.teacher, {"name": "Обычный чат"}))


async def test_public_room_creation(w):
    refused(await create(w.outsider, {"preset": "public_chat", "name": "Всем сюда"}), "no_public_rooms")
    refused(await create(w.teacher, {"visibility": "public", "name": "Всем сюда"}), "no_public_rooms")
    ok(await create(w.outsider, {"preset": "private_chat", "name": "Для своих"}))


async def test_room_created_world_readable_or_with_guests(w):
    refused(await create(w.teacher, {"name": "Открытый", "initial_state": [
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "world_readable"}}]}),
        "closed_rooms")
    refused(await create(w.teacher, {"name": "Гости", "initial_state": [
        {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}}]}),
        "closed_rooms")
    ok(await create(w.teacher, {"name": "Закрытый", "initial_state": [
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}}]}))


async def test_teacher_creates_a_space(w):
    refused(await create(w.teacher, {"name": "Моё пространство", "creation_content": {"type": "m.space"}}),
            "no_spaces")
    ok(await create(w.teacher, {"name": "Моя комната"}))


async def test_created_rooms_do_not_federate(w, hs):
    room = ok(await create(w.teacher, {"name": "Кружок", "creation_content": {"m.federate": True}}))["room_id"]
    state = await w.teacher.state(room)
    assert state[("m.room.create", "")]["m.federate"] is False


# --- state changes ---------------------------------------------------------------------------------

async def test_admin_turns_class_chat_public(w):
    ok(await join(w.admin, w.rooms["class_chat"]))
    refused(await put_state(w.admin, w.rooms["class_chat"], "m.room.join_rules", "", {"join_rule": "public"}),
            "closed_rooms", says="'public'")
    ok(await put_state(w.admin, w.rooms["class_chat"], "m.room.topic", "", {"topic": "Биология, 10 класс"}))


async def test_teacher_turns_own_chat_public(w):
    room = ok(await create(w.teacher, {"name": "Свой чат"}))["room_id"]
    refused(await put_state(w.teacher, room, "m.room.join_rules", "", {"join_rule": "public"}), "closed_rooms")
    refused(await put_state(w.teacher, room, "m.room.join_rules", "", {"join_rule": "knock"}), "closed_rooms")
    ok(await put_state(w.teacher, room, "m.room.name", "", {"name": "Свой чат 2"}))


async def test_class_chat_restricted_to_another_space(w):
    content = {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": w.rooms["b_space"]}]}
    ok(await join(w.admin, w.rooms["class_chat"]))
    refused(await put_state(w.admin, w.rooms["class_chat"], "m.room.join_rules", "", content), "closed_rooms")
    room = ok(await create(w.teacher, {"name": "Пока открытый"}))["room_id"]
    ok(await put_state(w.teacher, room, "m.room.join_rules", "", {"join_rule": "invite"}))


async def test_class_chat_made_world_readable(w):
    ok(await join(w.admin, w.rooms["class_chat"]))
    refused(await put_state(w.admin, w.rooms["class_chat"], "m.room.history_visibility", "",
                            {"history_visibility": "world_readable"}), "closed_rooms")
    ok(await put_state(w.admin, w.rooms["class_chat"], "m.room.history_visibility", "",
                       {"history_visibility": "shared"}))


async def test_student_raises_own_power_level(w):
    state = await w.student.state(w.rooms["class_chat"])
    pl = state[("m.room.power_levels", "")]
    raised = {**pl, "users": {**pl["users"], w.student.user_id: 100}}
    refused(await put_state(w.student, w.rooms["class_chat"], "m.room.power_levels", "", raised),
            "room_settings_admin_only", says="administrators")
    ok(await join(w.admin, w.rooms["class_chat"]))
    ok(await put_state(w.admin, w.rooms["class_chat"], "m.room.power_levels", "", pl))


async def test_teacher_raises_own_power_level(w):
    state = await w.teacher.state(w.rooms["class_chat"])
    pl = state[("m.room.power_levels", "")]
    raised = {**pl, "users": {**pl["users"], w.teacher.user_id: 100}}
    refused(await put_state(w.teacher, w.rooms["class_chat"], "m.room.power_levels", "", raised),
            "room_settings_admin_only")
    ok(await join(w.admin, w.rooms["class_chat"]))
    ok(await put_state(w.admin, w.rooms["class_chat"], "m.room.power_levels", "", pl))


async def test_teacher_enables_encryption_in_class_chat(w):
    refused(await put_state(w.teacher, w.rooms["class_chat"], "m.room.encryption", "",
                            {"algorithm": "m.megolm.v1.aes-sha2"}), "room_settings_admin_only")
    ok(await put_state(w.teacher, w.rooms["class_chat"], "m.room.topic", "", {"topic": "Домашние задания"}))


async def test_student_encrypts_direct_chat_when_school_keeps_it_off(w):
    room = ok(await dm(w.student, w.teacher, initial_state=[
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]))["room_id"]
    state = await w.student.state(room)
    assert ("m.room.encryption", "") not in state  # stripped at creation: the school can moderate
    refused(await put_state(w.student, room, "m.room.encryption", "", {"algorithm": "m.megolm.v1.aes-sha2"}),
            "encryption_off")
    ok(await put_state(w.student, room, "m.room.name", "", {"name": "Вопросы по биологии"}))


async def test_forging_role_state(w, hs):
    refused(await put_state(w.student, w.rooms["space"], "org.parta.role", f"_{w.student.user_id}",
                            {"role": "teacher", "confirmed": True}), "bot_only_state")
    room = ok(await dm(w.student, w.teacher))["room_id"]
    refused(await put_state(w.student, room, "org.parta.role", f"_{w.student.user_id}",
                            {"role": "teacher", "confirmed": True}), "bot_only_state")
    state = await w.student.state(w.rooms["space"])
    assert state[("org.parta.role", f"_{w.teacher.user_id}")] == {"role": "teacher", "confirmed": True}


async def test_forging_room_kind_state(w):
    room = ok(await dm(w.student, w.teacher))["room_id"]
    refused(await put_state(w.student, room, "org.parta.room", "", {"kind": "class_chat", "org": w.org_a}),
            "bot_only_state")
    ok(await put_state(w.student, room, "m.room.topic", "", {"topic": "Вопросы"}))


async def test_linking_own_room_into_school_space(w):
    room = ok(await create(w.teacher, {"name": "Самозванец"}))["room_id"]
    refused(await put_state(w.teacher, room, "m.space.parent", w.rooms["space"], {"via": ["x"]}), "bot_only_state")
    refused(await put_state(w.admin, w.rooms["space"], "m.space.child", room, {"via": ["x"]}), "bot_only_state")
    ok(await put_state(w.teacher, room, "m.room.topic", "", {"topic": "Обычная комната"}))


async def test_upgrading_class_chat(w):
    code, body = await w.student.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/upgrade",
                                         {"new_version": "12"})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    ok(await join(w.admin, w.rooms["class_chat"]))
    refused(await w.admin.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/upgrade",
                                  {"new_version": "12"}), None)
    room = ok(await create(w.teacher, {"name": "Старая комната"}))["room_id"]
    # a made-up predecessor does not make a room creation an "upgrade" that skips the decision
    refused(await create(w.student, {"name": "Новый класс", "creation_content": {
        "predecessor": {"room_id": w.rooms["class_chat"]}}}), "no_upgrades")
    refused(await create(w.student, {"name": "Новый класс", "creation_content": {
        "predecessor": {"room_id": room}}}), "no_upgrades")
    # even the chat's own creator: the upgraded room would lose Parta's tag and with it every rule of
    # people's chats (relationships, encryption off); a new chat is made instead
    refused(await w.teacher.attempt("POST", f"{V}/rooms/{q(room)}/upgrade", {"new_version": "12"}), "no_upgrades")
    ok(await create(w.teacher, {"name": "Новая комната"}))


# --- directory and aliases -------------------------------------------------------------------------

async def test_publishing_class_chat_to_the_directory(w):
    ok(await join(w.admin, w.rooms["class_chat"]))
    refused(await w.admin.attempt("PUT", f"{V}/directory/list/room/{q(w.rooms['class_chat'])}",
                                  {"visibility": "public"}), "no_directory")
    assert ok(await w.admin.attempt("GET", f"{V}/directory/list/room/{q(w.rooms['class_chat'])}"))[
        "visibility"] == "private"  # reading the room's (private) visibility works; the directory stays empty
    assert ok(await w.outsider.attempt("GET", f"{V}/publicRooms"))["chunk"] == []


async def test_alias_in_another_schools_namespace(w):
    room = ok(await create(w.teacher_b, {"name": "Фальшивая школа"}))["room_id"]
    server = w.aliases["space"].split(":", 1)[1]
    for alias in (f"#{w.org_a}.staff2:{server}", f"#{w.org_a.upper()}.staff:{server}",  # another letter case
                  f"#{w.org_a.replace('o', 'о')}.staff:{server}",                       # Cyrillic look-alike "о"
                  f"#raduga-fan-club-{next(_n)}:{server}"):                             # no school's name at all
        refused(await w.teacher_b.attempt("PUT", f"{V}/directory/room/{q(alias)}", {"room_id": room}), "no_aliases")
    # the school's own address leads to the school's room; a chat is shared by inviting
    assert ok(await w.teacher.attempt("GET", f"{V}/directory/room/{q(w.aliases['staff'])}"))["room_id"] == \
        w.rooms["staff"]
    ok(await invite(w.teacher_b, room, w.student_b.user_id))


async def test_alias_in_own_schools_namespace_at_creation(w):
    refused(await create(w.teacher, {"name": "Учительская 2", "room_alias_name": f"{w.org_a}.staff-2"}),
            "no_aliases")
    refused(await create(w.teacher, {"name": "Кружок", "room_alias_name": f"krujok-{next(_n)}"}), "no_aliases")
    ok(await create(w.teacher, {"name": "Кружок"}))


async def test_alias_pointing_at_a_school_room(w):
    alias = f"#our-class-{next(_n)}:{w.aliases['space'].split(':', 1)[1]}"
    refused(await w.teacher.attempt("PUT", f"{V}/directory/room/{q(alias)}", {"room_id": w.rooms["class_chat"]}),
            "no_aliases")
    assert ok(await w.student.attempt("GET", f"{V}/directory/room/{q(w.aliases['class_chat'])}"))["room_id"] == \
        w.rooms["class_chat"]


# --- seeing what one is not part of ----------------------------------------------------------------

async def test_outsider_reads_school_hierarchy(w):
    code, body = await w.outsider.attempt("GET", f"/_matrix/client/v1/rooms/{q(w.rooms['space'])}/hierarchy")
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    rooms = ok(await w.student.attempt("GET", f"/_matrix/client/v1/rooms/{q(w.rooms['space'])}/hierarchy"))
    assert any(r["room_id"] == w.rooms["class_chat"] for r in rooms["rooms"])


async def test_other_school_reads_class_space_hierarchy(w):
    code, body = await w.teacher_b.attempt("GET", f"/_matrix/client/v1/rooms/{q(w.rooms['class_space'])}/hierarchy")
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    ok(await w.parent.attempt("GET", f"/_matrix/client/v1/rooms/{q(w.rooms['class_space'])}/hierarchy"))


async def test_outsider_reads_room_summary(w):
    code, body = await w.outsider.attempt("GET", f"/_matrix/client/v1/room_summary/{q(w.rooms['class_chat'])}")
    assert code in (403, 404) and body["errcode"] in ("M_FORBIDDEN", "M_NOT_FOUND"), body
    ok(await w.student.attempt("GET", f"/_matrix/client/v1/room_summary/{q(w.rooms['class_chat'])}"))


async def test_outsider_reads_class_chat_messages_and_state(w):
    code, body = await w.outsider.attempt("GET", f"{V}/rooms/{q(w.rooms['class_chat'])}/messages", query={"dir": "b"})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    code, body = await w.outsider.attempt("GET", f"{V}/rooms/{q(w.rooms['class_chat'])}/state")
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    ok(await w.student.attempt("GET", f"{V}/rooms/{q(w.rooms['class_chat'])}/messages", query={"dir": "b"}))


async def test_parent_reads_class_chat_messages(w):
    code, body = await w.parent.attempt("GET", f"{V}/rooms/{q(w.rooms['class_chat'])}/messages", query={"dir": "b"})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    ok(await w.parent.attempt("GET", f"{V}/rooms/{q(w.rooms['class_parents'])}/messages", query={"dir": "b"}))


async def test_outsider_searches_directory(w):
    assert await w.outsider.search_users(family("student")) == []
    assert w.student.user_id in await finds(w.teacher, family("student"), w.student)


async def test_other_school_searches_directory(w):
    assert w.teacher.user_id not in await w.teacher_b.search_users(family("teacher"))
    assert w.teacher.user_id in await finds(w.head, family("teacher"), w.teacher)


async def test_student_finds_only_people_they_may_reach(w):
    # student3 shares the school and class spaces with parent (another family's parent): hidden
    assert w.parent.user_id not in await w.student3.search_users(family("parent"))
    assert w.parent3.user_id in await finds(w.student3, family("parent3"), w.parent3)  # own parent
    assert w.classmate.user_id in await finds(w.student3, family("classmate"), w.classmate)  # a classmate
    assert w.parent3.user_id in await finds(w.teacher, family("parent3"), w.parent3)


async def test_nobody_finds_the_bot(w, hs):
    assert hs.bot.user_id not in await w.admin.search_users("parta")


async def test_outsider_fetches_profiles(w):
    code, body = await w.outsider.attempt("GET", f"{V}/profile/{q(w.student.user_id)}")
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    profile = ok(await w.classmate.attempt("GET", f"{V}/profile/{q(w.student.user_id)}"))
    assert profile["displayname"] == attack_cast().name(attack_cast().student).display


async def test_other_school_fetches_profiles(w):
    code, body = await w.teacher_b.attempt("GET", f"{V}/profile/{q(w.teacher.user_id)}/displayname")
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    ok(await w.teacher.attempt("GET", f"{V}/profile/{q(w.admin.user_id)}/displayname"))


async def test_user_sets_own_display_name(w):
    code, body = await w.student.attempt("PUT", f"{V}/profile/{q(w.student.user_id)}/displayname",
                                         {"displayname": "Учитель Иванов"})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    assert ok(await w.teacher.attempt("GET", f"{V}/profile/{q(w.student.user_id)}/displayname"))[
        "displayname"] == attack_cast().name(attack_cast().student).display


async def test_lookup_by_email(w):
    code, body = await w.outsider.attempt("POST", f"{V}/user_directory/search",
                                          {"search_term": "jcraig@classrmtest31.org"})
    assert code == 200 and body["results"] == [], body
    assert ok(await w.outsider.attempt("GET", f"{V}/account/3pid"))["threepids"] == []


# --- announcements ---------------------------------------------------------------------------------

async def test_student_posts_in_school_announcements(w):
    event = ok(await send(w.head, w.rooms["announcements"], content={"msgtype": "m.text", "body": "Каникулы!"}))
    refused(await send(w.student, w.rooms["announcements"]), "announcements_read_only", says="react")
    ok(await send(w.student, w.rooms["announcements"], "m.reaction",
                  {"m.relates_to": {"rel_type": "m.annotation", "event_id": event["event_id"], "key": "👍"}}))


async def test_teacher_posts_in_school_announcements(w):
    refused(await send(w.teacher, w.rooms["announcements"]), "announcements_read_only")
    ok(await send(w.admin, w.rooms["announcements"]))


async def test_parent_posts_in_class_announcements(w):
    refused(await send(w.parent, w.rooms["class_announcements"]), "announcements_read_only")
    ok(await send(w.teacher, w.rooms["class_announcements"]))


async def test_student_answers_poll_in_class_announcements(w):
    poll = ok(await send(w.teacher, w.rooms["class_announcements"], "org.matrix.msc3381.poll.start", {
        "org.matrix.msc3381.poll.start": {"question": {"org.matrix.msc1767.text": "Экскурсия?"},
                                          "kind": "org.matrix.msc3381.poll.disclosed", "max_selections": 1,
                                          "answers": [{"id": "y", "org.matrix.msc1767.text": "Да"}]}}))
    refused(await send(w.student, w.rooms["class_announcements"], "org.matrix.msc3381.poll.start", {
        "org.matrix.msc3381.poll.start": {"question": {"org.matrix.msc1767.text": "Отменим уроки?"},
                                          "answers": []}}), "announcements_read_only")
    ok(await send(w.student, w.rooms["class_announcements"], "org.matrix.msc3381.poll.response", {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll["event_id"]},
        "org.matrix.msc3381.poll.response": {"answers": ["y"]}}))


async def test_student_starts_group_call_in_class_chat(w):
    code, body = await put_state(w.student, w.rooms["class_chat"], "org.matrix.msc3401.call", "call1",
                                 {"m.intent": "m.room", "m.type": "m.video"})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    ok(await put_state(w.teacher, w.rooms["class_chat"], "org.matrix.msc3401.call", "call1",
                       {"m.intent": "m.room", "m.type": "m.video"}))


async def test_teacher_redacts_the_class_chats_parta_state(w, hs):
    tag_id = (await w.teacher.get(f"{V}/rooms/{q(w.rooms['class_chat'])}/state/org.parta.room/"))
    state_events = await w.teacher.get(f"{V}/rooms/{q(w.rooms['class_chat'])}/state")
    tag_event = next(e["event_id"] for e in state_events if e["type"] == "org.parta.room")
    assert tag_id.get("kind") == "class_chat"
    refused(await w.teacher.attempt("PUT", f"{V}/rooms/{q(w.rooms['class_chat'])}/redact/{q(tag_event)}/r{next(_n)}",
                                    {"reason": "открыть чат"}), "no_state_redaction")
    refused(await join(w.parent, w.rooms["class_chat"]), "not_for_class_chat")  # still closed
    message = ok(await send(w.student, w.rooms["class_chat"], content={"msgtype": "m.text", "body": "спам"}))
    ok(await w.teacher.attempt("PUT", f"{V}/rooms/{q(w.rooms['class_chat'])}/redact/{q(message['event_id'])}/"
                                      f"r{next(_n)}", {"reason": "модерация"}))


async def test_cross_school_network_room(w, hs):
    r = await hs.api.call("POST", "/network-rooms", json={"name": "Олимпиада по биологии",
                                                         "orgs": [w.org_a, w.org_b]})
    room = r["room_id"]
    await hs.bot.request(__import__("mautrix.api", fromlist=["Method"]).Method.POST,
                         f"/_synapse/admin/v1/join/{q(room)}", {"user_id": w.teacher.user_id})
    refused(await invite(w.teacher, room, w.student.user_id), "network_staff_only")
    refused(await invite(w.teacher, room, w.unconfirmed.user_id), "network_staff_only")
    refused(await join(w.student_b, room), None)
    ok(await invite(w.teacher, room, w.teacher_b.user_id))
    ok(await join(w.teacher_b, room))


async def test_student_starts_or_fakes_a_call_membership(w):
    key_teacher = f"_{w.teacher.user_id}_DEVX"
    member = {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": "DEV", "expires": 3_600_000,
              "focus_active": {"type": "livekit", "focus_selection": "oldest_membership"},
              "foci_preferred": [{"type": "livekit"}]}  # a foreign focus: test_call_attacks.py
    refused(await put_state(w.student, w.rooms["class_chat"], "org.matrix.msc3401.call.member", key_teacher, member),
            "call_member_not_own")
    refused(await put_state(w.student, w.rooms["class_chat"], "org.matrix.msc3401.call.member",
                            f"_{w.student.user_id}_DEV1", member), "may_not_start_call")
    refused(await put_state(w.student, w.rooms["announcements"], "org.matrix.msc3401.call.member",
                            f"_{w.student.user_id}_DEV1", member), None)
    ok(await put_state(w.teacher, w.rooms["class_chat"], "org.matrix.msc3401.call.member",
                       f"_{w.teacher.user_id}_DEVT", member))
    ok(await put_state(w.student, w.rooms["class_chat"], "org.matrix.msc3401.call.member",
                       f"_{w.student.user_id}_DEV1", member))  # the lesson is running: the student joins
    ok(await put_state(w.teacher, w.rooms["class_chat"], "org.matrix.msc3401.call.member",
                       f"_{w.teacher.user_id}_DEVT", {}))


async def test_room_named_with_the_teachers_badge(w):
    teacher = attack_cast().name(attack_cast().teacher)
    refused(await dm(w.student, w.parent, name=f"{teacher.family_name} {teacher.given_name} ✓"), "badge_imitation")
    room = ok(await dm(w.student, w.parent, name="Мама"))["room_id"]
    refused(await put_state(w.student, room, "m.room.name", "", {"name": "Учитель Фейн ✔"}), "badge_imitation")
    refused(await put_state(w.student, room, "m.room.topic", "", {"topic": "классный руководитель ✓"}),
            "badge_imitation")
    ok(await put_state(w.student, room, "m.room.name", "", {"name": "Мама и я"}))


async def test_text_disguised_as_a_reaction_in_announcements(w):
    refused(await send(w.student, w.rooms["announcements"], "m.reaction",
                       {"msgtype": "m.text", "body": "реклама"}), "announcements_read_only")
    event = ok(await send(w.head, w.rooms["announcements"], content={"msgtype": "m.text", "body": "Собрание"}))
    ok(await send(w.student, w.rooms["announcements"], "m.reaction",
                  {"m.relates_to": {"rel_type": "m.annotation", "event_id": event["event_id"], "key": "✅"}}))
