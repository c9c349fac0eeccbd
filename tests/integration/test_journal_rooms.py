"""The journal bridge's rooms against a real Synapse with Parta: the pupils' diaries, the journal
status room, the bridge's narrow rights, the journal's link in class rooms.

The bridge is an application service's user (``@parta_journal``, registered by ``parta init``); the
test acts as it with the application service's own token (the registration's ``as_token``), as
the bridge does: it accepts the bot's invitations itself. The bridge's process runs in the session
too and may accept an invitation first, so the tests join only where it has not joined yet. The
school is one of its own, with ``journal_bridge`` on and a ``journal_url``, so that turning the
bridge off at the end touches nobody else. docs/security.md lists every test (rows 110 on).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import pytest
from mautrix.errors import MatrixRequestError
from ruamel.yaml import YAML

from policies.state_events import JOURNAL_WIDGET, WIDGET_TYPE
from policies.templates import RoomRef, default_templates

from spaces_provisioner.cli.application_file import read_application_data
from spaces_provisioner.homeserver.bot import register_with_shared_secret
from spaces_provisioner.install.journal_bridge import as_token

from ..helpers import EXAMPLE_APPLICATION, User, api, q
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"
JOURNAL_URL = "https://journal.example/{org}/class/{class}?t={class_title}"
_n = itertools.count(1)


@dataclass
class World:
    org: str
    rooms: dict[str, str]
    bridge: User
    admin: User
    head: User
    teacher: User        # the class teacher of 5А (confirmed)
    student: User        # 5А; guardians: parent, parent2
    classmate: User      # 5А, another family
    parent: User
    parent2: User
    parent3: User        # a parent of another pupil of 5А
    base: str
    application: dict


def ok(resp: tuple[int, dict], status: int = 200) -> dict:
    code, body = resp
    assert code == status, body
    return body


def refused(resp: tuple[int, dict], reason: str | None = None, *, status: int = 403,
            errcode: str = "M_FORBIDDEN") -> dict:
    code, body = resp
    assert code == status and body.get("errcode") == errcode, body
    if reason is not None:
        assert body.get("org.parta.reason") == reason and body.get("error"), body
    return body


async def send(u: User, room: str, body: dict | None = None, etype: str = "m.room.message"):
    return await u.attempt("PUT", f"{V}/rooms/{q(room)}/send/{q(etype)}/j{next(_n)}",
                           body if body is not None else {"msgtype": "m.text", "body": "Привет"})


async def join(u: User, room: str):
    return await u.attempt("POST", f"{V}/join/{q(room)}", {})


async def joined(u: User) -> set[str]:
    return set(ok(await u.attempt("GET", f"{V}/joined_rooms"))["joined_rooms"])


async def operator(hs, method: str, path: str, body=None) -> tuple[int, dict]:
    return await api(hs.settings.operator_token, method, path, body, hs.settings.provisioning_url)


async def diary(hs, w: World, person_id: str) -> tuple[int, dict]:
    return await operator(hs, "PUT", f"/organizations/{w.org}/people/{q(person_id)}/diary")


async def register_bridge(hs) -> User:
    """``@parta_journal`` acting with the application service's token (its account made if missing)."""
    token = as_token(hs.settings.root)
    assert token, "parta init wrote no journal bridge registration"
    user = User(hs.url, hs.settings.journal_bridge_user_id, token)
    hs._users.append(user)
    code, body = await user.attempt("POST", f"{V}/register", {
        "type": "m.login.application_service", "username": user.user_id[1:].split(":", 1)[0]})
    assert code == 200 or body.get("errcode") == "M_USER_IN_USE", body
    ok(await user.attempt("GET", f"{V}/account/whoami"))
    return user


async def accept(bridge: User, room: str) -> None:
    """The bridge accepts its invitation into ``room`` (unless its own process did already)."""
    if room not in await joined(bridge):
        ok(await join(bridge, room))


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    c = attack_cast()
    bridge = await register_bridge(hs)  # before the school: the bot invites it as it builds the rooms
    settings = {**(read_application_data(EXAMPLE_APPLICATION).get("settings") or {}),
                "journal_bridge": True, "journal_url": JOURNAL_URL}
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("journal-roster")), settings=settings)
    org = a["org"]
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    refs = {"staff_room": RoomRef(org, "staff_room"), "announcements": RoomRef(org, "announcements"),
            "status": RoomRef(org, "journal_status"),
            **{k: RoomRef(org, k, c.class_id) for k in ("class_chat", "class_parents", "class_announcements")},
            "chat_1a": RoomRef(org, "class_chat", "class-01a"),
            "announcements_1a": RoomRef(org, "class_announcements", "class-01a")}
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    return World(
        org=org, rooms=rooms, bridge=bridge,
        admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
        head=await hs.login(acc["head"]["user_id"], acc["head"]["password"]),
        teacher=await hs.person(org, c.teacher, confirmed=True),
        student=await hs.person(org, c.student), classmate=await hs.person(org, c.classmate),
        parent=await hs.person(org, c.parent), parent2=await hs.person(org, "guardian-0004"),
        parent3=await hs.person(org, c.parent3), base=hs.settings.provisioning_url, application=a["application"],
    )


