"""Issue 12: reports reach the school, the administration acts on them, and everything is in the audit log.

Real clients report with Matrix's own endpoints (an event: ``POST /rooms/{roomId}/report/{eventId}``;
a room: MSC4151 ``POST /rooms/{roomId}/report``; a user: MSC4260 ``POST /users/{userId}/report``) to a
real Synapse with Parta; the provisioning service reads the reports (``POST /api/v1/moderation/sweep``
here, every 5 s in production) and posts each to the moderation room («Модерация») of the reporter's
own school. The administrator acts through the API and ``parta moderation``; ``parta audit`` and
``GET /organizations/{org}/audit`` show who did what, when and from where.

The attacks (refusals next to the legitimate request) are in ``test_reports_audit_attacks.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aiohttp
import pytest

from ..helpers import REPO, api, q
from .reports_world import V, World, audit, build, moderate, notices, ok, say, sweep

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    return await build(hs, tmp_path_factory)


# --- reports reach the school ---------------------------------------------------------------------

async def test_a_pupils_report_reaches_the_moderation_room_and_the_redaction_is_audited(w, hs):
    """Issue 12's done-when: a pupil's report about a message appears in the school's moderation room
    and the administrator's redaction is audited."""
    room = w.rooms["class_chat"]
    bad = await say(w.classmate, room, "Ты никто, завтра после уроков тебе конец")
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(room)}/report/{q(bad)}", {"reason": "угрожает"}))
    assert await sweep(hs) >= 1
    [notice] = [n for n in await notices(w.admin, w.rooms["moderation"])
                if n["content"]["org.parta.report"]["room_id"] == room and "Ты никто" in n["content"]["body"]]
    text = notice["content"]["body"]
    assert notice["sender"] == hs.settings.bot_user_id and notice["content"]["msgtype"] == "m.notice"
    # the reported content, the reporter, the room and how to act
    for part in ("Ты никто, завтра после уроков тебе конец", w.student.user_id, w.classmate.user_id, room, "угрожает",
                 "parta moderation"):
        assert part in text, (part, text)
    report = notice["content"]["org.parta.report"]["id"]
    assert report.startswith("event:")
    listed = ok(await api(w.admin, "GET", f"/organizations/{w.org}/reports", base=w.base))["reports"]
    assert [r for r in listed if r["id"] == report][0]["event_id"] == bad
    # a second sweep posts nothing twice
    await sweep(hs)
    assert len([n for n in await notices(w.admin, w.rooms["moderation"])
                if n["content"]["org.parta.report"]["id"] == report]) == 1

    done = ok(await moderate(w, w.admin, {"action": "redact", "report": report, "reason": "угрозы"}))
    assert done["done"] and done["event_id"] == bad
    event = await w.teacher.get(f"{V}/rooms/{q(room)}/event/{q(bad)}")
    assert event["content"] == {} and "redacted_because" in event.get("unsigned", {}), event
    # the moderation room says what was done, so the head sees the administrator's action
    page = await w.admin.get(f"{V}/rooms/{q(w.rooms['moderation'])}/messages", {"dir": "b", "limit": "5"})
    said = [e["content"].get("body", "") for e in page["chunk"] if e["type"] == "m.room.message"]
    assert any(f"{report})" in b and ("сообщение удалено" in b or "message was removed" in b) for b in said), said
    entries = ok(await audit(w, w.admin, action="moderation.redact"))["entries"]
    assert entries[0]["actor"] == w.admin.user_id and entries[0]["origin"] == "127.0.0.1", entries
    assert entries[0]["detail"]["report"] == report and entries[0]["detail"]["event"] == bad
    received = ok(await audit(w, w.admin, action="report.received"))["entries"]
    assert any(e["detail"]["report"] == report and e["actor"] == w.student.user_id for e in received)

async def test_a_report_about_a_person_reaches_the_reporters_school(w, hs):
    ok(await w.student.attempt("POST", f"{V}/users/{q(w.classmate.user_id)}/report", {"reason": "дразнит"}))
    await sweep(hs)
    texts = [n["content"]["body"] for n in await notices(w.admin, w.rooms["moderation"])
             if n["content"]["org.parta.report"]["kind"] == "user"]
    assert any("дразнит" in t and w.classmate.user_id in t for t in texts), texts

