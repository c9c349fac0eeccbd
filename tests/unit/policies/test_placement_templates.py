"""Who is placed in which room (policies.placement) and the rooms' desired state (policies.templates).

Pure: no Synapse, no network. One organization with two classes: 5a has a class teacher
(a primary teacher) and a second teacher; 6b has no primary teacher, so its class teacher
falls back to its (confirmed) teachers.
"""

from __future__ import annotations

import copy
import re

import pytest
from ruamel.yaml import YAML

from policies.model import Role
from policies.placement import OrgPeople
from policies.state_events import PartaEventTypes
from policies.templates import (
    DATA_DIR,
    RoomRef,
    Templates,
    default_templates,
    load_templates,
    slug,
)

ORG = "school-7"
ORG_NAME = "Школа №7"
SERVER = "school.test"
BOT_LEVEL = 150  # what only the bot (the rooms' creator, room version 12) can send


def uid(name: str) -> str:
    return f"@{name}:{SERVER}"


A, H = uid("adm"), uid("hd")
T1, T2, T6, U = uid("t1"), uid("t2"), uid("t6"), uid("unc")      # T1: class teacher of 5a; U: unconfirmed
S1, S2, S6 = uid("s1"), uid("s2"), uid("s6")
P1, P6, P16 = uid("p1"), uid("p6"), uid("p16")                    # P16: a child in each class



@pytest.fixture
def people() -> OrgPeople:
    return OrgPeople(
        roles={A: Role.ADMIN, H: Role.HEAD, T1: Role.TEACHER, T2: Role.TEACHER, T6: Role.TEACHER,
               U: Role.TEACHER, S1: Role.STUDENT, S2: Role.STUDENT, S6: Role.STUDENT,
               P1: Role.PARENT, P6: Role.PARENT, P16: Role.PARENT},
        confirmed={T1, T2, T6},
        class_students={"5a": {S1, S2}, "6b": {S6}},
        class_teachers={"5a": {T1, T2, U}, "6b": {T6, U}},
        homeroom={"5a": {T1}},
        children={P1: {S1}, P6: {S6}, P16: {S2, S6}},
    )


@pytest.fixture(scope="module")
def tpl() -> Templates:
    return default_templates()


def raw_rooms_yaml() -> dict:
    return YAML(typ="safe").load((DATA_DIR / "rooms.yaml").read_text(encoding="utf-8"))


def place(people: OrgPeople, tpl: Templates, kind: str, class_id: str | None = None, settings=None):
    ref = RoomRef(ORG, kind, class_id)
    t = tpl.kinds[kind]
    return people.placement(list(t.members), tpl.grants(ref, settings), class_id)


# ----------------------------------------------------------------------------- placement
EVERYONE = {A, H, T1, T2, T6, U, S1, S2, S6, P1, P6, P16}
ADMINS = {A: 100, H: 90}

# kind, class, members, power levels
PLACEMENTS = [
    ("school_space", None, EVERYONE, ADMINS),
    ("announcements", None, EVERYONE - {U}, ADMINS),
    ("staff_room", None, {A, H, T1, T2, T6}, {**ADMINS, T1: 50, T2: 50, T6: 50}),
    ("administration", None, {A, H}, ADMINS),
    ("moderation", None, {A, H}, ADMINS),
    ("class_space", "5a", {A, H, T1, T2, S1, S2, P1, P16}, {**ADMINS, T1: 50, T2: 50}),
    ("class_chat", "5a", {T1, T2, S1, S2}, {**ADMINS, T1: 50, T2: 50}),
    ("class_parents", "5a", {T1, P1, P16}, {**ADMINS, T1: 50}),
    ("class_announcements", "5a", {T1, T2, S1, S2, P1, P16}, {**ADMINS, T1: 50, T2: 50}),
    ("class_materials", "5a", {T1, T2, S1, S2, P1, P16}, {**ADMINS, T1: 50, T2: 50}),
    ("class_space", "6b", {A, H, T6, S6, P6, P16}, {**ADMINS, T6: 50}),
    ("class_chat", "6b", {T6, S6}, {**ADMINS, T6: 50}),
    ("class_parents", "6b", {T6, P6, P16}, {**ADMINS, T6: 50}),        # no primary teacher: all (confirmed)
    ("class_announcements", "6b", {T6, S6, P6, P16}, {**ADMINS, T6: 50}),
    ("class_materials", "6b", {T6, S6, P6, P16}, {**ADMINS, T6: 50}),
    ("journal_status", None, {A, H}, {}),                # read-only for people; the bridge: test_journal.py
    ("diary", None, set(), {}),                           # its members are the tag's: test_journal.py
    ("teacher_journal", None, set(), {}),                 # the same: the teacher alone
]