async def open_diary(hs, w: World) -> str:
    """The pupil's diary, made (or found) by the operator's API; the bridge has accepted its invitation."""
    room = ok(await diary(hs, w, attack_cast().student))["room_id"]
    await accept(w.bridge, room)
    return room


# --- the diary --------------------------------------------------------------------------------------

async def test_others_join_a_pupils_diary(hs, w):
    c = attack_cast()
    answer = ok(await diary(hs, w, c.student))
    room = answer["room_id"]
    family = {w.student.user_id, w.parent.user_id, w.parent2.user_id}
    assert set(answer["members"]) == family
    # the legitimate joins: the pupil and both guardians, each with their own request under the module
    for u in (w.student, w.parent, w.parent2):
        assert room in await joined(u), u.user_id
    state = await hs.bot.room_state(room)
    assert state[("m.room.name", "")]["name"].startswith("Дневник: ")
    assert state[("m.room.history_visibility", "")] == {"history_visibility": "shared"}
    assert state[("m.room.join_rules", "")] == {"join_rule": "invite"}
    assert state[("m.room.power_levels", "")]["users"] == {w.bridge.user_id: 50}
    assert state[("org.parta.room", "")]["student"] == c.student
    assert not [k for k in state if k[0].startswith("m.space.")] and ("m.room.canonical_alias", "") not in state
    assert state[("m.room.member", w.bridge.user_id)]["membership"] in ("invite", "join")
    # the attacks: another family's parent, a classmate, the class teacher, the administrator
    for u in (w.parent3, w.classmate, w.teacher, w.admin):
        refused(await join(u, room), "diary_family_only")
    # nobody but the bot invites into it: the pupil invites a classmate
    refused(await w.student.attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": w.classmate.user_id}))
    # a re-run changes nothing
    again = ok(await diary(hs, w, c.student))
    assert again["room_id"] == room and again["changes"] == 0, again
    # the directory the bridge routes by names the diary and the family
    directory = ok(await operator(hs, "GET", f"/organizations/{w.org}/journal"))
    pupil = directory["students"][c.student]
    assert pupil["diary"] == room and set(pupil["guardians"]) == {w.parent.user_id, w.parent2.user_id}
    assert directory["classes"][c.class_id]["rooms"]["class_chat"] == w.rooms["class_chat"]
    assert w.teacher.user_id in directory["classes"][c.class_id]["homeroom"]
    assert directory["journal_bridge"] is True and directory["timezone"] == "Europe/Moscow"
    assert directory["rooms"]["status"] == w.rooms["status"]


async def test_people_post_in_a_diary(hs, w):
    room = await open_diary(hs, w)
    refused(await send(w.student, room), "announcements_read_only")
    refused(await send(w.parent, room, {"msgtype": "m.text", "body": "Почему тройка?"}), "announcements_read_only")
    # the legitimate twin: the bridge posts the grade, the parent reacts with an emoji
    grade = ok(await send(w.bridge, room, {"msgtype": "m.notice", "body": "Оценка · Математика: 5"}))["event_id"]
    ok(await send(w.parent, room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": grade, "key": "👍"}},
                  "m.reaction"))


async def test_a_diary_for_someone_who_is_not_a_pupil(hs, w):
    c = attack_cast()
    # a parent and a teacher the school has not confirmed have neither a diary nor a journal room
    for person in (c.parent, c.unconfirmed):
        refused(await diary(hs, w, person), "not_a_student", status=400, errcode="M_INVALID_PARAM")
    # a confirmed teacher gets a journal room of their own (who has not handed in work): the teacher alone
    own = ok(await diary(hs, w, c.teacher))
    assert own["members"] == [w.teacher.user_id], own
    for u in (w.student, w.parent, w.head):
        refused(await join(u, own["room_id"]), "diary_family_only")
    refused(await diary(hs, w, "nobody-here"), status=404, errcode="M_NOT_FOUND")
    # people have no say: a teacher's own token is not the operator's
    refused(await api(w.teacher, "PUT", f"/organizations/{w.org}/people/{q(c.classmate)}/diary", None, w.base),
            status=401, errcode="M_UNKNOWN_TOKEN")
    refused(await api(w.teacher, "GET", f"/organizations/{w.org}/journal", None, w.base),
            status=401, errcode="M_UNKNOWN_TOKEN")
    # the twin: the operator makes the classmate's diary
    answer = ok(await diary(hs, w, c.classmate))
    assert w.classmate.user_id in answer["members"]


# --- the bridge's narrow rights -------------------------------------------------------------------

async def test_the_bridge_joins_rooms_it_was_not_invited_to(w):
    # rooms it does not serve: the staff room, the school's announcements, the parents' chat
    for key in ("staff_room", "announcements", "class_parents"):
        refused(await join(w.bridge, w.rooms[key]), "bridge_room_not_served")
    # a room it serves, but without an invitation: it left 1А's announcements and comes back on its own
    room = w.rooms["announcements_1a"]
    await accept(w.bridge, room)
    ok(await w.bridge.attempt("POST", f"{V}/rooms/{q(room)}/leave", {}))
    refused(await join(w.bridge, room), "bridge_invite_only")
    # the legitimate twin: the bot's invitation into the class chat, accepted; a notice with homework
    await accept(w.bridge, w.rooms["class_chat"])
    ok(await send(w.bridge, w.rooms["class_chat"], {"msgtype": "m.notice", "body": "ДЗ: §12, № 3"}))


async def test_the_bridge_invites_kicks_or_sends_state(hs, w):
    chat, news = w.rooms["class_chat"], w.rooms["class_announcements"]
    for room in (chat, news):
        await accept(w.bridge, room)
    outsider = await hs.outsider()
    refused(await w.bridge.attempt("POST", f"{V}/rooms/{q(chat)}/invite", {"user_id": outsider.user_id}),
            "bridge_no_invite")
    refused(await w.bridge.attempt("POST", f"{V}/rooms/{q(chat)}/invite", {"user_id": w.parent.user_id}),
            "bridge_no_invite")
    # its power level (50) reaches kick and ban: the module still refuses
    refused(await w.bridge.attempt("POST", f"{V}/rooms/{q(chat)}/kick", {"user_id": w.classmate.user_id}),
            "bridge_no_invite")
    refused(await w.bridge.attempt("POST", f"{V}/rooms/{q(chat)}/ban", {"user_id": w.classmate.user_id}),
            "bridge_no_invite")
    assert chat in await joined(w.classmate)
    refused(await w.bridge.attempt("PUT", f"{V}/rooms/{q(chat)}/state/m.room.topic/", {"topic": "Журнал"}),
            "bridge_no_state")
    refused(await w.bridge.attempt("POST", f"{V}/createRoom", {"name": "Оценки 5А", "invite": [w.student.user_id]}),
            "bridge_no_create_room")
    pupil_says = ok(await send(w.classmate, chat, {"msgtype": "m.text", "body": "Что задали?"}))["event_id"]
    refused(await send(w.bridge, chat, {"m.relates_to": {"rel_type": "m.annotation", "event_id": pupil_says,
                                                         "key": "👍"}}, "m.reaction"), "bridge_messages_only")
    refused(await w.bridge.attempt("PUT", f"{V}/rooms/{q(chat)}/redact/{q(pupil_says)}/r{next(_n)}", {}),
            "bridge_messages_only")  # its level 50 reaches "redact": the module refuses
    found = ok(await w.bridge.attempt("POST", f"{V}/user_directory/search", {"search_term": "а", "limit": 50}))
    assert found["results"] == []
    # the legitimate twin: a notice in the read-only class announcements, then its edit
    posted = ok(await send(w.bridge, news, {"msgtype": "m.notice", "body": "Контрольная в пятницу"}))["event_id"]
    ok(await send(w.bridge, news, {"msgtype": "m.notice", "body": "* Контрольная в четверг",
                                   "m.new_content": {"msgtype": "m.notice", "body": "Контрольная в четверг"},
                                   "m.relates_to": {"rel_type": "m.replace", "event_id": posted}}))
    refused(await send(w.student, news), "announcements_read_only")  # the pupils still only read


async def test_text_rides_on_a_reaction_or_a_poll_answer(hs, w):
    """A read-only room stays read-only: a poll answer pointing at a grade, or a reaction, with a body,
    HTML, an edit or a journal record in it, is a message in disguise."""
    room = await open_diary(hs, w)
    grade = ok(await send(w.bridge, room, {"msgtype": "m.notice", "body": "Оценка · Физика: 4"}))["event_id"]
    disguised = {"m.relates_to": {"rel_type": "m.reference", "event_id": grade}, "m.selections": ["a"],
                 "body": "Родителям: оценки теперь на сайте gosuslugi-dnevnik.example", "msgtype": "m.text",
                 "format": "org.matrix.custom.html", "formatted_body": "<h1>Срочно</h1>"}
    for etype in ("m.poll.response", "org.matrix.msc3381.poll.response"):
        refused(await send(w.parent, room, disguised, etype), "announcements_read_only")
    refused(await send(w.parent, room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": grade, "key": "👍"},
                                        "body": "Срочно зайдите на сайт"}, "m.reaction"), "announcements_read_only")
    # the legitimate twins: a plain emoji reaction; a plain poll answer (a grade is no poll, so it names
    # no answer: an answer id is text too, test_materials_polls_attacks.py)
    ok(await send(w.parent, room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": grade, "key": "👍"}},
                  "m.reaction"))
    ok(await send(w.parent, room, {"m.relates_to": {"rel_type": "m.reference", "event_id": grade},
                                   "m.selections": []}, "m.poll.response"))


