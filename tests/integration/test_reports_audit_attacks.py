"""Issue 12's attacks on reports, moderation and the audit log: each is a real request refused with an
errcode and Parta's reason, next to the legitimate request that still succeeds (docs/security.md lists
them; the world is ``reports_world``: school A's class 5А and school B, each with its moderation room).
"""

from __future__ import annotations

import json

import pytest

from ..helpers import api, q
from .reports_world import V, World, all_notices, audit, build, moderate, ok, refused, say, sweep

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    return await build(hs, tmp_path_factory)


async def test_a_pupils_report_goes_to_their_own_school_only(w, hs):
    """School B's pupil reports a person of school A: school B's moderation room gets it, school A's
    never does; school A's pupil's report never reaches school B."""
    ok(await w.student_b.attempt("POST", f"{V}/users/{q(w.student.user_id)}/report", {"reason": "из школы Б"}))
    # a room of school A reported by school B's pupil (Synapse takes room reports from anyone): no school gets it
    ok(await w.student_b.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/report", {"reason": "чужая комната"}))
    bad = await say(w.classmate, w.rooms["class_chat"], "только для школы А")
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(w.rooms['class_chat'])}/report/{q(bad)}",
                               {"reason": "только школа А"}))
    await sweep(hs)
    a_texts = [n["content"]["body"] for n in await all_notices(hs, w.rooms["moderation"])]
    b_texts = [n["content"]["body"] for n in await all_notices(hs, w.rooms["moderation_b"])]
    assert any("из школы Б" in t for t in b_texts) and not any("из школы Б" in t for t in a_texts)
    assert any("только школа А" in t for t in a_texts) and not any("только школа А" in t for t in b_texts)
    assert not any(w.org in t for t in b_texts)
    assert not any("чужая комната" in t for t in a_texts + b_texts)
    # school B's administrator is not in school A's moderation room and cannot join it
    refused(await w.admin_b.attempt("POST", f"{V}/join/{q(w.rooms['moderation'])}", {}), "not_in_organization")
    # nor list school A's reports
    refused(await api(w.admin_b, "GET", f"/organizations/{w.org}/reports", base=w.base), "may_not_moderate")
    ok(await api(w.admin_b, "GET", f"/organizations/{w.org_b}/reports", base=w.base))

async def test_a_teacher_acts_as_a_moderator(w, hs):
    room = w.rooms["class_chat"]
    refused(await moderate(w, w.teacher, {"action": "kick", "room_id": room, "user_id": w.classmate.user_id}),
            "may_not_moderate")
    refused(await moderate(w, w.student, {"action": "redact", "room_id": room, "event_id": "$x"}), "may_not_moderate")
    assert room in await w.classmate.joined_rooms()
    ok(await moderate(w, w.admin, {"action": "kick", "room_id": room, "user_id": w.classmate.user_id,
                                   "reason": "тест"}))
    assert room not in await w.classmate.joined_rooms()
    await hs.api.call("POST", f"/organizations/{w.org}/reconcile")  # the classmate is placed back
    assert room in await w.classmate.joined_rooms()

async def test_another_schools_administrator_acts_on_this_schools_report(w, hs):
    room = w.rooms["class_chat"]
    bad = await say(w.classmate, room, "ещё одно")
    ok(await w.student.attempt("POST", f"{V}/rooms/{q(room)}/report/{q(bad)}", {"reason": "снова"}))
    await sweep(hs)
    report = next(r["id"] for r in ok(await api(w.admin, "GET", f"/organizations/{w.org}/reports", base=w.base))
                  ["reports"] if r["event_id"] == bad)
    refused(await moderate(w, w.admin_b, {"action": "redact", "report": report}), "may_not_moderate")
    # in the name of their own school: A's report is not theirs, and A's room is not theirs
    code, body = await moderate(w, w.admin_b, {"action": "redact", "report": report}, org=w.org_b)
    assert code == 404 and body["errcode"] == "M_NOT_FOUND", body
    refused(await moderate(w, w.admin_b, {"action": "redact", "room_id": room, "event_id": bad}, org=w.org_b),
            "room_not_of_organization")
    assert (await w.teacher.get(f"{V}/rooms/{q(room)}/event/{q(bad)}"))["content"]["body"] == "ещё одно"
    ok(await moderate(w, w.admin, {"action": "redact", "report": report}))

async def test_a_teacher_reads_the_audit_log(w):
    refused(await audit(w, w.teacher), "may_not_read_audit")
    refused(await audit(w, w.student), "may_not_read_audit")
    assert ok(await audit(w, w.admin))["entries"]

async def test_another_schools_administrator_reads_this_schools_audit_log(w, hs):
    refused(await audit(w, w.admin_b), "may_not_read_audit")
    mine = ok(await audit(w, w.admin_b, org=w.org_b))["entries"]
    assert mine and all(w.org not in json.dumps(e) for e in mine)
    assert ok(await audit(w, hs.settings.operator_token))["entries"]   # the operator reads every school's
