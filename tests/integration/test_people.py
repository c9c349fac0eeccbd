"""Issue 4: role changes and leaving without deleting anyone; a parent of children in two schools.

Real homeserver, real provisioning service; the administrator acts with their own Matrix
access token, as the API requires.
"""

from __future__ import annotations

import pytest

from policies.templates import RoomRef, default_templates

from ..helpers import SCHOOL_B_APPLICATION, Page, api, q, write_classes_roster

pytestmark = pytest.mark.synapse
T = default_templates()


async def room(hs, ref: RoomRef) -> str:
    return await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}")


async def test_class_change_and_removal_follow_in_the_rooms(hs, tmp_path):
    base = hs.settings.provisioning_url
    roster = write_classes_roster(
        tmp_path / "r", [("c5a", "5А", "05"), ("c5b", "5Б", "05")],
        people=[("s1", "student", "Иван", "Петров", ""), ("t1", "teacher", "Анна", "Сидорова", "")],
        enrollments=[("c5a", "s1", "student"), ("c5a", "t1", "teacher"), ("c5b", "t1", "teacher")])
    school = await hs.new_school(roster=roster)
    org = school["org"]
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    student = await hs.person(org, "s1")
    chat_a = await room(hs, RoomRef(org, "class_chat", "c5a"))
    chat_b = await room(hs, RoomRef(org, "class_chat", "c5b"))
    assert chat_a in await student.joined_rooms() and chat_b not in await student.joined_rooms()

    # a student cannot move people between classes; the administrator can, and the rooms follow
    status, body = await api(student, "PATCH", f"/organizations/{org}/people/s1", {"classes": ["c5b"]}, base)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN", body
    status, body = await api(admin, "PATCH", f"/organizations/{org}/people/s1", {"classes": ["c5b"]}, base)
    assert status == 200 and body["changes"] > 0, body
    joined = await student.joined_rooms()
    assert chat_b in joined and chat_a not in joined
    status, body = await api(admin, "PATCH", f"/organizations/{org}/people/s1", {"classes": ["c5b"]}, base)
    assert body["changes"] == 0  # the same change again changes nothing

    # a role change: the teacher, unconfirmed, is confirmed and gets the badge and class power
    teacher = await hs.person(org, "t1")
    assert chat_a not in await teacher.joined_rooms()
    status, body = await api(admin, "PATCH", f"/organizations/{org}/people/{q(teacher.user_id)}",
                             {"confirmed": True}, base)
    assert status == 200, body
    assert chat_a in await teacher.joined_rooms()
    assert (await teacher.get(f"/_matrix/client/v3/profile/{q(teacher.user_id)}"))["displayname"].endswith(" ✓")

    # removal: out of every room of the school, the account suspended (not deleted), data kept
    status, body = await api(admin, "DELETE", f"/organizations/{org}/people/s1", None, base)
    assert status == 200, body
    assert not (await student.joined_rooms()) & {chat_b, school["space_id"]}
    code, resp = await student.attempt("PUT", f"/_matrix/client/v3/profile/{q(student.user_id)}/displayname",
                                       {"displayname": "x"})
    assert code == 403
    code, resp = await student.attempt("POST", "/_matrix/client/v3/createRoom", {"name": "ещё здесь?"})
    assert code == 403 and resp["errcode"] == "M_USER_SUSPENDED", resp
    status, body = await api(admin, "GET", f"/organizations/{org}/people", None, base)
    assert {p["person_id"]: p["status"] for p in body["people"]}["s1"] == "removed"


async def test_a_parent_of_children_in_two_schools_lands_in_each_parents_chat(hs, tmp_path):
    base = hs.settings.provisioning_url
    page = Page(base)
    a = await hs.new_school(roster=write_classes_roster(
        tmp_path / "a", [("a3", "3В", "03")], people=[("kid1", "student", "Маша", "Фомина", "")],
        enrollments=[("a3", "kid1", "student")]))
    b = await hs.new_school(application=SCHOOL_B_APPLICATION, roster=write_classes_roster(
        tmp_path / "b", [("b9", "9А", "09")], people=[("kid2", "student", "Паша", "Фомин", "")],
        enrollments=[("b9", "kid2", "student")]))
    kid1, kid2 = await hs.person(a["org"], "kid1"), await hs.person(b["org"], "kid2")
    _s, link1 = await api(kid1, "POST", f"/organizations/{a['org']}/links",
                          {"role": "parent", "child_user_id": kid1.user_id}, base)
    _s, link2 = await api(kid2, "POST", f"/organizations/{b['org']}/links",
                          {"role": "parent", "child_user_id": kid2.user_id}, base)

    # the child cannot use the parent's link on the page's sign-in form
    status, html = await page.post({"code": link1["code"], "action": "signin", "login_user": kid1.user_id,
                                    "login_password": "wrong"})
    assert status == 403
    status, html = await page.post({"code": link1["code"], "action": "register", "family_name": "Фомина",
                                    "given_name": "Ольга", "username": "olga.fomina", "password": "река-мост-2024",
                                    "password2": "река-мост-2024"})
    assert status == 200, html
    parent = await hs.login(f"@olga.fomina:{hs.server_name}", "река-мост-2024")
    # the second child's link, redeemed while signed in; a second time changes nothing
    status, body = await api(parent, "POST", f"/links/{link2['code']}/redeem", None, base)
    assert status == 200 and body["changes"] > 0, body
    status, body = await api(parent, "POST", f"/links/{link2['code']}/redeem", None, base)
    assert status == 200 and body["changes"] == 0, body
    joined = await parent.joined_rooms()
    assert await room(hs, RoomRef(a["org"], "class_parents", "a3")) in joined
    assert await room(hs, RoomRef(b["org"], "class_parents", "b9")) in joined
    assert await room(hs, RoomRef(a["org"], "class_chat", "a3")) not in joined


async def test_administrator_corrects_a_name(hs, tmp_path):
    base = hs.settings.provisioning_url
    school = await hs.new_school(roster=write_classes_roster(
        tmp_path / "r", [("c1", "1А", "01")], people=[("s", "student", "Ива", "Петрва", "")],
        enrollments=[("c1", "s", "student")]))
    org = school["org"]
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    student = await hs.person(org, "s")
    status, body = await api(admin, "PATCH", f"/organizations/{org}/people/s",
                             {"family_name": "Петрова", "given_name": "Ива ✓"}, base)
    assert status == 400 and body.get("org.parta.reason") == "badge_imitation", body
    status, body = await api(student, "PATCH", f"/organizations/{org}/people/s",
                             {"family_name": "Петрова", "given_name": "Ива"}, base)
    assert status == 403, body
    status, body = await api(admin, "PATCH", f"/organizations/{org}/people/s",
                             {"family_name": "Петрова", "given_name": "Ива"}, base)
    assert status == 200 and body["changes"] > 0, body
    assert (await student.get(f"/_matrix/client/v3/profile/{q(student.user_id)}"))["displayname"] == "Петрова Ива"
