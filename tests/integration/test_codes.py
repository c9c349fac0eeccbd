"""Issue 4: personal codes for a roster's expected people, the printable class sheet, and
registering with a personal code on the page or the way Element does — both end in the same state."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from policies.templates import RoomRef, default_templates

from spaces_provisioner.homeserver.user import register as matrix_register

from ..helpers import Page, api, q, write_classes_roster

pytestmark = pytest.mark.synapse
T = default_templates()


async def test_personal_codes_sheet_and_both_registration_paths(hs, tmp_path):
    base = hs.settings.provisioning_url
    roster = write_classes_roster(
        tmp_path / "r", [("c6", "6Г", "06"), ("c8", "8Д", "08")],
        people=[("p1", "student", "Лев", "Котов", ""), ("p2", "student", "Ника", "Белова", ""),
                ("g1", "parent", "Ирина", "Котова", ""), ("t6", "teacher", "Олег", "Громов", ""),
                ("p3", "student", "Ян", "Ветров", "")],
        enrollments=[("c6", "p1", "student"), ("c6", "p2", "student"), ("c6", "t6", "teacher"),
                     ("c8", "p3", "student")])
    (roster / "users.csv").write_text((roster / "users.csv").read_text().replace(
        "p1,,,true,org,student,,,Лев,Котов,,,,,,,,", "p1,,,true,org,student,,,Лев,Котов,,,,,,g1,,"))
    school = await hs.new_school(roster=roster)
    org = school["org"]
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])

    status, body = await api(admin, "POST", f"/organizations/{org}/codes", {"class_id": "c6"}, base)
    assert status == 200, body
    codes = {c["person_id"]: c for c in body["codes"]}
    assert set(codes) == {"p1", "p2", "g1", "t6"}  # the class's students, their parent, their teacher
    assert codes["g1"]["note"] == "Котов Лев"
    _s, again = await api(admin, "POST", f"/organizations/{org}/codes", {"class_id": "c6"}, base)
    assert {c["person_id"]: c["code"] for c in again["codes"]} == {k: v["code"] for k, v in codes.items()}

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {admin.token}"}) as s:
        async with s.get(f"{base}/api/v1/organizations/{org}/classes/c6/sheet", params={"format": "html"}) as r:
            html = await r.text()
            assert r.status == 200 and r.content_type == "text/html"
        async with s.get(f"{base}/api/v1/organizations/{org}/classes/c6/sheet", params={"format": "pdf"}) as r:
            pdf = await r.read()
            assert r.status == 200 and r.content_type == "application/pdf"
    assert "Котов Лев" in html and codes["p1"]["code"] in html and html.count("<svg") == 4
    assert pdf.startswith(b"%PDF")

    # a student may not print the sheet
    student3 = await hs.person(org, "p3")
    status, body = await api(student3, "POST", f"/organizations/{org}/codes", {"class_id": "c6"}, base)
    assert status == 403, body

    # 1: the page confirms the roster entry instead of asking for the name
    page = Page(base)
    status, text = await page.get(f"/register?code={codes['p1']['code']}")
    assert status == 200 and "Котов Лев" in text and 'name="family_name"' not in text
    status, text = await page.post({"code": codes["p1"]["code"], "action": "register", "username": "lev.kotov",
                                    "password": "кот-на-крыше-6", "password2": "кот-на-крыше-6"})
    assert status == 200, text
    # 2: the same kind of code typed into Element: standard registration with the token
    p2 = await matrix_register(hs.url, codes["p2"]["code"], "nika.b", "сова-в-дупле-6")
    lev = await hs.login(f"@lev.kotov:{hs.server_name}", "кот-на-крыше-6")
    nika = await hs.login(p2, "сова-в-дупле-6")
    chat = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'class_chat', 'c6'))}:{hs.server_name}")
    for user, name in ((lev, "Котов Лев"), (nika, "Белова Ника")):
        for _ in range(75):
            if chat in await user.joined_rooms():
                break
            await asyncio.sleep(0.2)
        assert chat in await user.joined_rooms(), user.user_id
        assert (await user.get(f"/_matrix/client/v3/profile/{q(user.user_id)}"))["displayname"] == name

    # a personal code is single-use; people with accounts get no new code
    status, text = await page.get(f"/register?code={codes['p1']['code']}")
    assert status == 410
    _s, after = await api(admin, "POST", f"/organizations/{org}/codes", {"class_id": "c6"}, base)
    assert {c["person_id"] for c in after["codes"]} == {"g1", "t6"}
