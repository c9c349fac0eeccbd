"""Issue 4: attacks on registration links and names, through the real page, API and homeserver.

Each test is one attack on how people get in: an expired, revoked or used-up link; a link
of another organization; a link for another role; a parent's link used by the child; a
name that imitates the confirmed teacher's badge; a login name that imitates someone
else's. It asserts the refusal where the attacker meets it (the registration page's HTML
and status, the provisioning API's ``org.parta.reason``, Synapse's UIA ``errcode``) and,
next to it, that the legitimate version succeeds. docs/security.md, section "Registration
and link attacks", lists every test here.

World (module fixture): school A with a small OneRoster roster (class 7А "c7": confirmed
teacher "t1", students "s1" and "s2", the latter named "Иванов ✓" in the roster; class 8Б
"c8": confirmed teacher "t2"), its administrator, school B with its administrator, and an
unlimited student link of 7А issued by A's administrator for the name attacks.
"""

from __future__ import annotations

import asyncio
import html as htmllib
import itertools
from dataclasses import dataclass

import aiohttp
import pytest
from mautrix.api import Method

from policies.i18n import gettext_
from policies.names import NameRefused, check_not_badge
from policies.templates import RoomRef, default_templates

from spaces_provisioner.db import schema as st
from spaces_provisioner.homeserver.user import register as matrix_register

from ..helpers import Page, User, api, eventually, q, write_classes_roster

pytestmark = pytest.mark.synapse
T = default_templates()
_n = itertools.count(1)
PASSWORD = "тихий-пруд-у-леса-73"
UNAUTHORIZED = "M_UNAUTHORIZED"  # Synapse's UIA answer to an unknown, expired or used-up token


@dataclass
class World:
    org: str
    org_b: str
    base: str                   # the provisioning service (API and page)
    page: Page
    rooms: dict[str, str]       # "c7_chat", "c7_parents", "staff"
    admin: User
    teacher: User               # t1, confirmed, teaches 7А
    teacher2: User              # t2, confirmed, teaches 8Б
    student: User               # s1, 7А
    student_password: str
    badge_student: User         # s2, 7А, named "Иванов ✓" in the roster
    admin_b: User
    open_link: str              # A's administrator's student link of 7А, no use limit


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    roster = write_classes_roster(
        tmp_path_factory.mktemp("link-attacks") / "roster", [("c7", "7А", "07"), ("c8", "8Б", "08")],
        [("t1", "teacher", "Таисия", "Громова", ""), ("t2", "teacher", "Савелий", "Куликов", ""),
         ("s1", "student", "Тимофей", "Белкин", ""), ("s2", "student", "Прохор", "Иванов ✓", "")],
        [("c7", "t1", "teacher"), ("c8", "t2", "teacher"), ("c7", "s1", "student"), ("c7", "s2", "student")])
    a = await hs.new_school(roster=roster)
    b = await hs.new_school()
    org = a["org"]
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    acc_b = {x["role"]: x for x in b["approve"]["accounts"]}
    refs = {"c7_chat": RoomRef(org, "class_chat", "c7"), "c7_parents": RoomRef(org, "class_parents", "c7"),
            "staff": RoomRef(org, "staff_room")}
    rooms = {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in refs.items()}
    s1 = await hs.api.provision_person(org, "s1")
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    base = hs.settings.provisioning_url
    status, link = await api(admin, "POST", f"/organizations/{org}/links", {"role": "student", "class_id": "c7"}, base)
    assert status == 201, link
    return World(
        org=org, org_b=b["org"], base=base, page=Page(base), rooms=rooms, admin=admin,
        teacher=await hs.person(org, "t1", confirmed=True), teacher2=await hs.person(org, "t2", confirmed=True),
        student=await hs.login(s1["user_id"], s1["password"]), student_password=s1["password"],
        badge_student=await hs.person(org, "s2"),
        admin_b=await hs.login(acc_b["admin"]["user_id"], acc_b["admin"]["password"]),
        open_link=link["code"],
    )