def test_placements_cover_every_kind(tpl):
    assert {k for k, *_ in PLACEMENTS} == set(tpl.kinds)


@pytest.mark.parametrize("kind,class_id,members,levels", PLACEMENTS,
                         ids=[f"{k}@{c}" if c else k for k, c, *_ in PLACEMENTS])
def test_placement_of_each_kind(people, tpl, kind, class_id, members, levels):
    got_members, got_levels = place(people, tpl, kind, class_id)
    assert got_members == members
    assert got_levels == levels


def test_unconfirmed_teachers_get_nothing_in_class_rooms(people, tpl):
    for kind in ("class_space", "class_chat", "class_parents", "class_announcements", "class_materials"):
        for cid in ("5a", "6b"):
            members, levels = place(people, tpl, kind, cid)
            assert U not in members and U not in levels, (kind, cid)
    # they are in the school space only, with no power
    members, levels = place(people, tpl, "school_space")
    assert U in members and U not in levels


def test_admins_get_power_in_class_rooms_without_being_placed(people, tpl):
    members, levels = place(people, tpl, "class_chat", "5a")
    assert A not in members and H not in members
    assert levels[A] == 100 and levels[H] == 90


def test_the_posting_setting_grants_teachers_the_announcement_level(people, tpl):
    members, levels = place(people, tpl, "announcements", settings={"teachers_may_post_announcements": True})
    assert levels == {**ADMINS, T1: 90, T2: 90, T6: 90}
    assert U not in levels and U not in members
    # the level is the kind's events_default: exactly what posting needs
    ref = RoomRef(ORG, "announcements")
    assert tpl.power_levels(ref, levels)["events_default"] == 90
    # false or absent: nothing more
    for settings in (None, {}, {"teachers_may_post_announcements": False}):
        assert place(people, tpl, "announcements", settings=settings)[1] == ADMINS
    # the setting belongs to the school announcements only
    assert place(people, tpl, "class_announcements", "6b", {"teachers_may_post_announcements": True})[1] \
        == {**ADMINS, T6: 50}


@pytest.mark.parametrize("grants", [
    {"class_teacher": 50, "homeroom_teacher": 70},
    {"homeroom_teacher": 70, "class_teacher": 50},
])
def test_the_highest_grant_wins_whatever_the_order(people, grants):
    _members, levels = people.placement(["class_teacher"], grants, "5a")
    assert levels == {T1: 70, T2: 50}


def test_a_lower_grant_does_not_lower_a_higher_one(people):
    _m, levels = people.placement([], {"teacher": 80, "class_teacher": 20, "homeroom_teacher": 10}, "5a")
    assert levels == {T1: 80, T2: 80, T6: 80}


def test_zero_grants_are_not_listed(people):
    members, levels = people.placement(["class_student"], {"class_student": 0, "admin": 100}, "5a")
    assert members == {S1, S2}
    assert levels == {A: 100}


def test_no_members_no_grants(people):
    assert people.placement([], {}, "5a") == (set(), {})


def test_named_class_teacher_without_an_account_is_not_replaced(people):
    # the roster names 6b's class teacher, who has no account yet: no subject teacher stands in
    people.named_homeroom.add("6b")
    assert people.homeroom_of("6b") == set()
    assert people.select("homeroom_teacher", "6b") == set()
    people.named_homeroom.add("5a")
    assert people.homeroom_of("5a") == {T1}


def test_homeroom_falls_back_to_all_class_teachers(people):
    assert people.homeroom_of("5a") == {T1}
    assert people.homeroom_of("6b") == {T6, U}          # fallback: every teacher of the class
    assert people.select("homeroom_teacher", "6b") == {T6}   # ...of whom the confirmed ones
    assert people.homeroom_of("9z") == set()
    # homeroom_of returns a copy: changing it does not change the people
    people.homeroom_of("6b").add("@x:s")
    assert people.class_teachers["6b"] == {T6, U}


