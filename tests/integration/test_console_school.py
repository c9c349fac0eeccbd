"""The school's console pages (issue 14, scope 3) over HTTP as a browser without JavaScript sends them,
against the real homeserver and provisioning service: confirming a teacher after the consequences page,
a class link created, listed and revoked, the class's code sheet, a roster previewed then imported
with its status page, the reports, audit log and settings pages (the refusals: test_console_school_attacks.py)."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from policies.i18n import gettext_
from policies.templates import RoomRef, default_templates

from spaces_provisioner.roster.source import zip_folder

from ..helpers import api, q
from .console_school_world import Console, console_school, school_roster

pytestmark = pytest.mark.synapse
T = default_templates()


async def test_the_administrator_confirms_a_teacher_after_seeing_the_rooms_they_join(hs, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    async with Console(base) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.get(f"/console/org/{org}/people")
        assert status == 200, text
        waiting = text.split('id="waiting-h"')[1].split("</section>")[0]
        assert "Сидорова Анна" in waiting and "Котов Борис" in waiting
        status, text = await c.post(f"/console/org/{org}/people/change", {"person": "t1", "action": "confirm"})
        assert status == 200 and 'id="rooms-joined"' in text and "5А" in text, text
        people = {p["person_id"]: p for p in (await api(s["admin"], "GET", f"/organizations/{org}/people",
                                                        None, base))[1]["people"]}
        assert people["t1"]["confirmed"] is False  # the consequences page changed nothing
        status, text = await c.post(f"/console/org/{org}/people/change",
                                    {"person": "t1", "action": "confirm", "sure": "yes"})
        assert status == 200 and "подтвержден" in text.lower(), text
    people = {p["person_id"]: p for p in (await api(s["admin"], "GET", f"/organizations/{org}/people",
                                                    None, base))[1]["people"]}
    assert people["t1"]["confirmed"] is True and people["t2"]["confirmed"] is False


async def test_moving_and_removing_show_the_consequences_then_happen(hs, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    async with Console(base) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.post(f"/console/org/{org}/people/edit", {"person": "t2"})
        assert status == 200 and 'name="classes" value="c5b" checked' in text, text
        status, text = await c.post(f"/console/org/{org}/people/change",
                                    {"person": "t2", "action": "remove"})
        assert status == 200 and "Котов Борис" in text, text
        status, text = await c.post(f"/console/org/{org}/people/change",
                                    {"person": "t2", "action": "remove", "sure": "yes"})
        assert status == 200, text
    people = {p["person_id"]: p for p in (await api(s["admin"], "GET", f"/organizations/{org}/people",
                                                    None, base))[1]["people"]}
    assert people["t2"]["status"] == "removed"


async def test_a_class_link_is_created_listed_revoked_and_the_class_sheet_prints(hs, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    async with Console(base) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.post(f"/console/org/{org}/links/create",
                                    {"role": "student", "class_id": "c5a", "uses_allowed": "30",
                                     "expires_days": "7"})
        assert status == 200, text
        code = re.search(r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>", text).group(1)
        assert "0 / 30" in text
        status, text = await c.post(f"/console/org/{org}/links/revoke", {"code": code})
        assert status == 200 and code in text, text
        links = (await api(s["admin"], "GET", f"/organizations/{org}/links", None, base))[1]["links"]
        assert {x["code"]: x["revoked"] for x in links}[code] is True
        status, text = await c.get(f"/console/org/{org}/classes/c5a/sheet")
        assert status == 200 and "Петров Иван" in text and "/console/sheet.css" in text, text[:500]
        assert "<style>" not in text  # the console's CSP allows no inline style: the sheet's CSS is a file
        async with c.session.get(base + "/console/sheet.css") as r:
            assert r.status == 200 and r.content_type == "text/css"


async def test_a_roster_is_previewed_without_writing_then_imported_with_a_status_page(hs, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    later = school_roster(tmp_path / "later", extra_classes=[("c6a", "6А", "06")],
                          extra_people=[("s3", "student", "Пётр", "Новиков", "")],
                          extra_enrollments=[("c6a", "s3", "student")])
    async with Console(base) as c:
        await c.sign_in(s["admin"].token)
        await c.get(f"/console/org/{org}/roster")
        form = aiohttp.FormData()
        form.add_field("file", zip_folder(later), filename="roster.zip", content_type="application/zip")
        status, text = await c.post(f"/console/org/{org}/roster/preview", form)
        assert status == 200, text
        assert gettext_("classes added", "ru") in text and "person s3 (student): added" in text, text
        people = (await api(s["admin"], "GET", f"/organizations/{org}/people", None, base))[1]["people"]
        assert "s3" not in {p["person_id"] for p in people}  # the preview wrote nothing
        job = re.search(r'name="job" value="([^"]+)"', text).group(1)
        status, text = await c.post(f"/console/org/{org}/roster/apply", {"job": job})
        for _ in range(120):
            if 'id="roster-done"' in text or "role=\"alert\"" in text:
                break
            await asyncio.sleep(1)
            status, text = await c.get(f"/console/org/{org}/roster/{job}")
        assert 'id="roster-done"' in text, text
    people = (await api(s["admin"], "GET", f"/organizations/{org}/people", None, base))[1]["people"]
    assert "s3" in {p["person_id"] for p in people}
    # another session cannot see this import (the job is bound to the session that made it)
    async with Console(base) as other:
        await other.sign_in(s["admin"].token)
        status, _text = await other.get(f"/console/org/{org}/roster/{job}")
        assert status == 404


async def test_reports_audit_and_settings_pages_show_the_school(hs, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    async with Console(base) as c:
        await c.sign_in(s["admin"].token)
        await c.post(f"/console/org/{org}/people/change", {"person": "t1", "action": "confirm", "sure": "yes"})
        status, text = await c.get(f"/console/org/{org}/audit?action=person.")
        assert status == 200 and "person.update" in text, text
        status, text = await c.get(f"/console/org/{org}/audit?since=yesterday")
        assert status == 400 and "since" in text
        status, text = await c.get(f"/console/org/{org}/reports")
        assert status == 200, text
        status, text = await c.get(f"/console/org/{org}/settings")
        assert status == 200 and "students_may_message_classmates" in text and "retention_archived_months" in text
        assert gettext_("The school's settings", "ru") in text
        # English is available: the same page after the language switch
        status, text = await c.post("/console/language", {"lang": "en", "next": f"/console/org/{org}/settings"})
        assert status == 200 and "The school&#39;s settings" in text, text[:300]


async def test_the_administrator_acts_on_a_report_from_the_reports_page(hs, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t1'].user_id)}", {"confirmed": True}, base)
    pupil = await hs.person(org, "s1")
    chat = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'class_chat', 'c5a'))}:{hs.server_name}")
    v = "/_matrix/client/v3"
    code, sent = await s["t1"].attempt("PUT", f"{v}/rooms/{q(chat)}/send/m.room.message/console1",
                                       {"msgtype": "m.text", "body": "неуместное сообщение"})
    assert code == 200, sent
    code, body = await pupil.attempt("POST", f"{v}/rooms/{q(chat)}/report/{q(sent['event_id'])}", {"reason": "грубо"})
    assert code == 200, body
    await api(hs.settings.operator_token, "POST", "/moderation/sweep", base=base)
    async with Console(base) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.get(f"/console/org/{org}/reports")
        assert status == 200 and "грубо" in text, text
        report = re.search(r'name="report" value="([^"]+)"', text).group(1)
        status, text = await c.post(f"/console/org/{org}/reports/act",
                                    {"report": report, "action": "redact", "reason": "правила"})
        assert status == 200 and gettext_("Remove the message", "ru") in text, text
        status, text = await c.post(f"/console/org/{org}/reports/act", {"report": report, "action": "remove"})
        assert status == 400 and "M_BAD_JSON" in text  # removal is the people page's, with its consequences
    code, event = await pupil.attempt("GET", f"{v}/rooms/{q(chat)}/event/{q(sent['event_id'])}")
    assert code == 200 and not event.get("content"), event