# --- helpers ---------------------------------------------------------------------------------------

async def call(w: World, user: User, method: str, path: str, body=None) -> tuple[int, dict]:
    return await api(user, method, path, body, w.base)


async def new_link(w: World, user: User, body: dict) -> str:
    status, link = await call(w, user, "POST", f"/organizations/{w.org}/links", body)
    assert status == 201, link
    return link["code"]


def refused(resp: tuple[int, dict], reason: str, status: int = 403) -> dict:
    """An API refusal: HTTP status, ``M_FORBIDDEN``, Parta's reason code and a message."""
    code, body = resp
    assert code == status, body
    assert body.get("errcode") == "M_FORBIDDEN", body
    assert body.get("org.parta.reason") == reason, body
    assert body.get("error"), body
    return body


def shows(page: tuple[int, str], status: int, message: str) -> str:
    """The page answered ``status`` and shows ``message`` (an English msgid: shown in Russian)."""
    code, text = page
    text = htmllib.unescape(text)
    assert code == status, text
    expected = gettext_(message, "ru")
    assert expected in text, (expected, text)
    return text


def name_message(reason: str) -> str:
    return NameRefused(reason).message("en")


def person_form(code: str, username: str, family: str = "Степанова", given: str = "Алиса", middle: str = "") -> dict:
    return {"code": code, "action": "register", "family_name": family, "given_name": given, "middle_name": middle,
            "username": username, "password": PASSWORD, "password2": PASSWORD}


def unique(stem: str) -> str:
    return f"{stem}{next(_n)}"


async def matrix_attempt(hs, token: str, username: str, password: str = PASSWORD) -> tuple[int, dict]:
    """Standard Matrix registration (as Element does it) with ``token``, stopping at the first
    refusal: ``(status, body)`` of the refused step, or of the final step."""
    url = f"{hs.url}/_matrix/client/v3/register"
    body = {"username": username, "password": password, "inhibit_login": True}
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=body) as r:
            status, data = r.status, await r.json(content_type=None)
        if status != 401 or "session" not in data:
            return status, data
        session = data["session"]
        for stage in ("m.login.registration_token", "m.login.dummy"):
            auth = {"type": stage, "session": session}
            if stage == "m.login.registration_token":
                auth["token"] = token
            async with s.post(url, json={**body, "auth": auth}) as r:
                status, data = r.status, await r.json(content_type=None)
            if status != 401 or data.get("errcode"):
                return status, data
        return status, data


async def token_valid(hs, token: str) -> bool:
    """``GET /_matrix/client/v1/register/m.login.registration_token/validity``."""
    async with aiohttp.ClientSession() as s, s.get(
            f"{hs.url}/_matrix/client/v1/register/m.login.registration_token/validity", params={"token": token}) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["valid"]


def token_refused(resp: tuple[int, dict]) -> None:
    status, body = resp
    assert status == 401 and body.get("errcode") == UNAUTHORIZED, body


async def joined(user: User, room_id: str) -> bool:
    return room_id in await user.joined_rooms()


async def display_name(user: User) -> str:
    return (await user.get(f"/_matrix/client/v3/profile/{q(user.user_id)}"))["displayname"]


# --- expired, revoked, used-up links ---------------------------------------------------------------

