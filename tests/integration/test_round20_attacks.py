"""Round 20 of the attacks: holes found by attacker20, each closed since.

Quiet hours (``synapse_module/quiet_hours.py``) held back only ``m.room.message``, ``m.room.encrypted``
and ``m.sticker`` (fixed in 41483b7); Synapse's default push rules notify for more: ``.m.rule.call`` (an
``m.call.invite`` rings the phone) and ``.m.rule.is_user_mention`` (any event whose ``m.mentions`` names
the user).

A school's head imports the school's roster through the API (``POST /api/v1/organizations/{org}/roster``,
open to the administration since issue 14). ``PATCH /people/{person}`` and ``DELETE`` pass through
``policies.administration.may_change_person`` (row 90: nobody changes their own role, only an
administrator makes or unmakes an administrator); the roster import did not, and wrote the roster's roles
as they were (fixed in 4a397a5).

A delayed state event (MSC4140) passed ``user_may_send_state_event`` when it was scheduled, not when the
homeserver sent it (only ``check_event_for_spam`` runs then; fixed in a1dff94: only one's own call
leave may be delayed, and a delayed state event is checked again when sent). A people's chat is tagged with the
creator's first staff organization (``on_create_room``), which quiet hours, urgent marks, export and
retention trusted (fixed in f15fb4e: ``policies.people_chats`` decides by the chat's members). Each
test asserts the secure behaviour and the legitimate twin next to it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from ..helpers import API, SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, q, refused
from ..schools import write_attack_roster
from .quiet_world import Gateway, Quiet, V, hours_around, office_hours, send, sent
from .quiet_world import build as build_quiet

pytestmark = pytest.mark.synapse

ADMIN_PERSON = "application:administrator"
HEAD_PERSON = "application:head"


@dataclass
class World:
    org: str
    admin: User
    head: User
    roster: Path          # the roster the school was created with (OneRoster 1.2 CSV files)
    base: str             # the provisioning service
    operator: str         # the operator's token


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    roster = write_attack_roster(tmp_path_factory.mktemp("round20-roster"))
    a = await hs.new_school(roster=roster)
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    return World(org=a["org"], roster=roster,
                 admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
                 head=await hs.login(acc["head"]["user_id"], acc["head"]["password"]),
                 base=hs.settings.provisioning_url, operator=hs.settings.operator_token)


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
    return buf.getvalue()


def _with_people(src: Path, dst: Path, people: list[tuple[str, str, str, str]]) -> bytes:
    """``src``'s roster plus ``people`` (sourcedId, family name, given name, OneRoster role) as a zip."""
    shutil.copytree(src, dst)
    users, roles = dst / "users.csv", dst / "roles.csv"
    with users.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    with users.open("a", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, header)
        for pid, family, given, _role in people:
            out.writerow({k: "" for k in header} | {"sourcedId": pid, "enabledUser": "true", "givenName": given,
                                                     "familyName": family, "primaryOrgSourcedId": "org-1"})
    with roles.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    with roles.open("a", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, header)
        for pid, _family, _given, role in people:
            out.writerow({k: "" for k in header} | {"sourcedId": f"role-{pid}", "userSourcedId": pid,
                                                     "roleType": "primary", "role": role, "orgSourcedId": "org-1"})
    return _zip(dst)