def test_an_unconfirmed_class_teacher_leaves_the_parents_chat_without_teacher(people, tpl):
    """Surprising but current: the fallback applies only when there is no primary teacher at all;
    an unconfirmed primary teacher blocks it, so the confirmed teachers of the class are not placed."""
    people.class_teachers["7c"] = {U, T2}
    people.homeroom["7c"] = {U}
    members, levels = place(people, tpl, "class_parents", "7c")
    assert members == set() and levels == ADMINS


def test_class_without_teachers(people, tpl):
    people.class_students["8d"] = {S1}
    members, levels = place(people, tpl, "class_chat", "8d")
    assert members == {S1} and levels == ADMINS
    assert place(people, tpl, "class_parents", "8d")[0] == {P1}


def test_selectors(people):
    assert people.select("teacher") == {T1, T2, T6}
    assert people.select("teacher_unconfirmed") == {U}
    assert people.select("class_teacher", "5a") == {T1, T2}
    assert people.select("class_parent", "5a") == {P1, P16}
    assert people.select("class_parent", "6b") == {P6, P16}
    assert people.select("class_student") == set()          # no class: nobody
    assert people.class_parents("9z") == set()
    with pytest.raises(KeyError, match="lounge"):
        people.select("lounge")


# ----------------------------------------------------------------------------- templates
def ids_for(tpl: Templates, refs: list[RoomRef]) -> dict[str, str]:
    return {r.key: f"!{re.sub(r'[^a-z0-9]', '', r.key)}:{SERVER}" for r in refs}


def state_of(tpl: Templates, ref: RoomRef, *, language="ru", users=None, children=None, room_ids=None):
    refs = tpl.refs_for_org(ORG, ["5a", "6b"])
    room_ids = room_ids if room_ids is not None else ids_for(tpl, refs)
    return tpl.state(ref, room_ids=room_ids, server_name=SERVER, children=children or [], org_name=ORG_NAME,
                     class_title="5А" if ref.class_id else None, language=language, users=users or {})


def test_state_of_a_class_chat(tpl):
    refs = tpl.refs_for_org(ORG, ["5a", "6b"])
    room_ids = ids_for(tpl, refs)
    ref = RoomRef(ORG, "class_chat", "5a")
    parent = RoomRef(ORG, "class_space", "5a")
    assert tpl.parent_of(ref) == parent
    state = state_of(tpl, ref, users={T1: 50, A: 100}, room_ids=room_ids)
    assert state[("m.room.join_rules", "")] == {
        "join_rule": "restricted",
        "allow": [{"type": "m.room_membership", "room_id": room_ids[parent.key]}],
    }
    assert state[("m.space.parent", room_ids[parent.key])] == {"via": [SERVER], "canonical": True}
    assert [k for k in state if k[0] == "m.space.parent"] == [("m.space.parent", room_ids[parent.key])]
    assert not [k for k in state if k[0] == "m.space.child"]
    assert state[("m.room.guest_access", "")] == {"guest_access": "forbidden"}
    assert state[("m.room.history_visibility", "")] == {"history_visibility": "shared"}
    assert state[(PartaEventTypes.ROOM, "")] == {"kind": "class_chat", "org": ORG, "class": "5a",
                                            "class_title": "5А", "org_name": ORG_NAME}
    assert state[("m.room.name", "")] == {"name": "5А · класс"}
    assert state[("m.room.power_levels", "")]["users"] == {A: 100, T1: 50}
    assert ("m.room.create", "") not in state and not [k for k in state if k[0] == "m.room.member"]


def test_state_of_the_school_space_lists_its_children(tpl):
    refs = tpl.refs_for_org(ORG, ["5a", "6b"])
    room_ids = ids_for(tpl, refs)
    root = refs[0]
    assert root.kind == "school_space" and tpl.parent_of(root) is None
    children = [(r, room_ids[r.key]) for r in refs if tpl.parent_of(r) == root]
    assert {r.kind for r, _ in children} == {"announcements", "staff_room", "administration", "moderation",
                                             "class_space"}
    state = state_of(tpl, root, children=children, room_ids=room_ids)
    assert state[("m.room.join_rules", "")] == {"join_rule": "invite"}
    assert not [k for k in state if k[0] == "m.space.parent"]
    child_events = {k[1]: v for k, v in state.items() if k[0] == "m.space.child"}
    assert set(child_events) == {room_ids[r.key] for r, _ in children}
    for child, child_id in children:
        ev = child_events[child_id]
        assert ev["via"] == [SERVER] and ev["suggested"] is True
        assert ev["order"] == tpl.kinds[child.kind].order + (child.class_id or "")
    orders = [child_events[room_ids[r.key]]["order"] for r, _ in children]
    assert orders == sorted(orders)         # announcements, staff room, administration, then the classes
    assert state[("m.room.name", "")] == {"name": ORG_NAME}
    assert state[(PartaEventTypes.ROOM, "")]["class"] is None