async def test_expired_link(w, hs, installation):
    code = await new_link(w, w.admin, {"role": "student", "class_id": "c7", "expires_in_s": 3600})
    store = st.Store(installation.database)
    try:
        with store.begin() as tx:
            tx.execute(st.links.update().where(st.links.c.code == code).values(expires_at=st.now_ms() - 1000))
    finally:
        store.close()
    # Synapse refuses an expiry time in the past: the token expires one second from now
    soon = st.now_ms() + 1000
    await hs.bot.request(Method.PUT, f"/_synapse/admin/v1/registration_tokens/{code}", {"expiry_time": soon})
    await asyncio.sleep(max(0.0, (soon - st.now_ms()) / 1000) + 0.2)

    expired = "This link has expired; ask the school for a new one"
    shows(await w.page.get(f"/register?code={code}"), 410, expired)
    shows(await w.page.post(person_form(code, unique("alisa.s"))), 410, expired)
    assert not await token_valid(hs, code)
    token_refused(await matrix_attempt(hs, code, unique("alisa.st")))

    fresh = await new_link(w, w.admin, {"role": "student", "class_id": "c7", "expires_in_s": 3600})
    user_id = await matrix_register(hs.url, fresh, unique("alisa.step"), PASSWORD)
    newcomer = await hs.login(user_id, PASSWORD)
    assert await eventually(lambda: joined(newcomer, w.rooms["c7_chat"])), "placed in the class chat"


async def test_revoked_link(w, hs):
    code = await new_link(w, w.teacher, {"role": "student", "class_id": "c7"})
    refused(await call(w, w.teacher2, "DELETE", f"/links/{code}"), "may_not_revoke")
    assert await token_valid(hs, code)  # the refused revocation left the link alone
    status, body = await call(w, w.teacher, "DELETE", f"/links/{code}")
    assert status == 200 and body["revoked"] and body["changes"] == 1, body

    revoked = "This link was revoked; ask the school for a new one"
    shows(await w.page.get(f"/register?code={code}"), 410, revoked)
    shows(await w.page.post(person_form(code, unique("lev.r"))), 410, revoked)
    token_refused(await matrix_attempt(hs, code, unique("lev.ro")))

    other = await new_link(w, w.teacher, {"role": "student", "class_id": "c7"})
    status, body = await call(w, w.admin, "DELETE", f"/links/{other}")
    assert status == 200 and body["changes"] == 1, body
    assert not await token_valid(hs, other)


async def test_used_up_link(w, hs):
    code = await new_link(w, w.admin, {"role": "student", "class_id": "c7", "uses_allowed": 1})
    first = unique("mark.u")
    status, text = await w.page.post(person_form(code, first, "Усов", "Марк"))
    assert status == 200, text
    assert f"@{first}:{hs.server_name}" in text

    used_up = "This link has already been used as many times as it allows"
    shows(await w.page.get(f"/register?code={code}"), 410, used_up)
    shows(await w.page.post(person_form(code, unique("mark.us"), "Усова", "Мария")), 410, used_up)
    token_refused(await matrix_attempt(hs, code, unique("maria.us")))


# --- another organization ----------------------------------------------------------------------------

async def test_other_school_admin_creates_link(w):
    refused(await call(w, w.admin_b, "POST", f"/organizations/{w.org}/links", {"role": "student", "class_id": "c7"}),
            "not_in_organization")
    await new_link(w, w.admin, {"role": "student", "class_id": "c7"})


async def test_other_school_member_redeems_chat_link(w):
    room = await w.teacher.create_room({"name": "Кружок робототехники", "preset": "private_chat"})
    code = await new_link(w, w.teacher, {"rooms": [room]})
    refused(await call(w, w.admin_b, "POST", f"/links/{code}/redeem"), "link_other_org")
    assert not await joined(w.admin_b, room)

    status, body = await call(w, w.student, "POST", f"/links/{code}/redeem")
    assert status == 200 and body["changes"] >= 1, body
    assert await joined(w.student, room)


async def test_other_school_admin_links_our_room(w):
    refused(await call(w, w.admin_b, "POST", f"/organizations/{w.org_b}/links", {"rooms": [w.rooms["c7_chat"]]}),
            "room_other_org")
    await new_link(w, w.teacher, {"rooms": [w.rooms["c7_chat"]]})


async def test_refused_chat_link_redeem_uses_nothing(w):
    code = await new_link(w, w.teacher, {"rooms": [w.rooms["staff"]], "uses_allowed": 1})
    refused(await call(w, w.student, "POST", f"/links/{code}/redeem"), "not_for_staff_room")
    refused(await call(w, w.student, "POST", f"/links/{code}/redeem"), "not_for_staff_room")
    status, body = await call(w, w.teacher2, "POST", f"/links/{code}/redeem")
    assert status == 200, body


