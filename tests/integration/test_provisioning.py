"""Issue 2: an organization is built from an application and a roster, as its administrator sees it.

Real Synapse, real provisioning service, real clients signed in with passwords.
"""

from __future__ import annotations

import pytest
from mautrix.api import Method

from policies.templates import RoomRef, default_templates

from spaces_provisioner.api.client import ApiError
from spaces_provisioner.roster.source import zip_folder

from ..helpers import SCHOOL_B_ROSTER, q
from ..schools import attack_cast, attack_school

pytestmark = pytest.mark.synapse
T = default_templates()


async def admin_of(hs, school) -> User:  # noqa: F821
    account = next(a for a in school["approve"]["accounts"] if a["role"] == "admin")
    return await hs.login(account["user_id"], account["password"])


async def test_admin_sees_the_hierarchy_of_application_and_roster(hs, school_roster):
    school = await hs.new_school(roster=school_roster)
    org = school["org"]
    admin = await admin_of(hs, school)
    rooms = {r["room_id"]: r for r in await admin.hierarchy(school["space_id"])}

    # every room of the templates for the organization and its two classes, nothing else
    refs = T.refs_for_org(org, [c.source_id for c in attack_school().classes])
    ids = {ref.key: await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}") for ref in refs}
    assert set(rooms) == set(ids.values())
    root = rooms[school["space_id"]]
    assert root["name"] == school["application"]["short_name"]
    assert root["room_type"] == "m.space"

    names = {rooms[ids[ref.key]]["name"] for ref in refs}
    assert {"Объявления", "Учительская", "Администрация", "1А", "5А",
            "5А · класс", "5А · родители", "5А · объявления"} <= names

    for ref in refs:
        room_id = ids[ref.key]
        t = T.kinds[ref.kind]
        seen = rooms[room_id]
        assert seen["join_rule"] == t.join_rule, ref.key
        assert seen["guest_can_join"] is False and seen["world_readable"] is False, ref.key
        assert seen.get("room_type") == ("m.space" if t.space else None), ref.key
        parent = T.parent_of(ref)
        if t.join_rule == "restricted":
            assert seen["allowed_room_ids"] == [ids[parent.key]], ref.key
        # children of a space, as the hierarchy shows them
        children = {c["state_key"] for c in seen.get("children_state", [])}
        expected_children = {ids[r.key] for r in refs if T.parent_of(r) == ref}
        assert children == expected_children, ref.key

        # what the hierarchy does not show: creation content, power levels, links up
        state = await hs.bot.room_state(room_id)
        create = state[("m.room.create", "")]
        assert create["m.federate"] is False and create.get("type") == ("m.space" if t.space else None)
        assert create["room_version"] == "12"
        assert state[("m.room.guest_access", "")] == {"guest_access": "forbidden"}
        pl = state[("m.room.power_levels", "")]
        expected_pl = T.power_levels(ref, pl["users"])
        assert pl == expected_pl, ref.key
        assert hs.bot.user_id not in pl["users"]  # the bot is the creator (room version 12)
        if parent is not None:
            assert ("m.space.parent", ids[parent.key]) in state
        tag = state[("org.parta.room", "")]
        assert (tag["org"], tag["kind"], tag["class"]) == (org, ref.kind, ref.class_id)

    # the administrator holds power 100 in the school rooms, the head 90
    head = next(a for a in school["approve"]["accounts"] if a["role"] == "head")
    pl = (await hs.bot.room_state(school["space_id"]))[("m.room.power_levels", "")]
    assert pl["users"] == {admin.user_id: 100, head["user_id"]: 90}


async def test_same_application_and_roster_again_change_nothing(hs, school_roster):
    school = await hs.new_school(roster=school_roster)
    again = await hs.api.apply_application(school["application"])
    assert again["changes"] == 0 and again["status"] == "approved"
    assert (await hs.api.approve(school["org"]))["changes"] == 0
    assert (await hs.api.import_roster(school["org"], zip_folder(school_roster)))["changes"] == 0


