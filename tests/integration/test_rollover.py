"""Issue 9: the new school year. Last year's class rooms are archived (kept, readable by their members,
written by nobody, their addresses free), the classes move up a grade with their pupils and parents,
the final grade graduates out, and a second run of the same year changes nothing."""

from __future__ import annotations

import pytest

from policies.templates import RoomRef, default_templates

from ..helpers import User, q
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"


async def joined(u: User) -> set[str]:
    return set((await u.get(f"{V}/joined_rooms"))["joined_rooms"])


async def room(hs, org: str, kind: str, class_id: str | None = None) -> str | None:
    return await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, kind, class_id))}:{hs.server_name}")


async def test_rollover_moves_classes_up_and_archives_their_rooms(hs, tmp_path):
    c = attack_cast()                                       # classes 1А and 5А
    school = await hs.new_school(roster=write_attack_roster(tmp_path / "roster"))
    org = school["org"]
    pupil = await hs.person(org, c.student)
    parent = await hs.person(org, c.parent)
    teacher = await hs.person(org, c.teacher, confirmed=True)
    old_chat = await room(hs, org, "class_chat", "class-05a")
    code, sent = await pupil.attempt("PUT", f"{V}/rooms/{q(old_chat)}/send/m.room.message/y1",
                                     {"msgtype": "m.text", "body": "Последний звонок!"})
    assert code == 200, sent

    dry = await hs.api.rollover(org, year="2025/26", dry_run=True)
    assert dry["dry_run"] and {p["new_id"] for p in dry["promoted"]} == {"class-02a", "class-06a"}, dry
    assert await room(hs, org, "class_chat", "class-06a") is None          # nothing written

    done = await hs.api.rollover(org, year="2025/26")
    assert done["graduated"] == [] and len(done["archived"]) >= 8, done
    new_chat = await room(hs, org, "class_chat", "class-06a")
    assert new_chat is not None and new_chat != old_chat
    assert await room(hs, org, "class_chat", "class-05a") is None          # the old address is free
    assert new_chat in await joined(pupil)
    assert await room(hs, org, "class_parents", "class-06a") in await joined(parent)
    assert new_chat in await joined(teacher)
    # the archive: still joined and readable, written by nobody, under the year's name
    assert old_chat in await joined(pupil)
    history = await pupil.get(f"{V}/rooms/{q(old_chat)}/messages", query={"dir": "b", "limit": "50"})
    assert any(e.get("content", {}).get("body") == "Последний звонок!" for e in history["chunk"])
    for who in (pupil, teacher):
        code, body = await who.attempt("PUT", f"{V}/rooms/{q(old_chat)}/send/m.room.message/y{who.user_id}",
                                       {"msgtype": "m.text", "body": "Ещё одно"})
        assert code == 403 and body["errcode"] == "M_FORBIDDEN", body
    name = await pupil.get(f"{V}/rooms/{q(old_chat)}/state/m.room.name")
    assert name["name"].endswith("(2025/26)"), name
    # the legitimate twin: the new class chat takes messages
    code, body = await pupil.attempt("PUT", f"{V}/rooms/{q(new_chat)}/send/m.room.message/y2",
                                     {"msgtype": "m.text", "body": "Привет, 6А"})
    assert code == 200, body
    people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    assert people[c.student]["classes"] == ["class-06a"]
    # the same year again: nothing is archived or promoted twice
    again = await hs.api.rollover(org, year="2025/26")
    assert again.get("already") and again["promoted"] == [] and again["archived"] == [], again
    people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    assert people[c.student]["classes"] == ["class-06a"]


async def test_the_final_grade_graduates(hs, tmp_path):
    c = attack_cast()
    school = await hs.new_school(roster=write_attack_roster(tmp_path / "roster"), settings={"final_grade": 5})
    org = school["org"]
    pupil = await hs.person(org, c.student)
    first_grader = await hs.person(org, c.other_class)
    old_chat = await room(hs, org, "class_chat", "class-05a")
    done = await hs.api.rollover(org, year="2025/26")
    assert c.student in done["graduated"] and c.other_class not in done["graduated"], done
    people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    assert people[c.student]["status"] == "removed"
    assert people[c.other_class]["status"] == "active" and people[c.other_class]["classes"] == ["class-02a"]
    assert await room(hs, org, "class_chat", "class-02a") in await joined(first_grader)
    # the graduate keeps reading the class's archive
    history = await pupil.attempt("GET", f"{V}/rooms/{q(old_chat)}/messages", query={"dir": "b", "limit": "5"})
    assert history[0] == 200, history
