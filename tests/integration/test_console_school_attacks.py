"""Attacks on the school's console pages (issue 14): each refused with the API's errcode and message in the
person's language, the legitimate request next to it succeeding. Real homeserver and provisioning service,
forms sent as a browser without JavaScript sends them (with the session's CSRF token)."""

from __future__ import annotations

import pytest

from policies.i18n import gettext_

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, api, q
from .console_school_world import Console, console_school

pytestmark = pytest.mark.synapse


def ru(msg: str) -> str:
    """The Russian text of an API message, HTML-escaped as the page shows it."""
    return gettext_(msg, "ru").replace("'", "&#39;").replace('"', "&#34;")


async def test_a_teacher_is_refused_another_class_and_the_administration_pages(hs, tmp_path):
    """Attack: a confirmed teacher of 5А opens 5Б's code sheet, issues a link for 5Б, opens the people
    page; each is refused with the API's message; their own class's sheet and link succeed."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t1'].user_id)}", {"confirmed": True}, base)
    async with Console(base) as c:
        await c.sign_in(s["t1"].token)
        status, text = await c.get(f"/console/org/{org}/classes/c5b/sheet")
        assert status == 403 and ru("Personal codes of a class are for the school's administration and the "
                                    "class's teachers") in text, text
        status, text = await c.get(f"/console/org/{org}/classes/c5a/sheet")
        assert status == 200 and "Петров Иван" in text and "Зуева" not in text
        status, text = await c.post(f"/console/org/{org}/links/create", {"role": "student", "class_id": "c5b"})
        assert status == 403 and ru("A teacher issues student and parent links for own classes only") in text, text
        status, text = await c.post(f"/console/org/{org}/links/create", {"role": "student", "class_id": "c5a"})
        assert status == 200 and "<code>" in text, text
        status, text = await c.get(f"/console/org/{org}/people")
        assert status == 403 and ru("Only the organization's administrator or head can do this") in text
        status, text = await c.post(f"/console/org/{org}/people/change",
                                    {"person": "t2", "action": "remove", "sure": "yes"})
        assert status == 403
    people = {p["person_id"]: p for p in (await api(s["admin"], "GET", f"/organizations/{org}/people",
                                                    None, base))[1]["people"]}
    assert people["t2"]["status"] == "active"


async def test_an_administrator_of_another_school_is_refused_this_schools_pages(hs, tmp_path):
    """Attack: school B's administrator opens school A's people page, removes a teacher of A and opens A's
    roster import; refused (403, the API's message); B's own people page opens."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    acc = {x["role"]: x for x in b["approve"]["accounts"]}
    admin_b = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    async with Console(base) as c:
        await c.sign_in(admin_b.token)
        status, text = await c.get(f"/console/org/{org}/people")
        assert status == 403 and ru("Only the organization's administrator or head can do this") in text
        status, text = await c.post(f"/console/org/{org}/people/change",
                                    {"person": "t1", "action": "remove", "sure": "yes"})
        assert status == 403 and "M_FORBIDDEN" in text
        status, _text = await c.get(f"/console/org/{org}/roster")
        assert status == 403
        status, text = await c.get(f"/console/org/{b['org']}/people")
        assert status == 200
    people = {p["person_id"]: p for p in (await api(s["admin"], "GET", f"/organizations/{org}/people",
                                                    None, base))[1]["people"]}
    assert people["t1"]["status"] == "active"