async def test_someone_edits_the_bridges_message_or_forges_a_record(hs, w):
    """Nobody passes for the journal: an edit of the bridge's homework (m.replace from another sender) and a
    message carrying the journal's structured record are refused; one's own edit and a plain message pass."""
    chat = w.rooms["class_chat"]
    await accept(w.bridge, chat)
    homework = ok(await send(w.bridge, chat, {"msgtype": "m.text", "body": "Домашнее задание · Физика: § 12",
                                              "org.parta.journal.item": {"kind": "line_item", "item_id": "li-9"}}))
    fake_edit = {"msgtype": "m.text", "body": "* Домашнее задание отменено",
                 "m.new_content": {"msgtype": "m.text", "body": "Домашнее задание отменено"},
                 "m.relates_to": {"rel_type": "m.replace", "event_id": homework["event_id"]}}
    for u in (w.student, w.teacher):
        refused(await send(u, chat, fake_edit), "edit_not_own")
    forged = {"msgtype": "m.text", "body": "Домашнее задание · Математика\nНичего не задано",
              "org.parta.journal.item": {"kind": "line_item", "source": "gb", "item_id": "li-1"}}
    refused(await send(w.student, chat, forged), "journal_item_bridge_only")
    refused(await send(w.teacher, chat, {**fake_edit, "m.relates_to": {"rel_type": "m.replace", "event_id":
                                                                       homework["event_id"]},
                                         "m.new_content": forged}), "journal_item_bridge_only")
    # the legitimate twins: the pupil edits their own message; a plain message
    mine = ok(await send(w.student, chat, {"msgtype": "m.text", "body": "Я сделал"}))["event_id"]
    ok(await send(w.student, chat, {"msgtype": "m.text", "body": "* Я сделал всё",
                                    "m.new_content": {"msgtype": "m.text", "body": "Я сделал всё"},
                                    "m.relates_to": {"rel_type": "m.replace", "event_id": mine}}))
    ok(await send(w.student, chat, {"msgtype": "m.text", "body": "Домашнее задание · Математика: ничего"}))