async def test_a_report_about_a_room_reaches_the_school(w, hs):
    """MSC4151 room reports: Synapse has no Admin API for them; the module serves them to the bot."""
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/report", {"reason": "спам в чате"}))
    await sweep(hs)
    found = [n for n in await notices(w.admin, w.rooms["moderation"])
             if n["content"]["org.parta.report"]["kind"] == "room"]
    assert any("спам в чате" in n["content"]["body"] and w.rooms["class_chat"] in n["content"]["body"] for n in found)
    # the module's resource is the bot's alone
    code, body = await w.admin.attempt("GET", "/_synapse/client/parta/room_reports")
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body

# --- the audit log ------------------------------------------------------------------------------

async def test_the_audit_log_records_who_what_when_and_where_from(w, hs):
    entries = ok(await audit(w, hs.settings.operator_token, limit="500"))["entries"]
    actions = {e["action"] for e in entries}
    # the approval, the roster import, the accounts and the confirmation all name the organization
    assert {"organization.approve", "application.apply", "roster.import", "person.confirm",
            "account.create"} <= actions, actions
    approve = next(e for e in entries if e["action"] == "organization.approve")
    assert approve["actor"] == "operator" and approve["origin"] == "127.0.0.1" and approve["detail"]["id"] == w.org
    # a link issued and revoked, by the school's administrator
    link = ok(await api(w.admin, "POST", f"/organizations/{w.org}/links", {"role": "teacher"}, base=w.base))
    ok(await api(w.admin, "DELETE", f"/links/{link['code']}", base=w.base))
    revoked = ok(await audit(w, w.admin, action="link.revoke", actor=w.admin.user_id))["entries"]
    assert revoked[0]["detail"]["code"] == link["code"]
    # X-Forwarded-For is not trusted without a reverse proxy (parta init --behind-proxy)
    async with aiohttp.ClientSession() as s, s.post(
            f"{w.base}/api/v1/organizations/{w.org}/links", json={"role": "teacher"},
            headers={"Authorization": f"Bearer {w.admin.token}", "X-Forwarded-For": "203.0.113.77"}) as r:
        assert r.status == 201
    created = ok(await audit(w, w.admin, action="link.create"))["entries"][0]
    assert created["origin"] == "127.0.0.1", created

async def test_audit_filters_and_pages(w, hs):
    first = ok(await audit(w, w.admin, limit="2"))
    assert len(first["entries"]) == 2 and first["next"] == first["entries"][-1]["id"]
    second = ok(await audit(w, w.admin, limit="2", before=str(first["next"])))
    assert all(e["id"] < first["next"] for e in second["entries"])
    prefixed = ok(await audit(w, w.admin, action="link."))["entries"]
    assert prefixed and all(e["action"].startswith("link.") for e in prefixed)
    assert ok(await audit(w, w.admin, since="2999-01-01"))["entries"] == []
    code, body = await audit(w, w.admin, since="вчера")
    assert code == 400 and body["errcode"] == "M_INVALID_PARAM", body


def parta(hs, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PARTA_DIR": str(hs.settings.root), "PARTA_LANG": "ru"}
    if token:
        env["PARTA_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "spaces_provisioner.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)

async def test_parta_audit_reports_and_moderation(w, hs):
    r = parta(hs, "audit", "--org", w.org, "--action", "moderation.", "--json")
    assert r.returncode == 0, r.stderr
    assert {e["action"] for e in json.loads(r.stdout)["entries"]} <= {"moderation.redact", "moderation.kick"}
    r = parta(hs, "audit", "--org", w.org, "--limit", "3")
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) >= 3, r.stderr
    r = parta(hs, "reports", "--org", w.org)
    assert r.returncode == 0 and "event:" in r.stdout, r.stderr
    # with a teacher's own token: refused, in Russian
    r = parta(hs, "audit", "--org", w.org, token=w.teacher.token)
    assert r.returncode == 1 and "Журнал действий" in r.stderr, r.stderr
    bad = await say(w.classmate, w.rooms["class_chat"], "через командную строку")
    r = parta(hs, "moderation", "redact", "--org", w.org, "--room", w.rooms["class_chat"], "--event", bad,
              token=w.admin.token)
    assert r.returncode == 0, r.stderr
    assert (await w.teacher.get(f"{V}/rooms/{q(w.rooms['class_chat'])}/event/{q(bad)}"))["content"] == {}