# --- another role ------------------------------------------------------------------------------------

async def test_teacher_creates_staff_link(w):
    refused(await call(w, w.teacher, "POST", f"/organizations/{w.org}/links", {"role": "teacher"}),
            "may_not_issue_links")
    await new_link(w, w.admin, {"role": "teacher"})


async def test_teacher_creates_link_for_a_class_not_taught(w):
    refused(await call(w, w.teacher, "POST", f"/organizations/{w.org}/links", {"role": "student", "class_id": "c8"}),
            "link_own_classes")
    await new_link(w, w.teacher, {"role": "student", "class_id": "c7"})
    await new_link(w, w.teacher2, {"role": "student", "class_id": "c8"})


async def test_student_redeems_teacher_link(w, hs):
    code = await new_link(w, w.admin, {"role": "teacher"})
    refused(await call(w, w.student, "POST", f"/links/{code}/redeem"), "link_wrong_role")
    # a teacher who already has an account (in no school yet) takes the link
    newcomer = await hs.outsider("Учительница")
    status, body = await call(w, newcomer, "POST", f"/links/{code}/redeem")
    assert status == 200 and body["changes"] >= 1, body
    status, people = await call(w, w.admin, "GET", f"/organizations/{w.org}/people?role=teacher")
    assert status == 200, people
    assert newcomer.user_id in {p.get("user_id") for p in people["people"]}, people


# --- a parent's link used by the child ----------------------------------------------------------------

async def test_parent_link_used_by_the_child(w, hs):
    invite = {"role": "parent", "child_user_id": w.student.user_id}
    code = await new_link(w, w.student, invite)
    refused(await call(w, w.student, "POST", f"/links/{code}/redeem"), "parent_link_by_child")
    shows(await w.page.post({"code": code, "action": "signin", "login_user": w.student.user_id,
                             "login_password": w.student_password}), 403,
          "This link is for your parent: send it to them; it cannot be used from your own account")

    second = await new_link(w, w.student, invite)
    too_many = refused(await call(w, w.student, "POST", f"/organizations/{w.org}/links", invite), "too_many_guardians")
    assert "2" in too_many["error"], too_many

    # legitimate: the parent registers with the first link...
    parent_name = unique("oksana.b")
    status, text = await w.page.post(person_form(code, parent_name, "Белкина", "Оксана"))
    assert status == 200, text
    parent = await hs.login(f"@{parent_name}:{hs.server_name}", PASSWORD)
    assert await eventually(lambda: joined(parent, w.rooms["c7_parents"]))
    # ...and the other parent, who already has an account, redeems the second: twice
    father = await hs.outsider("Отец")
    status, body = await call(w, father, "POST", f"/links/{second}/redeem")
    assert status == 200 and body["changes"] >= 1, body
    assert await joined(father, w.rooms["c7_parents"])
    status, body = await call(w, father, "POST", f"/links/{second}/redeem")
    assert status == 200 and body["changes"] == 0, body
    status, body = await call(w, parent, "POST", f"/links/{code}/redeem")
    assert status == 200 and body["changes"] == 0, body  # registering counted as redeeming
    refused(await call(w, w.student, "POST", f"/organizations/{w.org}/links", invite), "too_many_guardians")


# --- names ---------------------------------------------------------------------------------------------