async def test_a_lookalike_of_the_bridge_registers(hs, w):
    config = YAML(typ="safe").load(hs.settings.homeserver_config.read_text(encoding="utf-8"))
    with pytest.raises(MatrixRequestError) as e:  # 1 for l: the same skeleton as parta_journal
        await register_with_shared_secret(hs.url, config["registration_shared_secret"], "parta_journa1", "pw-1",
                                          admin=False, unix_socket=hs.settings.admin_socket)
    assert e.value.errcode == "M_INVALID_USERNAME"
    # any other account is nobody to the bridge's rules: it cannot join the class chat it was not let in
    outsider = await hs.outsider("Журнал")
    refused(await join(outsider, w.rooms["class_chat"]), "not_in_organization")
    # and a teacher cannot invite the bridge (only the bot does): the twin is the bot's own invitation
    refused(await w.teacher.attempt("POST", f"{V}/rooms/{q(w.rooms['staff_room'])}/invite",
                                    {"user_id": w.bridge.user_id}), "not_in_organization")
    assert (await hs.bot.room_state(w.rooms["chat_1a"]))[("m.room.member", w.bridge.user_id)]["membership"] in (
        "invite", "join")


async def test_people_join_or_post_in_the_journal_status_room(hs, w):
    room = ok(await operator(hs, "PUT", f"/organizations/{w.org}/journal/status-room"))["room_id"]
    assert room == w.rooms["status"]
    refused(await join(w.teacher, room), "not_for_journal_status")
    for u in (w.admin, w.head):  # placed by the reconcile
        assert room in await joined(u), u.user_id
    refused(await send(w.admin, room), "announcements_read_only")
    # the twin: the bridge, invited, reports a failure
    await accept(w.bridge, room)
    ok(await send(w.bridge, room, {"msgtype": "m.notice", "body": "Журнал не ответил: 5А, 3 урок"}))
    again = ok(await operator(hs, "PUT", f"/organizations/{w.org}/journal/status-room"))
    assert again == {"room_id": room, "changes": 0, "details": []}