async def test_sds_21_sample_imports(hs, sds_sample):
    school = await hs.new_school(roster=sds_sample)
    assert school["roster"]["format"] == "sds-2.1"
    assert school["roster"]["problems"] == []
    for class_id in ("112001", "112002"):
        ref = RoomRef(school["org"], "class_chat", class_id)
        assert await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}"), class_id
    assert (await hs.api.import_roster(school["org"], zip_folder(sds_sample)))["changes"] == 0


async def test_oneroster_12_sample_imports_with_its_bad_rows_reported(hs, oneroster_sample):
    school = await hs.new_school(roster=oneroster_sample)
    result = school["roster"]
    assert result["format"] == "oneroster-1.2"
    assert "classes.csv:3: " in "\n".join(result["problems"])
    ref = RoomRef(school["org"], "class_chat", "cls-222-123456")
    assert await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}")
    gone = RoomRef(school["org"], "class_chat", "cls-222-123478")  # marked tobedeleted
    assert await hs.bot.resolve_alias(f"#{T.alias_localpart(gone)}:{hs.server_name}") is None


async def test_oneroster_11_roster_imports(hs):
    school = await hs.new_school(roster=SCHOOL_B_ROSTER)
    assert school["roster"]["format"] == "oneroster-1.1"
    assert school["roster"]["problems"] == []


async def test_roster_person_lands_in_the_class_rooms(hs, school_roster):
    school = await hs.new_school(roster=school_roster)
    cast = attack_cast()
    student = await hs.person(school["org"], cast.student)        # of class 5А
    other_class = next(p.class_id for p in attack_school().pupils if p.source_id == cast.other_class)
    joined = await student.joined_rooms()
    org, mine = school["org"], cast.class_id
    expect = {RoomRef(org, "school_space"), RoomRef(org, "announcements"), RoomRef(org, "class_space", mine),
              RoomRef(org, "class_chat", mine), RoomRef(org, "class_announcements", mine)}
    not_expect = {RoomRef(org, "staff_room"), RoomRef(org, "class_parents", mine),
                  RoomRef(org, "class_chat", other_class)}
    for ref in expect:
        assert await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}") in joined, ref.key
    for ref in not_expect:
        assert await hs.bot.resolve_alias(f"#{T.alias_localpart(ref)}:{hs.server_name}") not in joined, ref.key
    profile = await student.get(f"/_matrix/client/v3/profile/{q(student.user_id)}")
    name = cast.name(cast.student)
    assert profile["displayname"] == name.display  # "Зайцев Роман Вячеславович"
    assert student.user_id.startswith("@roman.zaytsev")  # the login name carries the name only


async def test_unknown_application_or_organization_is_refused_clearly(hs, school_roster):
    with pytest.raises(ApiError) as e:
        await hs.api.approve("no-such-school")
    assert e.value.status == 404 and "no-such-school" in e.value.error
    with pytest.raises(ApiError) as e:
        await hs.api.import_roster("no-such-school", zip_folder(school_roster))
    assert e.value.status == 404 and e.value.errcode == "M_NOT_FOUND"


async def test_operator_token_is_required(hs):
    from spaces_provisioner.api.client import ApiClient

    async with ApiClient(hs.settings.provisioning_url, "wrong-token") as api:
        with pytest.raises(ApiError) as e:
            await api.list_applications()
    assert e.value.status == 401 and e.value.errcode == "M_UNKNOWN_TOKEN"


async def test_parta_bot_is_the_only_server_admin(hs, school_roster):
    school = await hs.new_school(roster=school_roster)
    admin = await admin_of(hs, school)
    info = await hs.bot.request(Method.GET, f"/_synapse/admin/v2/users/{q(admin.user_id)}")
    assert info["admin"] is False
    with pytest.raises(Exception) as e:
        await admin.get("/_synapse/admin/v2/users")
    # the Admin API is not even served on the listener people use (only on the bot's socket)
    assert getattr(e.value, "errcode", "") == "M_UNRECOGNIZED"