ZWJ, ZWSP, RLO, PDF_, LRI, PDI, VS16 = "\u200d", "\u200b", "\u202e", "\u202c", "\u2066", "\u2069", "\ufe0f"
BADGE_IMITATIONS = {
    "the_badge": ("Иванов ✓", "Прохор", ""),
    "badge_without_space": ("Иванов✓", "Прохор", ""),
    "heavy_check": ("Иванов ✔", "Прохор", ""),
    "check_emoji": ("Иванов ✅", "Прохор", ""),
    "ballot_box_with_check": ("Иванов ☑", "Прохор", ""),
    "square_root": ("Иванов √", "Прохор", ""),
    "light_check_mark": ("Иванов 🗸", "Прохор", ""),
    "ballot_box_bold_check": ("Иванов 🗹", "Прохор", ""),
    "not_check_mark": ("Иванов ⍻", "Прохор", ""),
    "v_with_right_hook": ("Иванов ⱱ", "Прохор", ""),
    "aegean_check_mark": ("Иванов 𐄂", "Прохор", ""),
    "zero_width_joiner": (f"Иванов {ZWJ}✓{ZWJ}", "Прохор", ""),
    "zero_width_space": (f"Иванов{ZWSP} {ZWSP}✔", "Прохор", ""),
    "variation_selector": (f"Иванов ✓{VS16}", "Прохор", ""),
    "right_to_left_override": (f"{RLO}✓ вонавИ{PDF_}", "Прохор", ""),
    "bidi_isolate": (f"Иванов {LRI}✓{PDI}", "Прохор", ""),
    "fullwidth_letters_and_space": ("Ｉｖａｎｏｖ\u3000✓", "Прохор", ""),
    "combining_marks": ("Иванов ✓\u0301\u0336\u0308", "Прохор", ""),
    "combining_marks_on_root": ("Иванов √\u0332", "Прохор", ""),
    "in_the_given_name": ("Иванов", "Прохор ✓", ""),
    "in_the_patronymic": ("Иванов", "Прохор", f"Ильич{ZWJ}✅"),
}


@pytest.mark.parametrize("family,given,middle", list(BADGE_IMITATIONS.values()), ids=list(BADGE_IMITATIONS))
async def test_badge_imitation_at_registration(w, hs, family, given, middle):
    username = unique("prokhor.i")
    text = shows(await w.page.post(person_form(w.open_link, username, family, given, middle)), 400,
                 name_message("badge_imitation"))
    assert f"@{username}:" not in text
    assert await hs.bot.get_user(f"@{username}:{hs.server_name}") is None


async def test_ordinary_name_registers(w, hs):
    username = unique("yulia.yo")
    status, text = await w.page.post(person_form(w.open_link, username, "Ёлкина", "Юлия"))
    assert status == 200, text
    user = await hs.login(f"@{username}:{hs.server_name}", PASSWORD)
    assert await display_name(user) == "Ёлкина Юлия"


LOOKALIKES = ("ivan.petr0v", "ivan_petrov")  # of "ivan.petrov": same UTS #39 skeleton
CONTACTS = ("ivan+7-916-123-45-67", "ivan.petrov.mail.ru")  # a phone number, an e-mail address


async def original_login_name(w, hs) -> str:
    """``ivan.petrov``, registered on the page (once)."""
    if await hs.bot.get_user(f"@ivan.petrov:{hs.server_name}") is None:
        status, text = await w.page.post(person_form(w.open_link, "ivan.petrov", "Петров", "Иван"))
        assert status == 200, text
    return "ivan.petrov"


async def test_login_name_lookalikes(w, hs):
    await original_login_name(w, hs)
    for name in LOOKALIKES:
        status, _text = await w.page.post(person_form(w.open_link, name, "Петров", "Иван"))
        assert status == 400, name
    for name in (*LOOKALIKES, CONTACTS[0]):
        status, body = await matrix_attempt(hs, w.open_link, name)
        assert status >= 400, body  # the error itself: test_login_name_refusal_says_why
    for name in (*LOOKALIKES, *CONTACTS):
        assert await hs.bot.get_user(f"@{name}:{hs.server_name}") is None, name
    # Cyrillic і: the page refuses it as a look-alike of the taken ivan.petrov; Synapse's localpart
    # grammar refuses it before the module
    shows(await w.page.post(person_form(w.open_link, "іvan.petrov", "Петров", "Иван")), 400,
          name_message("login_lookalike"))
    status, body = await matrix_attempt(hs, w.open_link, "іvan.petrov")
    assert status == 400 and body.get("errcode") == "M_INVALID_USERNAME", body
    # a phone number or an e-mail address: the page's own check
    for name in CONTACTS:
        shows(await w.page.post(person_form(w.open_link, name, "Петров", "Иван")), 400, name_message("login_contact"))

    user_id = await matrix_register(hs.url, w.open_link, "ivan.petrov.7a", PASSWORD)
    assert user_id == f"@ivan.petrov.7a:{hs.server_name}"


