"""Issue 12's attacks on the school's records: each is a real request refused with an errcode and Parta's
reason, next to the legitimate request that still succeeds (docs/security.md lists them; the world is
``records_world``: school A's class 5А with its conversation, school B's administrator).
"""

from __future__ import annotations

import pytest

from ..helpers import User, refused
from .records_world import RUDE, Records, build, export, retention

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Records:
    return await build(hs, tmp_path_factory)



async def test_teacher_exports_a_class_chat(w, hs):
    # the class teacher of 5А, a member of the chat, still may not take its history away
    for fmt in ("json", "pdf", "html"):
        refused(await export(hs, w.teacher, w.org, w.chat, fmt), "export_administration_only")
    refused(await export(hs, w.teacher, w.org, w.parents), "export_administration_only")
    # the school's administration may
    code, t, _ = await export(hs, w.admin, w.org, w.chat)
    assert code == 200 and isinstance(t, dict) and t["counts"]["messages"] >= 3, t


async def test_pupil_and_parent_export_their_own_rooms(w, hs):
    for who, room in ((w.student, w.chat), (w.parent, w.parents)):
        refused(await export(hs, who, w.org, room), "export_administration_only")
    code, t, _ = await export(hs, w.admin, w.org, w.parents)
    assert code == 200, t


async def test_another_schools_admin_exports_this_schools_room(w, hs):
    # naming school A: not A's administration
    body = refused(await export(hs, w.admin_b, w.org, w.chat), "export_administration_only")
    assert RUDE not in str(body)
    # naming school B (whose administrator they are): the room is not B's
    refused(await export(hs, w.admin_b, w.org_b, w.chat, "pdf"), "room_not_in_organization", 404, "M_NOT_FOUND")
    # A's administrator, for A's room, and the operator
    assert (await export(hs, w.admin, w.org, w.chat, "pdf"))[0] == 200
    assert (await export(hs, hs.settings.operator_token, w.org, w.chat))[0] == 200


async def test_admin_exports_another_schools_room_through_their_own(w, hs):
    # A's administrator naming their own school with a room id of school B's
    room_b = (await hs.api.organizations())
    space_b = next(o for o in room_b["organizations"] if o["id"] == w.org_b)["space_id"]
    refused(await export(hs, w.admin, w.org, space_b), "room_not_in_organization", 404, "M_NOT_FOUND")
    refused(await export(hs, w.admin, w.org, "!nosuchroom:school.test"), "room_not_in_organization", 404,
            "M_NOT_FOUND")
    assert (await export(hs, w.admin_b, w.org_b, space_b))[0] == 200


async def test_teacher_or_another_school_runs_retention(w, hs):
    who: User
    for who in (w.teacher, w.student, w.admin_b):
        refused(await retention(hs, who, w.org, dry_run=False), "retention_administration_only")
    code, body = await retention(hs, w.admin, w.org, dry_run=True)
    assert code == 200 and body["dry_run"] and body["org"] == w.org, body