def test_state_of_a_class_space_lists_its_rooms_and_points_at_the_school(tpl):
    refs = tpl.refs_for_org(ORG, ["5a"])
    room_ids = ids_for(tpl, refs)
    space = RoomRef(ORG, "class_space", "5a")
    children = [(r, room_ids[r.key]) for r in refs if tpl.parent_of(r) == space]
    assert [r.kind for r, _ in children] == ["class_chat", "class_parents", "class_announcements", "class_materials"]
    state = state_of(tpl, space, children=children, room_ids=room_ids)
    school_id = room_ids[RoomRef(ORG, "school_space").key]
    assert state[("m.room.join_rules", "")]["allow"] == [{"type": "m.room_membership", "room_id": school_id}]
    assert ("m.space.parent", school_id) in state
    assert len([k for k in state if k[0] == "m.space.child"]) == 4


@pytest.mark.parametrize("kind", ["school_space", "announcements", "staff_room", "administration", "moderation",
                                  "class_space", "class_chat", "class_parents", "class_announcements",
                                  "class_materials", "journal_status", "diary"])
def test_every_kind_is_closed(tpl, kind):
    ref = RoomRef(ORG, kind, "5a" if tpl.kinds[kind].scope == "class" else None,
                  person_id="p1" if tpl.kinds[kind].scope == "person" else None)
    state = state_of(tpl, ref)
    assert state[("m.room.guest_access", "")] == {"guest_access": "forbidden"}
    assert state[("m.room.join_rules", "")]["join_rule"] in ("invite", "restricted")
    assert state[("m.room.history_visibility", "")]["history_visibility"] != "world_readable"
    parent = tpl.parent_of(ref)
    if state[("m.room.join_rules", "")]["join_rule"] == "restricted":
        allow = state[("m.room.join_rules", "")]["allow"]
        assert len(allow) == 1 and allow[0]["room_id"] == ids_for(tpl, tpl.refs_for_org(ORG, ["5a"]))[parent.key]
    assert state[(PartaEventTypes.ROOM, "")]["kind"] == kind


def test_administration_is_invite_only_but_still_in_the_school_space(tpl):
    ref = RoomRef(ORG, "administration")
    state = state_of(tpl, ref)
    assert state[("m.room.join_rules", "")] == {"join_rule": "invite"}
    assert [k[0] for k in state if k[0] == "m.space.parent"] == ["m.space.parent"]


def test_history_visibility_comes_from_the_template():
    data = raw_rooms_yaml()
    data["kinds"]["class_chat"]["history_visibility"] = "joined"
    del data["kinds"]["staff_room"]["history_visibility"]          # default: shared
    tpl = Templates(data)
    assert state_of(tpl, RoomRef(ORG, "class_chat", "5a"))[("m.room.history_visibility", "")] == \
        {"history_visibility": "joined"}
    assert state_of(tpl, RoomRef(ORG, "staff_room"))[("m.room.history_visibility", "")] == \
        {"history_visibility": "shared"}


def test_broken_templates_are_refused(tmp_path):
    data = raw_rooms_yaml()
    data["kinds"]["class_chat"]["parent"] = "nowhere"
    with pytest.raises(ValueError, match="unknown parent"):
        Templates(data)
    data = raw_rooms_yaml()
    del data["kinds"]["announcements"]["parent"]
    with pytest.raises(ValueError, match="no parent space"):
        state_of(Templates(data), RoomRef(ORG, "announcements"))
    broken = tmp_path / "rooms.yaml"
    data = raw_rooms_yaml()
    del data["kinds"]["staff_room"]["alias"]
    YAML(typ="safe").dump(data, broken.open("w", encoding="utf-8"))
    with pytest.raises(ValueError, match=str(broken)):
        load_templates(broken)


