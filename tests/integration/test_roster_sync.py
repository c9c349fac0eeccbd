"""Issue 9: a later roster of the same school is the school's word: pupils move between classes
(their rooms follow, and their parents' chats), people no longer listed leave (rooms left,
account suspended when no school remains, nothing erased), a half-exported roster does not empty
a school, and a dry run shows the changes without making them.
"""

from __future__ import annotations

import shutil

import pytest
from mautrix.api import Method

from policies.templates import RoomRef, default_templates

from spaces_provisioner.api.client import ApiError
from spaces_provisioner.roster.source import zip_folder

from ..helpers import User, q, rooms_of
from ..schools import attack_cast, edit_roster, write_attack_roster

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"


async def joined(u: User) -> set[str]:
    return set((await u.get(f"{V}/joined_rooms"))["joined_rooms"])


async def test_moves_and_leavers_follow_a_later_roster(hs, tmp_path):
    c = attack_cast()
    first = write_attack_roster(tmp_path / "first")
    school = await hs.new_school(roster=first)
    org = school["org"]
    mover = await hs.person(org, c.student)           # 5А → 1А
    parent = await hs.person(org, c.parent)           # the mover's parent: 5А's and 1А's parents' chats
    leaver = await hs.person(org, c.student3)         # no longer in the roster
    rooms = await rooms_of(hs, org, {
        "5a_chat": RoomRef(org, "class_chat", "class-05a"), "1a_chat": RoomRef(org, "class_chat", "class-01a"),
        "5a_parents": RoomRef(org, "class_parents", "class-05a"), "space": RoomRef(org, "school_space")})
    assert rooms["5a_chat"] in await joined(mover)

    later = edit_roster(shutil.copytree(first, tmp_path / "later"), move={c.student: "class-01a"},
                        remove={c.student3})
    # the dry run says what would change and changes nothing
    dry = await hs.api.import_roster(org, zip_folder(later), dry_run=True)
    assert dry["dry_run"] is True and dry["moves"] == 1, dry
    assert dry["summary"]["people_removed"] == 1 and dry["summary"]["enrollments_removed"] >= 1, dry["summary"]
    assert rooms["5a_chat"] in await joined(mover)

    done = await hs.api.import_roster(org, zip_folder(later))
    assert done["dry_run"] is False and done["moves"] == 1 and done["changes"] > 0, done
    mine = await joined(mover)
    assert rooms["1a_chat"] in mine and rooms["5a_chat"] not in mine, mine
    # the parent's children are both in 1А now: the parent leaves 5А's parents' chat
    theirs = await joined(parent)
    assert rooms["space"] in theirs and rooms["5a_parents"] not in theirs, theirs
    # the leaver is out of the school's rooms and suspended (in no school any more); nothing erased
    assert not (await joined(leaver)) & set(rooms.values())
    info = await hs.bot.request(Method.GET, f"/_synapse/admin/v2/users/{q(leaver.user_id)}")
    assert info.get("suspended") is True, info
    people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    assert people[c.student3]["status"] == "removed"
    # the same roster again changes nothing
    assert (await hs.api.import_roster(org, zip_folder(later)))["changes"] == 0


async def test_a_half_exported_roster_does_not_empty_the_school(hs, tmp_path):
    first = write_attack_roster(tmp_path / "first")
    school = await hs.new_school(roster=first)
    org = school["org"]
    half = edit_roster(shutil.copytree(first, tmp_path / "half"), keep_only=15)
    with pytest.raises(ApiError) as e:
        await hs.api.import_roster(org, zip_folder(half))
    assert e.value.status == 409 and e.value.errcode == "PARTA_MASS_REMOVAL", e.value
    assert "--confirm-mass-removal" in e.value.error and e.value.details
    people = (await hs.api.people(org))["people"]
    assert all(p["status"] == "active" for p in people)   # nothing written
    done = await hs.api.import_roster(org, zip_folder(half), confirm_mass_removal=True)
    assert done["summary"]["people_removed"] > 0


def write_delta(first, folder, *, new_pupil: dict, leaver: str, move: tuple[str, str, str]):
    """A OneRoster 1.2 delta export of the school in ``first``: one newcomer, one leaver
    (``tobedeleted``), one pupil moved (``(person, old class, new class)``: the old enrollment
    ``tobedeleted``, a new one active). The manifest says ``delta``."""
    import csv

    folder.mkdir()

    def rows(name):
        with (first / name).open(encoding="utf-8", newline="") as f:
            r = csv.DictReader(f)
            return r.fieldnames, list(r)

    def write(name, fields, out):
        with (folder / name).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(out)

    fields, users = rows("users.csv")
    model = next(u for u in users if u["sourcedId"] == move[0])
    leaving = dict(next(u for u in users if u["sourcedId"] == leaver), status="tobedeleted")
    write("users.csv", fields, [dict(model, sourcedId=new_pupil["id"], givenName=new_pupil["given"],
                                     familyName=new_pupil["family"], agentSourcedIds="", status="active"), leaving])
    fields, roles = rows("roles.csv")
    role = dict(next(r for r in roles if r["userSourcedId"] == move[0]))
    write("roles.csv", fields, [dict(role, sourcedId=f"role-{new_pupil['id']}", userSourcedId=new_pupil["id"])])
    fields, _classes = rows("classes.csv")
    write("classes.csv", fields, [])
    fields, enrollments = rows("enrollments.csv")
    old = next(e for e in enrollments if e["userSourcedId"] == move[0] and e["classSourcedId"] == move[1])
    write("enrollments.csv", fields, [
        dict(old, status="tobedeleted"),
        dict(old, sourcedId=f"enr-moved-{move[0]}", classSourcedId=move[2], status="active"),
        dict(old, sourcedId=f"enr-{new_pupil['id']}", userSourcedId=new_pupil["id"], classSourcedId=move[1],
             status="active")])
    manifest = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.2", "file.users,delta",
                "file.roles,delta", "file.classes,delta", "file.enrollments,delta"]
    (folder / "manifest.csv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return folder


async def test_a_delta_export_changes_only_what_it_names(hs, tmp_path):
    c = attack_cast()
    first = write_attack_roster(tmp_path / "first")
    school = await hs.new_school(roster=first)
    org = school["org"]
    mover = await hs.person(org, c.student)
    before = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    delta = write_delta(first, tmp_path / "delta", new_pupil={"id": "pupil-new", "given": "Ева", "family": "Новикова"},
                        leaver=c.student3, move=(c.student, c.class_id, "class-01a"))
    done = await hs.api.import_roster(org, zip_folder(delta))
    assert done["summary"]["people_added"] == 1 and done["summary"]["people_removed"] == 1, done["summary"]
    assert done["moves"] == 1, done
    after = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    assert after["pupil-new"]["classes"] == [c.class_id]
    assert after[c.student3]["status"] == "removed"
    assert after[c.student]["classes"] == ["class-01a"]
    # everyone the delta does not name is as before
    for pid, p in before.items():
        if pid not in (c.student, c.student3):
            assert (after[pid]["status"], after[pid]["classes"]) == (p["status"], p["classes"]), pid
    chat_1a = await hs.bot.resolve_alias(
        f"#{T.alias_localpart(RoomRef(org, 'class_chat', 'class-01a'))}:{hs.server_name}")
    assert chat_1a in await joined(mover)
    # the same delta again changes nothing
    assert (await hs.api.import_roster(org, zip_folder(delta)))["changes"] == 0