# --- the journal's link ---------------------------------------------------------------------------

async def test_a_teacher_replaces_the_journal_link(hs, w):
    c = attack_cast()
    for key in ("class_chat", "class_parents", "class_announcements"):
        widget = (await hs.bot.room_state(w.rooms[key]))[(WIDGET_TYPE, JOURNAL_WIDGET)]
        assert widget == {"type": "m.custom", "name": "Электронный журнал", "data": {},
                          "url": f"https://journal.example/{w.org}/class/{c.class_id}?t=5%D0%90"}, key
    assert (WIDGET_TYPE, JOURNAL_WIDGET) not in await hs.bot.room_state(w.rooms["staff_room"])
    # the attack: the class teacher points the link at a page of their own, or removes it
    for content in ({"type": "m.custom", "url": "https://evil.example/login", "name": "Электронный журнал",
                     "data": {}}, {}):
        refused(await w.teacher.attempt("PUT", f"{V}/rooms/{q(w.rooms['class_chat'])}/state/{WIDGET_TYPE}/"
                                        f"{JOURNAL_WIDGET}", content), "bot_only_state")
    # the twin: the pupil reads the school's link in the class chat
    state = await w.student.state(w.rooms["class_chat"])
    assert state[(WIDGET_TYPE, JOURNAL_WIDGET)]["url"].startswith("https://journal.example/")


# --- relationships that end ---------------------------------------------------------------------

async def test_a_removed_guardian_keeps_the_diary(hs, w):
    c = attack_cast()
    room = await open_diary(hs, w)
    ok(await operator(hs, "DELETE", f"/organizations/{w.org}/people/guardian-0004"))
    assert room not in await joined(w.parent2)       # taken out by the organization's reconcile
    code, body = await join(w.parent2, room)
    assert code == 403 and body["errcode"] in ("M_FORBIDDEN", "M_USER_SUSPENDED"), body
    answer = ok(await diary(hs, w, c.student))
    assert set(answer["members"]) == {w.student.user_id, w.parent.user_id} and answer["changes"] == 0, answer
    # the twin: the other guardian stays and reads the grades
    assert room in await joined(w.parent)
    ok(await w.parent.attempt("GET", f"{V}/rooms/{q(room)}/messages", query={"dir": "b", "limit": "5"}))


async def test_the_bridge_keeps_posting_after_the_school_turns_it_off(hs, w):
    c = attack_cast()
    chat, room = w.rooms["class_chat"], await open_diary(hs, w)
    await accept(w.bridge, chat)
    data = copy.deepcopy(w.application)
    data["settings"] = {**data["settings"], "journal_bridge": False}
    await hs.api.apply_application(data)
    await hs.api.approve(data["slug"])
    for r in (chat, w.rooms["class_announcements"], room):
        assert w.bridge.user_id not in (await hs.bot.room_state(r))[("m.room.power_levels", "")]["users"], r
    assert not {chat, room} & await joined(w.bridge)  # taken out
    code, _body = await send(w.bridge, chat, {"msgtype": "m.notice", "body": "ДЗ"})
    assert code == 403
    refused(await join(w.bridge, chat), "journal_bridge_off")
    refused(await diary(hs, w, c.student), "journal_bridge_off")
    # the twin: the class teacher still posts in the class chat
    ok(await send(w.teacher, chat, {"msgtype": "m.text", "body": "ДЗ: §13"}))