async def _import(w: World, token: str, data: bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(
            f"{w.base}{API}/organizations/{q(w.org)}/roster", data=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"}) as r:
        return r.status, await r.json(content_type=None)


async def _role(w: World, person_id: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(
            f"{w.base}{API}/organizations/{q(w.org)}/people",
            headers={"Authorization": f"Bearer {w.operator}"}) as r:
        body = await r.json(content_type=None)
    return next(p["role"] for p in body["people"] if p["person_id"] == person_id)


async def test_head_demotes_the_administrator_through_a_roster(w, tmp_path):
    """Attack: the head imports the school's roster with the administrator's record
    (``application:administrator``) listed as a teacher → must be 403 ``admin_by_admin_only`` (row 90:
    only an administrator changes an administrator). Legitimate twin: the head imports the roster the
    school was made with → 200, and the administrator stays one."""
    status, body = await _import(w, w.head.token, _zip(w.roster))
    assert status == 200, body
    assert await _role(w, ADMIN_PERSON) == "admin"
    data = _with_people(w.roster, tmp_path / "r", [(ADMIN_PERSON, "Администраторова", "Анна", "teacher")])
    refused(await _import(w, w.head.token, data), "admin_by_admin_only")
    assert await _role(w, ADMIN_PERSON) == "admin"


async def test_head_makes_themselves_administrator_through_a_roster(w, tmp_path):
    """Attack: the head imports the roster with the head's own record (``application:head``) listed as an
    administrator → must be 403 ``not_own_record`` (row 90 refuses the same through ``PATCH``).
    Legitimate twin: the head imports the unchanged roster → 200, the head stays head."""
    status, body = await _import(w, w.head.token, _zip(w.roster))
    assert status == 200, body
    assert await _role(w, HEAD_PERSON) == "head"
    data = _with_people(w.roster, tmp_path / "r", [(HEAD_PERSON, "Директорова", "Дина", "administrator")])
    refused(await _import(w, w.head.token, data), "not_own_record")
    assert await _role(w, HEAD_PERSON) == "head"


# --- quiet hours --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def quiet(hs, tmp_path_factory) -> Quiet:
    return await build_quiet(hs, tmp_path_factory)


@pytest.fixture(scope="module")
async def gateway(quiet) -> AsyncIterator[Gateway]:
    g = Gateway()
    await g.start()
    code, body = await quiet.teacher.attempt("POST", f"{V}/pushers/set", {
        "kind": "http", "app_id": "org.parta.test", "pushkey": "teacher-phone-20", "app_display_name": "Parta tests",
        "device_display_name": "телефон", "lang": "ru", "data": {"url": g.url}})
    assert code == 200, body
    yield g
    assert g.runner is not None
    await g.runner.cleanup()


async def test_parent_rings_the_teacher_in_quiet_hours_with_a_call_invite_or_a_mention(hs, quiet, gateway):
    """Attack: outside the teacher's office hours a parent sends, in a direct chat with the teacher, an
    ``m.call.invite`` (default rule ``.m.rule.call``: notify with the ring sound), and in the class's
    parents' room a reaction whose ``m.mentions`` names the teacher (``.m.rule.is_user_mention``) → neither
    may reach the teacher's push gateway (quiet hours: pupils' and parents' events notify no teacher
    outside office hours). Legitimate twin: the administration's urgent announcement sent after them is
    pushed (and, pushers sending in stream order, marks that the earlier ones never will be)."""
    w = quiet
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, hours_around(inside=False))
    assert code == 200, body
    code, created = await w.parent.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [w.teacher.user_id]})
    assert code == 200, created
    dm = created["room_id"]
    await w.teacher.join(dm)
    call = sent(await w.parent.attempt("PUT", f"{V}/rooms/{q(dm)}/send/m.call.invite/r20call", {
        "call_id": "r20", "party_id": "p1", "version": "1", "lifetime": 60000,
        "offer": {"type": "offer", "sdp": "v=0\r\n"}}))
    parents = w.rooms["class_parents"]
    message = sent(await send(w.parent, parents, "Добрый вечер"))
    mention = sent(await w.parent.attempt("PUT", f"{V}/rooms/{q(parents)}/send/m.reaction/r20react", {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "👍"},
        "m.mentions": {"user_ids": [w.teacher.user_id]}}))
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Срочно: завтра школа закрыта",
                             **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    pushed = gateway.event_ids()
    print("pushed:", {"call": call in pushed, "mention": mention in pushed, "message": message in pushed})
    assert message not in pushed  # the parent's plain message is held back, as quiet hours say
    assert call not in pushed, "the parent's call invite rang the teacher's phone in quiet hours"
    assert mention not in pushed, "the parent's mention notified the teacher in quiet hours"


# --- a lesson started by a pupil through a delayed call membership (MSC4140) ----------------------------

CALL_MEMBER = "org.matrix.msc3401.call.member"
CALL = {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": "DEV", "foci_preferred": [],
        "expires": 3_600_000}


async def _member_state(u: User, room: str, key: str) -> dict:
    code, body = await u.attempt("GET", f"{V}/rooms/{q(room)}/state/{q(CALL_MEMBER)}/{q(key)}")
    return body if code == 200 else {}