async def test_login_name_refusal_says_why(w, hs):
    """The page says why; standard registration is refused too, but Synapse turns any exception of
    the ``get_username_for_registration`` callback into a bare 500 (synapse/handlers/auth.py), so a
    client such as Element only learns that it failed (a known limit, docs/security.md)."""
    await original_login_name(w, hs)
    for name in LOOKALIKES:
        status, body = await matrix_attempt(hs, w.open_link, name)
        assert status in (400, 500) and body.get("errcode") in ("M_INVALID_USERNAME", "M_UNKNOWN"), body
        shows(await w.page.post(person_form(w.open_link, name, "Петров", "Иван")), 400,
              name_message("login_lookalike"))
    for name in CONTACTS:
        status, body = await matrix_attempt(hs, w.open_link, name)
        assert status in (400, 500) and body.get("errcode") in ("M_INVALID_USERNAME", "M_UNKNOWN"), body


async def test_roster_name_imitating_the_badge(w):
    imitated = await display_name(w.badge_student)
    assert imitated == "Иванов Прохор", imitated
    check_not_badge(imitated)  # nothing in it looks like the badge
    assert await display_name(w.teacher) == "Громова Таисия ✓"
    assert await display_name(w.student) == "Белкин Тимофей"


async def test_room_id_path_traversal_in_a_chat_link(w, hs):
    """A room id is put into request paths: "!x/../../_synapse/admin/..." must never reach the admin API."""
    victim = await hs.outsider("Жертва")
    evil = f"!x/../../../../../_synapse/admin/v1/deactivate/{victim.user_id}"
    status, body = await call(w, w.teacher, "POST", f"/organizations/{w.org}/links", {"rooms": [evil]})
    assert status == 400 and body["errcode"] == "M_BAD_JSON", body
    assert (await hs.bot.get_user(victim.user_id))["deactivated"] is False
    ok_status, _link = await call(w, w.teacher, "POST", f"/organizations/{w.org}/links",
                                  {"rooms": [w.rooms["c7_chat"]]})
    assert ok_status == 201


async def test_student_parent_link_makes_one_account_only(w, hs):
    """A student's "invite my parent" link cannot be turned into many adult accounts."""
    child = w.badge_student
    status, link = await call(w, child, "POST", f"/organizations/{w.org}/links",
                              {"role": "parent", "child_user_id": child.user_id, "uses_allowed": 50})
    assert status == 201 and link["uses_allowed"] == 1 and link["expires_at"] is not None, link
    first = unique("mama.b")
    status, _ = await w.page.post(person_form(link["code"], first, "Белкина", "Марина"))
    assert status == 200
    status, text = await w.page.post(person_form(link["code"], unique("fake.mom"), "Белкина", "Ложная"))
    assert status == 410, text
    await call(w, w.admin, "DELETE", f"/links/{link['code']}")


async def test_teacher_parent_link_for_a_child_of_another_class(w, hs):
    other = await hs.person(w.org, "s2")  # in 7А, which teacher2 (8Б) does not teach
    refused(await call(w, w.teacher2, "POST", f"/organizations/{w.org}/links",
                       {"role": "parent", "class_id": "c8", "child_user_id": other.user_id}), "link_own_classes")
    status, link = await call(w, w.teacher, "POST", f"/organizations/{w.org}/links",
                              {"role": "parent", "class_id": "c7", "child_user_id": other.user_id})
    assert status == 201, link
    await call(w, w.admin, "DELETE", f"/links/{link['code']}")
