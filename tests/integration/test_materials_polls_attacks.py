"""Issue 11's attacks on learning materials and poll results: each is a real request refused with an
errcode and Parta's reason, next to the legitimate request that still succeeds (docs/security.md
lists them; the world is ``lessons_world``: school A's class 5А, its materials room, school B).
"""

from __future__ import annotations

import pytest

from ..helpers import q
from .lessons_world import PDF, Lessons, build, ok, poll_response, poll_start, results, send, upload

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Lessons:
    return await build(hs, tmp_path_factory)


def refused(resp: tuple[int, object], reason: str, status: int = 403, errcode: str = "M_FORBIDDEN") -> dict:
    code, body = resp
    assert code == status and isinstance(body, dict), body
    assert body.get("errcode") == errcode and body.get("org.parta.reason") == reason, body
    assert body.get("error"), body
    return body


async def test_pupil_posts_in_class_materials(w):
    room = w.rooms["class_materials"]
    refused(await send(w.student, room), "announcements_read_only")
    mxc = await upload(w.parent, PDF, "answers.pdf")  # the parent's own file
    refused(await send(w.parent, room, content={"msgtype": "m.file", "body": "answers.pdf", "url": mxc}),
            "announcements_read_only")
    # a pupil's "reaction" carrying text is a post too
    teacher_post = ok(await send(w.teacher, room, content={"msgtype": "m.text", "body": "Конспект урока"}))
    refused(await send(w.student, room, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": teacher_post["event_id"], "key": "ответы в личке"}}),
        "reaction_not_emoji")
    ok(await send(w.student, room, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": teacher_post["event_id"], "key": "👍"}}))


async def test_pupil_of_another_class_joins_class_materials(w):
    room = w.rooms["class_materials"]
    refused(await w.other_class.attempt("POST", f"{V}/join/{q(room)}", {}), "not_for_class_materials")
    refused(await w.student_b.attempt("POST", f"{V}/join/{q(room)}", {}), "not_in_organization")
    ok(await w.classmate.attempt("POST", f"{V}/rooms/{q(room)}/leave", {}))
    ok(await w.classmate.attempt("POST", f"{V}/join/{q(room)}", {}))


async def test_pupil_asks_for_poll_results(w, hs):
    room = w.rooms["class_materials"]
    poll = ok(await send(w.teacher, room, *poll_start("unstable", "Кто пойдёт на олимпиаду?",
                                                      {"y": "Я", "n": "Не я"})))["event_id"]
    ok(await send(w.classmate, room, *poll_response("unstable", poll, "y")))
    for who in (w.student, w.parent, w.student_b):
        refused(await results(hs, who, room, poll), "poll_results_not_yours")
    refused(await results(hs, w.student, room, poll, "csv"), "poll_results_not_yours")
    assert ok(await results(hs, w.teacher, room, poll))["answered"] == 1


async def test_teacher_of_another_class_asks_for_poll_results(w, hs):
    room = w.rooms["class_announcements"]
    poll = ok(await send(w.teacher, room, *poll_start("stable", "Экскурсия в субботу?",
                                                      {"y": "Да", "n": "Нет"})))["event_id"]
    refused(await results(hs, w.other_teacher, room, poll), "poll_results_not_yours")
    # the school's administration may, and the operator
    body = ok(await results(hs, w.admin, room, poll))
    assert body["poll"]["author"] == w.teacher.user_id
    assert ok(await results(hs, hs.settings.operator_token, room, poll))["poll"]["event_id"] == poll
    # what is not a poll, or not a school room, is not found
    for r, e in ((room, "$notapoll"), ("!nosuchroom:school.test", poll)):
        code, body = await results(hs, w.teacher, r, e)
        assert code == 404 and isinstance(body, dict) and body["errcode"] == "M_NOT_FOUND", body


async def test_pupil_writes_a_redaction_reason_in_class_materials(w):
    room = w.rooms["class_materials"]
    poll = ok(await send(w.teacher, room, *poll_start("stable", "Контрольная в пятницу?", {"y": "Да"})))["event_id"]
    mine = ok(await send(w.student, room, *poll_response("stable", poll, "y")))["event_id"]
    refused(await w.student.attempt("PUT", f"{V}/rooms/{q(room)}/redact/{q(mine)}/x1",
                                    {"reason": "все в чат 5А-неофициальный"}), "announcements_read_only")
    ok(await w.student.attempt("PUT", f"{V}/rooms/{q(room)}/redact/{q(mine)}/x2", {}))