async def test_pupil_starts_a_lesson_later_through_a_delayed_call_membership(quiet):
    """Attack: while the class teacher's lesson runs in the class chat, a pupil schedules her own call
    membership ``PUT /state/org.matrix.msc3401.call.member/_{pupil}_DEV?org.matrix.msc4140.delay=3000``
    (allowed then: a lesson runs); the teacher ends the lesson; three seconds later the homeserver sends
    the pupil's membership, now the only live one → must not happen (row 75: the first active member
    needs ``start_call``, ``may_not_start_call``; sent now, the same membership is refused). Legitimate
    twin: the teacher starts the lesson again and the pupil joins it."""
    w = quiet
    room = w.rooms["class_chat"]
    tkey, skey = f"_{w.teacher.user_id}_T20", f"_{w.student.user_id}_DEV"
    state = f"{V}/rooms/{q(room)}/state/{q(CALL_MEMBER)}"
    code, body = await w.teacher.attempt("PUT", f"{state}/{q(tkey)}", CALL)
    assert code == 200, body
    code, body = await w.student.attempt("PUT", f"{state}/{q(skey)}", CALL, query={"org.matrix.msc4140.delay": "3000"})
    scheduled = code == 200
    assert code == 200 or (code == 403 and body.get("errcode") == "M_FORBIDDEN"), body
    code, body = await w.teacher.attempt("PUT", f"{state}/{q(tkey)}", {})  # the lesson ends
    assert code == 200, body
    # sent now, the pupil's membership is refused: pupils start no lesson
    code, body = await w.student.attempt("PUT", f"{state}/{q(skey)}_NOW", CALL)
    assert code == 403 and body.get("org.parta.reason") == "may_not_start_call", body
    await asyncio.sleep(6)
    try:
        started = await _member_state(w.teacher, room, skey)
        print("scheduled:", scheduled, "pupil's membership after the lesson:", started)
        assert started.get("application") is None, f"the pupil started a lesson alone: {started}"
        # the twin: the teacher starts the lesson again and the pupil joins it
        code, body = await w.teacher.attempt("PUT", f"{state}/{q(tkey)}", CALL)
        assert code == 200, body
        code, body = await w.student.attempt("PUT", f"{state}/{q(skey)}", CALL)
        assert code == 200, body
    finally:
        for who, key in ((w.student, skey), (w.teacher, tkey)):
            await who.attempt("PUT", f"{state}/{q(key)}", {})


# --- quiet hours: a direct chat tagged with the creator's other school -------------------------------------

async def test_parent_who_teaches_elsewhere_writes_to_the_teacher_at_night(hs, quiet, gateway):
    """Attack: a parent of school A who is also a confirmed teacher of school B opens a direct chat with
    the child's class teacher (of school A only) and writes in it outside the teacher's office hours →
    must not be pushed (quiet hours: a parent's message waits; this school holds back parents). The chat
    is tagged ``org.parta.room`` with school B (``on_create_room``: the first organization where the
    creator is staff), and ``QuietHours.quiet_for`` asks only the room's organization, where the teacher
    is nobody. Legitimate twin: the same parent's message in the class's parents' room is held back."""
    w = quiet
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    link = await hs.api.create_link(b["org"], {"role": "teacher"})
    async with aiohttp.ClientSession() as s, s.post(
            f"{hs.settings.provisioning_url}{API}/links/{link['code']}/redeem", json={},
            headers={"Authorization": f"Bearer {w.parent.token}"}) as r:
        assert r.status == 200, await r.text()
    await hs.api.update_person(b["org"], w.parent.user_id, {"confirmed": True})
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, hours_around(inside=False))
    assert code == 200, body
    code, created = await w.parent.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [w.teacher.user_id]})
    assert code == 200, created
    dm = created["room_id"]
    await w.teacher.join(dm)
    code, tag = await w.teacher.attempt("GET", f"{V}/rooms/{q(dm)}/state/org.parta.room/")
    first = sent(await send(w.parent, dm, "Добрый вечер! Почему сыну поставили двойку?"))
    twin = sent(await send(w.parent, w.rooms["class_parents"], "И ещё вопрос про экскурсию"))
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Срочно: завтра уроки с 10:00",
                             **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    pushed = gateway.event_ids()
    print("tag:", code, tag, "pushed:", {"dm": first in pushed, "parents_room": twin in pushed})
    assert twin not in pushed  # the twin: in school A's own room the parent's message waits
    assert first not in pushed, "the parent's direct message notified the teacher in quiet hours"


# --- records: a child's direct chat exported by the parent's other school ----------------------------------