# ----------------------------------------------------------------------------- power levels
def test_power_levels_merge_the_kind_over_the_base(tpl):
    base = tpl.base_power_levels
    ann = tpl.power_levels(RoomRef(ORG, "announcements"), {A: 100})
    assert ann["events_default"] == 90
    assert ann["events"]["m.poll.start"] == 90 and ann["events"]["org.matrix.msc3381.poll.start"] == 90
    # events merged key by key: the rest of the base events stay
    for event_type, level in base["events"].items():
        if event_type not in ("m.poll.start", "org.matrix.msc3381.poll.start"):
            assert ann["events"][event_type] == level, event_type
    assert ann["events"]["m.reaction"] == 0 and ann["events"]["m.poll.response"] == 0
    for key in ("users_default", "state_default", "invite", "kick", "ban", "redact", "notifications"):
        assert ann[key] == base[key], key
    # a kind without overrides is the base
    staff = tpl.power_levels(RoomRef(ORG, "staff_room"), {})
    assert staff == {**base, "users": {}}
    cls_ann = tpl.power_levels(RoomRef(ORG, "class_announcements", "5a"), {})
    assert cls_ann["events_default"] == 50 and cls_ann["events"]["m.poll.start"] == 50
    assert tpl.power_levels(RoomRef(ORG, "school_space"), {})["events_default"] == 100


def test_power_levels_do_not_leak_between_kinds(tpl):
    before = copy.deepcopy(tpl.base_power_levels)
    pl = tpl.power_levels(RoomRef(ORG, "announcements"), {A: 100})
    pl["events"]["m.room.name"] = 0
    pl["users"]["@x:s"] = 100
    assert tpl.base_power_levels == before
    assert tpl.power_levels(RoomRef(ORG, "staff_room"), {})["events"]["m.poll.start"] == 0
    assert tpl.power_levels(RoomRef(ORG, "staff_room"), {})["events_default"] == 0


def test_power_levels_never_list_the_creator(people, tpl):
    """Room version 12: the bot creates every room and is not in ``users``; nobody else reaches its level."""
    for kind, class_id, _members, _levels in PLACEMENTS:
        ref = RoomRef(ORG, kind, class_id)
        _m, levels = place(people, tpl, kind, class_id, {"teachers_may_post_announcements": True})
        pl = tpl.power_levels(ref, levels)
        assert pl["users"] == levels and list(pl["users"]) == sorted(levels)
        assert "creator" not in pl
        assert max(pl["users"].values(), default=0) <= 100
        for event_type in ("m.space.parent", "m.room.tombstone", "m.room.server_acl",
                           "org.parta.room", "org.parta.role", "org.parta.org"):
            assert pl["events"][event_type] >= BOT_LEVEL > max(pl["users"].values(), default=0), event_type
    assert "users" not in tpl.base_power_levels


def test_power_levels_of_rooms_yaml_levels(tpl):
    assert tpl.room_version == "12"
    assert tpl.levels == {"admin": 100, "head": 90, "teacher": 50, "member": 0}


# ----------------------------------------------------------------------------- refs and aliases
def test_refs_for_org_order_parents_before_children(tpl):
    refs = tpl.refs_for_org(ORG, ["5a", "6b", "7c"])
    keys = [r.key for r in refs]
    assert len(keys) == len(set(keys)) == 5 + 5 * 3
    assert refs[0] == RoomRef(ORG, "school_space")
    for i, ref in enumerate(refs):
        parent = tpl.parent_of(ref)
        if parent is not None:
            assert parent.key in keys[:i], (ref.key, parent.key)
    assert {r.class_id for r in refs if tpl.kinds[r.kind].scope == "class"} == {"5a", "6b", "7c"}
    assert tpl.refs_for_org(ORG, []) == [RoomRef(ORG, k) for k in
                                         ("school_space", "announcements", "staff_room", "administration",
                                                       "moderation")]


def test_room_ref_keys():
    assert RoomRef(ORG, "announcements").key == "school-7/announcements"
    assert RoomRef(ORG, "class_chat", "112002").key == "school-7/class_chat@112002"


ALIAS_SAFE = re.compile(r"^[a-z0-9._=-]+$")


