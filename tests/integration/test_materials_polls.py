"""Issue 11: learning materials and polls, with real clients against a real Synapse with Parta.

- Each class has a materials room («5А · материалы», kind ``class_materials``): its teachers post and
  pin, its pupils and their parents read; teachers and pupils find last week's files again the way
  Element's "Files" panel does (``/messages`` with ``contains_url``) and by server-side search.
- Polls in read-only rooms (the school's and the class's announcements, the materials room): pupils
  and parents answer, change their answer and take it back (redact it), with the unstable
  ``org.matrix.msc3381.poll.*`` types Element sends and the stable ``m.poll.*`` ones.
- The poll's author and the school's administration export the results (JSON, CSV, ``parta poll
  results``): each member's latest answer, and who has not answered.

The attacks (refusals next to the legitimate request) are in ``test_materials_polls_attacks.py``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys

import pytest

from ..helpers import REPO, ok, q
from .lessons_world import PDF, Lessons, build, poll_end, poll_response, poll_start, redact, results, send, upload

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Lessons:
    return await build(hs, tmp_path_factory)


def answers_of(body: dict) -> dict[str, list[str]]:
    return {p["user_id"]: p["answer"] for p in body["people"]}


# --- the materials room ----------------------------------------------------------------------

async def test_each_class_has_a_materials_room_for_its_pupils_parents_and_teachers(w):
    room = w.rooms["class_materials"]
    for u in (w.teacher, w.student, w.classmate, w.parent):
        assert room in await u.joined_rooms(), u.user_id
    for u in (w.other_class, w.other_teacher):
        assert room not in await u.joined_rooms(), u.user_id
    state = await w.teacher.state(room)
    assert state[("org.parta.room", "")]["kind"] == "class_materials"
    assert state[("m.room.name", "")]["name"] in ("5А · материалы", "5А · materials")
    assert state[("m.room.history_visibility", "")]["history_visibility"] == "shared"


async def test_teachers_and_pupils_find_last_weeks_materials_again(w):
    room = w.rooms["class_materials"]
    mxc = await upload(w.teacher, PDF, "drobi.pdf")
    file_id = ok(await send(w.teacher, room, content={"msgtype": "m.file", "body": "drobi.pdf", "url": mxc,
                                                      "info": {"mimetype": "application/pdf", "size": len(PDF)}}))
    text_id = ok(await send(w.teacher, room, content={"msgtype": "m.text",
                                                      "body": "Домашнее задание: дроби, задачи 12-15"}))["event_id"]
    for i in range(3):  # later posts push the file out of the newest page
        ok(await send(w.teacher, room, content={"msgtype": "m.text", "body": f"Объявление {i}"}))
    files_filter = json.dumps({"contains_url": True, "types": ["m.room.message"]})
    for u in (w.teacher, w.student, w.parent):
        # Element's Files panel: the room's timeline filtered to events with a URL
        page = await u.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "2", "filter": files_filter})
        assert [e["event_id"] for e in page["chunk"]] == [file_id["event_id"]], (u.user_id, page)
        assert page["chunk"][0]["content"]["url"] == mxc
        # the server-side search (Element's room search): words of a text, a file by its whole name
        # (PostgreSQL's parser reads "drobi.pdf" as one token, so "drobi" alone finds it only on SQLite)
        for term in ("дроби", "drobi.pdf"):
            found = await u.post(f"{V}/search", {"search_categories": {"room_events": {
                "search_term": term, "filter": {"rooms": [room]}}}})
            hits = [r["result"]["event_id"] for r in found["search_categories"]["room_events"]["results"]]
            assert (text_id if term == "дроби" else file_id["event_id"]) in hits, (u.user_id, term, found)
    # a classmate downloads the file
    async with w.classmate.api.session.get(
            f"{w.classmate.base_url}/_matrix/client/v1/media/download/{mxc[len('mxc://'):]}",
            headers={"Authorization": f"Bearer {w.classmate.token}"}) as r:
        assert r.status == 200 and await r.read() == PDF


async def test_teachers_pin_materials_and_pupils_see_the_pins(w):
    room = w.rooms["class_materials"]
    eid = ok(await send(w.teacher, room, content={"msgtype": "m.text", "body": "Программа на четверть"}))["event_id"]
    await w.teacher.send_state(room, "m.room.pinned_events", "", {"pinned": [eid]})
    pins = await w.student.get(f"{V}/rooms/{q(room)}/state/m.room.pinned_events/")
    assert pins["pinned"] == [eid]
    code, body = await w.student.attempt("PUT", f"{V}/rooms/{q(room)}/state/m.room.pinned_events/", {"pinned": []})
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body  # power level 50: the teachers'


# --- polls in read-only rooms ------------------------------------------------------------------

ROOMS = ["announcements", "class_announcements", "class_materials"]


@pytest.mark.parametrize("flavour", ["unstable", "stable"])
@pytest.mark.parametrize("room_name", ROOMS)
async def test_pupils_and_parents_answer_change_and_take_back_answers(w, hs, room_name, flavour):
    room = w.rooms[room_name]
    author = w.admin if room_name == "announcements" else w.teacher
    etype, content = poll_start(flavour, "Пойдёте на экскурсию?", {"y": "Да", "n": "Нет"})
    poll = ok(await send(author, room, etype, content))["event_id"]
    # answering
    for u, a in ((w.student, "y"), (w.parent, "y"), (w.classmate, "n")):
        ok(await send(u, room, *poll_response(flavour, poll, a)))
    # changing an answer: a new response, the latest counts
    ok(await send(w.student, room, *poll_response(flavour, poll, "n")))
    # taking an answer back: redacting one's own response
    mine = ok(await send(w.parent, room, *poll_response(flavour, poll, "n")))["event_id"]
    first = [e for e in (await hs.bot.relations(room, poll, "m.reference")) if e["sender"] == w.parent.user_id]
    for e in first:
        ok(await redact(w.parent, room, e["event_id"]))
    assert mine in {e["event_id"] for e in first}
    # nobody takes back someone else's answer
    theirs = next(e["event_id"] for e in await hs.bot.relations(room, poll, "m.reference")
                  if e["sender"] == w.classmate.user_id)
    code, body = await redact(w.student, room, theirs)
    assert code == 403 and body["errcode"] == "M_FORBIDDEN", body

    body = ok(await results(hs, author, room, poll))
    got = answers_of(body)
    assert got[w.student.user_id] == ["n"]
    assert got[w.classmate.user_id] == ["n"]
    assert got[w.parent.user_id] == []              # taken back
    assert author.user_id not in got                # the author does not answer their own poll
    assert body["poll"]["question"] == "Пойдёте на экскурсию?"
    assert {a["id"]: a["votes"] for a in body["poll"]["answers"]} == {"y": 0, "n": 2}
    assert body["answered"] == 2 and body["not_answered"] == len(body["people"]) - 2
    assert body["people"][0]["answered"] is False   # who has not answered comes first


async def test_answers_after_the_end_do_not_count_and_csv_lists_everyone(w, hs):
    room = w.rooms["class_materials"]
    poll = ok(await send(w.teacher, room, *poll_start("unstable", "Согласие на поездку", {
        "ok": "Согласен(на)", "no": "Не согласен(на)"})))["event_id"]
    ok(await send(w.parent, room, *poll_response("unstable", poll, "ok")))
    ok(await send(w.student, room, *poll_response("unstable", poll, "no", "ok")))  # max_selections 1: "no"
    ok(await send(w.teacher, room, *poll_end("unstable", poll)))
    await asyncio.sleep(0.01)
    ok(await send(w.classmate, room, *poll_response("unstable", poll, "ok")))  # too late
    body = ok(await results(hs, w.teacher, room, poll))
    assert body["poll"]["ended"] is True and body["poll"]["ended_at"]
    got = answers_of(body)
    assert got[w.parent.user_id] == ["ok"] and got[w.student.user_id] == ["no"]
    assert got[w.classmate.user_id] == []
    people = {p["user_id"]: p for p in body["people"]}
    assert people[w.parent.user_id]["role"] == "parent" and people[w.parent.user_id]["classes"] == ["5А"]
    assert people[w.student.user_id]["role"] == "student" and people[w.student.user_id]["classes"] == ["5А"]
    # a consent slip says whose: the parent's children in this class
    assert people[w.parent.user_id]["children"] == [people[w.student.user_id]["name"].split(" ✓")[0]] \
        or len(people[w.parent.user_id]["children"]) == 1

    code, text = await results(hs, w.admin, room, poll, "csv")   # the school's administration
    assert code == 200
    assert isinstance(text, str) and text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 1 + len(body["people"])
    by_account = {r[-1]: r for r in rows[1:]}
    assert by_account[w.parent.user_id][5] == "Согласен(на)"
    assert by_account[w.parent.user_id][3] == people[w.parent.user_id]["children"][0]
    assert by_account[w.classmate.user_id][5] == ""
    assert {by_account[w.student.user_id][2]} == {"5А"}


async def test_parta_poll_results_prints_and_writes_csv(w, hs, tmp_path):
    room = w.rooms["class_announcements"]
    poll = ok(await send(w.teacher, room, *poll_start("stable", "Родительское собрание в четверг?", {
        "y": "Приду", "n": "Не смогу"})))["event_id"]
    ok(await send(w.parent, room, *poll_response("stable", poll, "y")))
    env = {**os.environ, "PARTA_TOKEN": w.teacher.token}
    out = tmp_path / "results.csv"
    run = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "spaces_provisioner.cli", "--lang", "en", "poll", "results", room, poll,
        "-d", str(hs.settings.root), "--csv", str(out)], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Приду" in out.read_text(encoding="utf-8-sig")
    run = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "spaces_provisioner.cli", "--lang", "en", "poll", "results", room, poll,
        "-d", str(hs.settings.root)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Приду" in run.stdout and "Answered: 1;" in run.stdout, run.stdout


# --- secret ballots -------------------------------------------------------------------------

def _ids(events: list[dict]) -> set[str]:
    return {e["event_id"] for e in events}


def _filter(room: str, limit: int, tag: str) -> str:
    """A sync filter for one room; ``tag`` (a type nobody sends) makes each test's filter its own, since
    Synapse answers the same sync request (user, since, filter) from its response cache for two minutes."""
    return json.dumps({"room": {"rooms": [room], "timeline": {"limit": limit, "not_types": [f"x.test.{tag}"]}}})


async def _paths(u, room: str, poll: str, since: str, answers: set[str], marker: str) -> dict[str, set[str]]:
    """Which of ``answers`` reach ``u`` on each path a client reads events by."""
    room_filter = _filter(room, 50, marker)
    sync = await u.get(f"{V}/sync", {"since": since, "timeout": "0", "filter": room_filter})
    timeline = sync.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {}).get("events", [])
    messages = await u.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "50"})
    context = await u.get(f"{V}/rooms/{q(room)}/context/{q(poll)}", {"limit": "20"})
    relations = await u.get(f"/_matrix/client/v1/rooms/{q(room)}/relations/{q(poll)}")
    found = await u.post(f"{V}/search", {"search_categories": {"room_events": {
        "search_term": marker, "filter": {"rooms": [room]}, "event_context": {"before_limit": 10, "after_limit": 0}}}})
    around = [e for r in found["search_categories"]["room_events"]["results"]
              for e in r.get("context", {}).get("events_before", [])]
    fetched = set()
    for eid in answers:
        code, _body = await u.attempt("GET", f"{V}/rooms/{q(room)}/event/{q(eid)}")
        if code == 200:
            fetched.add(eid)
    initial = await u.get(f"{V}/rooms/{q(room)}/initialSync", {"limit": "50"})
    # sliding sync (MSC4186, what Element X uses)
    sliding = await u.post("/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", {
        "lists": {}, "room_subscriptions": {room: {"required_state": [], "timeline_limit": 50}}})
    return {"sync": _ids(timeline) & answers, "messages": _ids(messages["chunk"]) & answers,
            "context": _ids(context["events_before"] + context["events_after"]) & answers,
            "relations": _ids(relations["chunk"]) & answers, "search": _ids(around) & answers,
            "event": fetched, "initialSync": _ids(initial["messages"]["chunk"]) & answers,
            "sliding": _ids(sliding.get("rooms", {}).get(room, {}).get("timeline", [])) & answers}


async def _since(u, room: str, tag: str) -> str:
    room_filter = _filter(room, 1, tag)
    return (await u.get(f"{V}/sync", {"timeout": "0", "filter": room_filter}))["next_batch"]


@pytest.mark.parametrize("flavour", ["unstable", "stable"])
async def test_secret_ballot_answers_reach_no_pupil_or_parent(w, hs, flavour):
    room = w.rooms["class_announcements"]
    viewers = (w.student, w.parent, w.classmate, w.teacher)
    marker = f"итогиголосования{flavour}"
    since = {u.user_id: await _since(u, room, marker) for u in viewers}
    secret = ok(await send(w.teacher, room, *poll_start(flavour, "Тайное голосование: староста", {
        "a": "Аня", "b": "Боря"}, undisclosed=True)))["event_id"]
    open_poll = ok(await send(w.teacher, room, *poll_start(flavour, "Открытый опрос", {"y": "Да"})))["event_id"]
    answer = {u.user_id: ok(await send(u, room, *poll_response(flavour, secret, "a")))["event_id"]
              for u in (w.student, w.parent, w.classmate)}
    visible = ok(await send(w.classmate, room, *poll_response(flavour, open_poll, "y")))["event_id"]
    ok(await send(w.teacher, room, content={"msgtype": "m.text", "body": f"Спасибо! {marker}"}))
    every = set(answer.values())

    for u in (w.student, w.parent, w.classmate):
        seen = await _paths(u, room, secret, since[u.user_id], every, marker)
        own = {answer[u.user_id]}
        for path, ids in seen.items():
            assert ids <= own, (u.user_id, path, ids - own)
        assert seen["messages"] == own and seen["relations"] == own and seen["event"] == own, seen
        # a poll that is not secret stays open to all
        page = await u.get(f"{V}/rooms/{q(room)}/messages", {"dir": "b", "limit": "50"})
        assert visible in _ids(page["chunk"])
    # the author sees every answer on every path; the school's administration (not placed in class
    # rooms) through the export
    seen = await _paths(w.teacher, room, secret, since[w.teacher.user_id], every, marker)
    for path in ("sync", "messages", "relations", "event", "initialSync", "search", "sliding"):
        assert seen[path] == every, (path, seen[path])
    for u in (w.teacher, w.admin):
        body = ok(await results(hs, u, room, secret))
        assert body["poll"]["undisclosed"] is True and body["answered"] == 3