async def test_another_schools_administration_exports_a_pupils_chat_with_her_parent(hs, quiet):
    """Attack: a parent of school A who is a confirmed teacher of school B opens a direct chat with the
    child (a pupil of A only) and they write in it; B's administrator, holding the chat's room id, exports it
    (``GET /organizations/{B}/rooms/{dm}/export``) → must be 404 ``room_not_in_organization`` (only a
    school's own administration exports its rooms; the pupil belongs to A alone). The chat is tagged
    ``org.parta.room`` with B (``on_create_room``: the creator's first staff organization). Legitimate
    twin: school A's administrator exports the chat of A's pupil (refused today: not A's room)."""
    w = quiet
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    acc_b = {x["role"]: x for x in b["approve"]["accounts"]}
    admin_b = await hs.login(acc_b["admin"]["user_id"], acc_b["admin"]["password"])
    link = await hs.api.create_link(b["org"], {"role": "teacher"})
    dual, child = w.parent, w.student
    async with aiohttp.ClientSession() as s, s.post(
            f"{hs.settings.provisioning_url}{API}/links/{link['code']}/redeem", json={},
            headers={"Authorization": f"Bearer {dual.token}"}) as r:
        assert r.status == 200, await r.text()
    await hs.api.update_person(b["org"], dual.user_id, {"confirmed": True})
    code, created = await dual.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [child.user_id]})
    assert code == 200, created
    dm = created["room_id"]
    await child.join(dm)
    sent(await send(child, dm, "Мама, у меня проблемы с Петровым, только никому не говори"))
    base = hs.settings.provisioning_url
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": f"Bearer {admin_b.token}"}
        async with s.get(f"{base}{API}/organizations/{q(b['org'])}/rooms/{q(dm)}/export", headers=headers) as r:
            status, body = r.status, await r.json(content_type=None)
        print("export:", status,
              [e.get("text") for e in body.get("events", []) if e.get("line") == "message"])
        assert status == 404 and body.get("org.parta.reason") == "room_not_in_organization", body
        async with s.get(f"{base}{API}/organizations/{q(w.org)}/rooms/{q(dm)}/export",
                         headers={"Authorization": f"Bearer {w.admin.token}"}) as r:
            assert r.status == 200, await r.text()


# --- an urgent mark from another school's administrator -----------------------------------------------------

async def test_another_schools_administrator_sends_an_urgent_message_as_a_parent(hs, quiet, gateway):
    """Attack: school B's administrator, who is also a parent in school A (redeemed A's parent link for a
    pupil), opens a direct chat with A's class teacher and sends ``org.parta.urgent: true`` outside the
    teacher's office hours → must be 403 ``urgent_admin_only`` (only the administration of the teacher's
    school marks messages urgent; for A this person is a parent). The chat is tagged with B, where they
    are the administrator. Legitimate twin: A's administrator's urgent announcement is pushed."""
    w = quiet
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    acc_b = {x["role"]: x for x in b["approve"]["accounts"]}
    admin_b = await hs.login(acc_b["admin"]["user_id"], acc_b["admin"]["password"])
    async with aiohttp.ClientSession() as s, s.patch(  # room for a third guardian (a stepparent)
            f"{hs.settings.provisioning_url}{API}/organizations/{q(w.org)}/settings",
            json={"max_guardians_per_child": 4}, headers={"Authorization": f"Bearer {w.admin.token}"}) as r:
        assert r.status == 200, await r.text()
    link = await hs.api.create_link(w.org, {"role": "parent", "child_user_id": w.student.user_id})
    async with aiohttp.ClientSession() as s, s.post(
            f"{hs.settings.provisioning_url}{API}/links/{link['code']}/redeem", json={},
            headers={"Authorization": f"Bearer {admin_b.token}"}) as r:
        assert r.status == 200, await r.text()
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, hours_around(inside=False))
    assert code == 200, body
    code, created = await admin_b.attempt("POST", f"{V}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [w.teacher.user_id]})
    assert code == 200, created
    dm = created["room_id"]
    await w.teacher.join(dm)
    code, body = await send(admin_b, dm, "СРОЧНО перезвоните мне", **{"org.parta.urgent": True})
    urgent = sent(await send(w.admin, w.rooms["announcements"], "Срочно: завтра уроки отменены",
                             **{"org.parta.urgent": True}))
    await gateway.wait_for(urgent)
    print("B admin's urgent in the DM:", code, body, "pushed:", body.get("event_id") in gateway.event_ids())
    assert code == 403 and body.get("org.parta.reason") == "urgent_admin_only", body