def test_alias_localparts(tpl):
    assert tpl.alias_localpart(RoomRef(ORG, "school_space")) == "school-7"
    assert tpl.alias_localpart(RoomRef(ORG, "announcements")) == "school-7.announcements"
    assert tpl.alias_localpart(RoomRef(ORG, "staff_room")) == "school-7.staff"
    assert tpl.alias_localpart(RoomRef(ORG, "class_space", "112002")) == "school-7.112002"
    assert tpl.alias_localpart(RoomRef(ORG, "class_chat", "112002")) == "school-7.112002.chat"
    assert tpl.alias_localpart(RoomRef(ORG, "class_parents", "cls-1")) == "school-7.cls-1.parents"


@pytest.mark.parametrize("class_id", ["5А/2025", "5a", "CLS 222/123", "  ", "Б", "10-Б (профиль)", "x.y"])
def test_alias_localparts_of_any_class_id_are_safe_and_stable(tpl, class_id):
    refs = tpl.refs_for_org(ORG, [class_id])
    aliases = [tpl.alias_localpart(r) for r in refs]
    assert len(set(aliases)) == len(aliases)
    for alias in aliases:
        assert ALIAS_SAFE.match(alias), alias
        assert alias == ORG or alias.startswith(ORG + ".")
    again = load_templates(DATA_DIR / "rooms.yaml")
    assert [again.alias_localpart(r) for r in refs] == aliases
    chat = tpl.alias_localpart(RoomRef(ORG, "class_chat", class_id))
    assert chat.endswith(".chat") and chat.count(".") == 2


def test_slug():
    assert slug("5a") == "5a" and slug("a_b=c") == "a_b=c" and slug("112002") == "112002"
    assert slug("5А/2025").startswith("5a-2025-")          # transliterated, plus a hash of the original
    assert slug("CLS-1").startswith("cls-1-") and slug("CLS-1") != slug("cls-1")
    assert slug("Б").startswith("b-") and slug("") .startswith("x-") and slug("///").startswith("x-")
    assert len({slug(x) for x in ("5А", "5Б", "5A", "5a", "5а")}) == 5


@pytest.mark.parametrize("a,b", [("5А/2025", "5Б/2025"), ("5А", "5Б"), ("5A", "5a")])
def test_distinct_class_ids_get_distinct_aliases(tpl, a, b):
    assert tpl.alias_localpart(RoomRef(ORG, "class_chat", a)) != tpl.alias_localpart(RoomRef(ORG, "class_chat", b))


# ----------------------------------------------------------------------------- names
RUSSIAN_NAMES = {
    "school_space": ORG_NAME,
    "announcements": "Объявления",
    "staff_room": "Учительская",
    "administration": "Администрация",
    "class_space": "5А",
    "class_chat": "5А · класс",
    "class_parents": "5А · родители",
    "class_announcements": "5А · объявления",
    "class_materials": "5А · материалы",
}
ENGLISH_NAMES = {
    "school_space": ORG_NAME,
    "announcements": "Announcements",
    "staff_room": "Staff room",
    "administration": "Administration",
    "class_space": "5А",
    "class_chat": "5А · class",
    "class_parents": "5А · parents",
    "class_announcements": "5А · announcements",
    "class_materials": "5А · materials",
}


def ref_of(tpl: Templates, kind: str) -> RoomRef:
    return RoomRef(ORG, kind, "5a" if tpl.kinds[kind].scope == "class" else None)


@pytest.mark.parametrize("kind", list(RUSSIAN_NAMES))
def test_room_names_in_russian_by_default_and_english_on_request(tpl, kind):
    ref = ref_of(tpl, kind)
    title = "5А" if ref.class_id else None
    name_ru, topic_ru = tpl.texts(ref, org_name=ORG_NAME, class_title=title, language="ru")
    assert name_ru == RUSSIAN_NAMES[kind]
    assert tpl.texts(ref, org_name=ORG_NAME, class_title=title, language=None) == (name_ru, topic_ru)
    name_en, topic_en = tpl.texts(ref, org_name=ORG_NAME, class_title=title, language="en")
    assert name_en == ENGLISH_NAMES[kind]
    assert topic_ru != topic_en and topic_ru and topic_en
    assert "{" not in name_ru + topic_ru + name_en + topic_en
    if title:
        assert title in topic_ru and title in topic_en
    assert state_of(tpl, ref, language="en")[("m.room.name", "")] == {"name": name_en}
    assert state_of(tpl, ref, language="ru")[("m.room.topic", "")] == {"topic": topic_ru}
