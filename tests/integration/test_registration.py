"""Issue 4: people get in the right way — the end-to-end scenario as people would do it.

Real provisioning service, real homeserver, a real SMTP server (aiosmtpd) from which the
test reads the parent's code: the administrator creates a staff link → a teacher
registers → the administrator confirms → the teacher creates a class link → three
students register (one in grade 2 through a parent's e-mail code; one the way Element
does, with the token in standard Matrix registration) → a student invites a parent →
the parent registers → everyone is in exactly the rooms the role table says.
"""

from __future__ import annotations

import re

import pytest

from policies.templates import RoomRef, default_templates

from spaces_provisioner.homeserver.user import register as matrix_register

from ..helpers import Page, User, api, eventually, q, rooms_of, write_classes_roster

pytestmark = pytest.mark.synapse
T = default_templates()


async def test_people_get_in_the_right_way(hs, tmp_path, mailbox):
    base = hs.settings.provisioning_url
    page = Page(base)
    roster = write_classes_roster(tmp_path / "roster", [("c7b", "7Б", "07"), ("c2a", "2А", "02")])
    school = await hs.new_school(roster=roster)
    org = school["org"]
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    R = await rooms_of(hs, org, {
        "space": RoomRef(org, "school_space"), "announcements": RoomRef(org, "announcements"),
        "staff": RoomRef(org, "staff_room"), "administration": RoomRef(org, "administration"),
        "7b": RoomRef(org, "class_space", "c7b"), "7b_chat": RoomRef(org, "class_chat", "c7b"),
        "7b_parents": RoomRef(org, "class_parents", "c7b"), "7b_ann": RoomRef(org, "class_announcements", "c7b"),
        "2a": RoomRef(org, "class_space", "c2a"), "2a_chat": RoomRef(org, "class_chat", "c2a"),
        "2a_parents": RoomRef(org, "class_parents", "c2a"), "2a_ann": RoomRef(org, "class_announcements", "c2a")})

    # 1. the administrator creates a staff link
    status, staff_link = await api(admin, "POST", f"/organizations/{org}/links", {"role": "teacher"}, base)
    assert status == 201, staff_link

    # 2. a teacher registers on the page
    status, html = await page.get(f"/register?code={staff_link['code']}")
    assert status == 200 and "teacher" in html.lower() or "учител" in html
    status, html = await page.post({"code": staff_link["code"], "action": "register", "family_name": "Орлова",
                                    "given_name": "Вера", "middle_name": "Павловна", "username": "vera.orlova",
                                    "password": "синий-кит-лес-7", "password2": "синий-кит-лес-7"})
    assert status == 200, html
    teacher_id = f"@vera.orlova:{hs.server_name}"
    assert teacher_id in html
    teacher = await hs.login(teacher_id, "синий-кит-лес-7")
    assert await teacher.joined_rooms() & set(R.values()) == {R["space"]}  # unconfirmed: the school space only
    status, body = await api(teacher, "POST", f"/organizations/{org}/links", {"role": "student", "class_id": "c7b"},
                             base)
    assert status == 403 and body["org.parta.reason"] == "may_not_issue_links", body  # not confirmed yet

    # 3. the administrator confirms the teacher and gives her both classes
    status, body = await api(admin, "PATCH", f"/organizations/{org}/people/{q(teacher_id)}",
                             {"confirmed": True, "classes": ["c7b", "c2a"]}, base)
    assert status == 200, body
    profile = await teacher.get(f"/_matrix/client/v3/profile/{q(teacher_id)}")
    assert profile["displayname"] == "Орлова Вера Павловна ✓"
    assert {R["staff"], R["7b_chat"], R["2a_parents"]} <= await teacher.joined_rooms()
    pl = (await hs.bot.room_state(R["7b_chat"]))[("m.room.power_levels", "")]
    assert pl["users"][teacher_id] == 50

    # 4. the teacher creates class links
    status, link7 = await api(teacher, "POST", f"/organizations/{org}/links",
                              {"role": "student", "class_id": "c7b", "uses_allowed": 5}, base)
    assert status == 201, link7
    status, link2 = await api(teacher, "POST", f"/organizations/{org}/links", {"role": "student", "class_id": "c2a"},
                              base)
    assert status == 201, link2

    # 5a. a student of 7Б registers on the page
    status, html = await page.post({"code": link7["code"], "action": "register", "family_name": "Лебедев",
                                    "given_name": "Артём", "username": "artyom.l", "password": "зелёный-дом-42",
                                    "password2": "зелёный-дом-42"})
    assert status == 200, html
    s1 = await hs.login(f"@artyom.l:{hs.server_name}", "зелёный-дом-42")

    # 5b. a second one the way Element does: standard registration with the token
    s2_id = await matrix_register(hs.url, link7["code"], "polina.k", "жёлтый-лист-88")
    s2 = await hs.login(s2_id, "жёлтый-лист-88")
    assert await eventually(lambda: _has(s2, R["7b_chat"])), "the module's nudge placed the Element registration"

    # 5c. a grade-2 pupil registers through a parent's e-mail code
    status, html = await page.get(f"/register?code={link2['code']}")
    assert 'name="parent_email"' in html
    status, html = await page.post({"code": link2["code"], "action": "send_code", "parent_email": "mama@example.org"})
    assert status == 200, html
    message = (await eventually(lambda: _mail(mailbox, "mama@example.org")))[-1]
    digits = re.search(r"\b(\d{6})\b", message.get_content()).group(1)
    code_id = re.search(r'name="email_code_id" value="([^"]+)"', html).group(1)
    status, html = await page.post({"code": link2["code"], "action": "register", "email_code_id": code_id,
                                    "parent_email": "mama@example.org", "email_code": "000000" if digits != "000000"
                                    else "111111", "family_name": "Зайцева", "given_name": "Ева",
                                    "username": "eva.z", "password": "лиса-в-норе-5", "password2": "лиса-в-норе-5"})
    assert status == 400  # a wrong code first
    status, html = await page.post({"code": link2["code"], "action": "register", "email_code_id": code_id,
                                    "parent_email": "mama@example.org", "email_code": digits,
                                    "family_name": "Зайцева", "given_name": "Ева", "username": "eva.z",
                                    "password": "лиса-в-норе-5", "password2": "лиса-в-норе-5"})
    assert status == 200, html
    s3 = await hs.login(f"@eva.z:{hs.server_name}", "лиса-в-норе-5")

    # 6. a student invites a parent; 7. the parent registers
    status, parent_link = await api(s1, "POST", f"/organizations/{org}/links",
                                    {"role": "parent", "child_user_id": s1.user_id}, base)
    assert status == 201, parent_link
    status, html = await page.post({"code": parent_link["code"], "action": "register", "family_name": "Лебедев",
                                    "given_name": "Денис", "username": "denis.l", "password": "утро-туман-19",
                                    "password2": "утро-туман-19"})
    assert status == 200, html
    parent = await hs.login(f"@denis.l:{hs.server_name}", "утро-туман-19")

    # 8. each person is in exactly the rooms the role table says
    expected = {
        teacher: {"space", "announcements", "staff", "7b", "7b_chat", "7b_parents", "7b_ann",
                  "2a", "2a_chat", "2a_parents", "2a_ann"},
        s1: {"space", "announcements", "7b", "7b_chat", "7b_ann"},
        s2: {"space", "announcements", "7b", "7b_chat", "7b_ann"},
        s3: {"space", "announcements", "2a", "2a_chat", "2a_ann"},
        parent: {"space", "announcements", "7b", "7b_parents", "7b_ann"},
        admin: {"space", "announcements", "staff", "administration", "7b", "2a"},
    }
    for user, keys in expected.items():
        joined = await user.joined_rooms()
        assert {k for k, rid in R.items() if rid in joined} == keys, user.user_id

    # the parent appears as the student's parent to the module: they may write to each other
    room = await parent.create_room({"preset": "trusted_private_chat", "is_direct": True, "invite": [s1.user_id]})
    assert room
    assert (await s3.get(f"/_matrix/client/v3/profile/{q(s3.user_id)}"))["displayname"] == "Зайцева Ева"


async def _has(user: User, room_id: str) -> bool:
    return room_id in await user.joined_rooms()


async def _mail(mailbox, address: str):
    return mailbox.to(address)
