"""Issue 12's attacks on quiet hours: each is a real request refused with an errcode and Parta's
reason, next to the legitimate request that still succeeds (docs/security.md lists them; the world
is ``quiet_world``: school A's class 5А, its class teacher, a pupil, a parent, another teacher).
"""

from __future__ import annotations

import pytest

from ..helpers import refused
from .quiet_world import Quiet, build, hours_around, office_hours, send, sent

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Quiet:
    return await build(hs, tmp_path_factory)



async def test_parent_marks_a_message_urgent(w):
    """A parent cannot break into a teacher's quiet hours: ``org.parta.urgent`` is the administration's."""
    parents = w.rooms["class_parents"]
    refused(await send(w.parent, parents, "Срочно ответьте!", **{"org.parta.urgent": True}), "urgent_admin_only")
    refused(await send(w.parent, parents, "Срочно!", **{"org.parta.urgent": False}), "urgent_admin_only")
    # nor by editing a message of their own into an urgent one
    own = sent(await send(w.parent, parents, "Вопрос по домашнему заданию"))
    refused(await send(w.parent, parents, "* Вопрос", **{
        "m.new_content": {"msgtype": "m.text", "body": "Вопрос", "org.parta.urgent": True},
        "m.relates_to": {"rel_type": "m.replace", "event_id": own}}), "urgent_admin_only")
    # a pupil and a teacher neither
    refused(await send(w.student, w.rooms["class_chat"], "!!!", **{"org.parta.urgent": True}), "urgent_admin_only")
    refused(await send(w.teacher, parents, "Срочно", **{"org.parta.urgent": True}), "urgent_admin_only")
    # the administration's urgent announcement is sent
    sent(await send(w.admin, w.rooms["announcements"], "Срочно: школа закрыта", **{"org.parta.urgent": True}))


async def test_pupil_changes_a_teachers_office_hours(hs, w):
    """A pupil (or a parent) cannot change a teacher's office hours (to silence or wake them)."""
    night = {"days": [1, 2, 3, 4, 5, 6, 7], "from": "00:00", "to": "00:01"}
    refused(await office_hours(hs, w.student, w.teacher.user_id, night), "office_hours_not_yours")
    refused(await office_hours(hs, w.parent, w.teacher.user_id, night), "office_hours_not_yours")
    # nor give themselves office hours, which only teachers have
    refused(await office_hours(hs, w.student, w.student.user_id, night), "not_a_teacher")
    # the teacher sets their own
    day = hours_around(inside=True)
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id, day)
    assert code == 200 and body["own"] == day, body


async def test_teacher_changes_another_teachers_office_hours(hs, w):
    """A teacher cannot change a colleague's office hours; the school's administration can."""
    hours = {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "17:00"}
    refused(await office_hours(hs, w.other_teacher, w.teacher.user_id, hours), "office_hours_not_yours")
    code, body = await office_hours(hs, w.admin, w.teacher.user_id, hours)
    assert code == 200 and body["own"] == hours, body
    code, body = await office_hours(hs, w.teacher, w.teacher.user_id)
    assert code == 200 and body["own"] == hours and body["text"], body


async def test_unreadable_office_hours_are_refused(hs, w):
    """Hours that cannot be read are 400 M_INVALID_PARAM, never stored."""
    for bad in ({"days": [0], "from": "08:00", "to": "17:00"}, {"days": [1], "from": "25:00", "to": "17:00"},
                {"days": [1], "from": "08:00", "to": "08:00"}, {"days": "пн-пт", "from": "8", "to": "17:00"}):
        code, body = await office_hours(hs, w.teacher, w.teacher.user_id, bad)
        assert code == 400 and body["errcode"] == "M_INVALID_PARAM" and body["error"], (bad, body)


async def test_outsider_reads_a_teachers_office_hours(hs, w):
    """Someone of no organization of the teacher learns nothing of the teacher's hours."""
    stranger = await hs.outsider()
    refused(await office_hours(hs, stranger, w.teacher.user_id), "office_hours_not_yours")
    code, body = await office_hours(hs, w.parent, w.teacher.user_id)
    assert code == 200, body
