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
