"""The capability matrix (policies.capabilities) against the role table of docs/ARCHITECTURE.md and issue 3.

Table-driven: one cast of people in one school (``school-7``) plus a person of another
organization and an outsider; the expected answers are written out as tables below, the
way docs/ARCHITECTURE.md's "Roles and default powers" and "Room kinds" state them. Pure: no Synapse,
no network.
"""

from __future__ import annotations

import itertools

import pytest

from policies import i18n
from policies.capabilities import ALLOW, Account, Decision, Membership, RoomInfo, default_capabilities
from policies.model import Role
from policies.templates import default_templates

ORG, OTHER = "school-7", "school-8"
ORG_NAME, OTHER_NAME = "Школа №7", "Лицей №8"
CLASS, CLASS6 = "5a", "6b"
CLASS_TITLE, CLASS6_TITLE = "5А", "6Б"
SERVER = "school.test"


def uid(name: str) -> str:
    return f"@{name}:{SERVER}"


def member(role: Role, org: str = ORG, *, confirmed: bool = False, classes=(), children=(), homeroom=()) -> Membership:
    return Membership(org=org, role=role, confirmed=confirmed, classes=frozenset(classes),
                      children=frozenset(uid(c) for c in children), homeroom=frozenset(homeroom))


def person(name: str, *memberships: Membership) -> Account:
    return Account(uid(name), {m.org: m for m in memberships})


# The cast. Short names are the rows and columns of the tables below.
PEOPLE: dict[str, Account] = {
    "adm": person("adm", member(Role.ADMIN)),
    "hd": person("hd", member(Role.HEAD)),
    "tch": person("tch", member(Role.TEACHER, confirmed=True, classes={CLASS})),          # teaches 5a
    "hr": person("hr", member(Role.TEACHER, confirmed=True, classes={CLASS}, homeroom={CLASS})),  # class teacher of 5a
    "unc": person("unc", member(Role.TEACHER, confirmed=False, classes={CLASS})),         # teaches 5a, not confirmed
    "st": person("st", member(Role.STUDENT, classes={CLASS})),
    "cm": person("cm", member(Role.STUDENT, classes={CLASS})),                            # classmate of st
    "st6": person("st6", member(Role.STUDENT, classes={CLASS6})),
    "pa": person("pa", member(Role.PARENT, classes={CLASS}, children={"st"})),
    "pa6": person("pa6", member(Role.PARENT, classes={CLASS6}, children={"st6"})),
    "oth": person("oth", member(Role.ADMIN, OTHER)),                                      # another organization
    "out": Account(uid("out")),                                                            # no organization
}
NAMES = list(PEOPLE)
STUDENTS = {"st", "cm", "st6"}
PARENTS = {"pa", "pa6"}


def parse_table(text: str) -> dict[tuple[str, str], str]:
    """A whitespace table with a header row: ``{(row, column): cell}``."""
    lines = [line.split() for line in text.strip().splitlines()]
    header = lines[0]
    table = {}
    for row in lines[1:]:
        assert len(row) == len(header) + 1, row
        for col, cell in zip(header, row[1:], strict=True):
            table[(row[0], col)] = cell
    return table



@pytest.fixture(scope="module")
def caps():
    return default_capabilities()


def has_cyrillic(text: str) -> bool:
    return any("а" <= ch.lower() <= "я" or ch.lower() == "ё" for ch in text)


# ----------------------------------------------------------------------------- may_contact
# Who may be together in a direct chat or a chat people create. Y: allowed; N: refused;
# C: allowed only while the school's setting students_may_message_classmates is true.
# the role table of docs/ARCHITECTURE.md ("message a teacher / a student 1:1") narrowed by issue 3: a student
# only with own teachers, own guardians, classmates (setting) and the school's admin/head;
# a parent with the teachers of own children; an unconfirmed teacher with no student or parent;
# nobody across organizations. The diagonal ("-") is oneself: always allowed.
CONTACT = parse_table("""
      adm hd tch hr unc st cm st6 pa pa6 oth out
adm    -  Y  Y   Y  Y   Y  Y  Y   Y  Y   N   N
hd     Y  -  Y   Y  Y   Y  Y  Y   Y  Y   N   N
tch    Y  Y  -   Y  Y   Y  Y  N   Y  N   N   N
hr     Y  Y  Y   -  Y   Y  Y  N   Y  N   N   N
unc    Y  Y  Y   Y  -   N  N  N   N  N   N   N
st     Y  Y  Y   Y  N   -  C  N   Y  N   N   N
cm     Y  Y  Y   Y  N   C  -  N   N  N   N   N
st6    Y  Y  N   N  N   N  N  -   N  Y   N   N
pa     Y  Y  Y   Y  N   Y  N  N   -  N   N   N
pa6    Y  Y  N   N  N   N  N  Y   N  -   N   N
oth    N  N  N   N  N   N  N  N   N  N   -   N
out    N  N  N   N  N   N  N  N   N  N   N   -
""")


def expected_contact(a: str, b: str, classmates: bool) -> bool:
    cell = CONTACT[(a, b)]
    return cell in ("Y", "-") or (cell == "C" and classmates)


def expected_refusal(a: str, b: str) -> str:
    """The reason code may_contact gives for a refused pair."""
    if not set(PEOPLE[a].memberships) & set(PEOPLE[b].memberships):
        return "no_shared_organization"
    if {a, b} & STUDENTS:
        return "child_safety"
    if {a, b} & PARENTS:
        return "parent_scope"
    return "not_allowed"


def test_contact_table_is_symmetric_and_complete():
    assert {r for r, _ in CONTACT} == set(NAMES) == {c for _, c in CONTACT}
    for a, b in itertools.product(NAMES, NAMES):
        assert CONTACT[(a, b)] == CONTACT[(b, a)], (a, b)


@pytest.mark.parametrize("classmates", [True, False], ids=["classmates_on", "classmates_off"])
@pytest.mark.parametrize("a,b", list(itertools.combinations_with_replacement(NAMES, 2)))
def test_may_contact_follows_the_table_both_ways(caps, a, b, classmates):
    settings = {ORG: {"students_may_message_classmates": classmates}}
    expected = expected_contact(a, b, classmates)
    for x, y in ((a, b), (b, a)):
        d = caps.may_contact(PEOPLE[x], PEOPLE[y], settings)
        assert bool(d) is expected, (x, y, d)
        if not expected:
            assert d.reason == expected_refusal(x, y), (x, y, d)
            assert PEOPLE[y].user_id in d.message("en")


def test_classmates_setting_default_is_on_and_belongs_to_the_students_school(caps):
    st, cm = PEOPLE["st"], PEOPLE["cm"]
    assert caps.may_contact(st, cm, {})
    # another organization's setting does not matter
    assert caps.may_contact(st, cm, {OTHER: {"students_may_message_classmates": False}})
    d = caps.may_contact(st, cm, {ORG: {"students_may_message_classmates": False}})
    assert not d and d.reason == "child_safety"


def test_the_same_class_id_in_another_organization_connects_nobody(caps):
    """Class ids are per organization: "5a" of school-8 is not "5a" of school-7."""
    others = {
        "teacher": person("t8", member(Role.TEACHER, OTHER, confirmed=True, classes={CLASS})),
        "student": person("s8", member(Role.STUDENT, OTHER, classes={CLASS})),
        "parent": person("p8", member(Role.PARENT, OTHER, classes={CLASS}, children={"s8"})),
        "head": person("h8", member(Role.HEAD, OTHER)),
    }
    for o in others.values():
        for name in NAMES[:-2]:
            for x, y in ((o, PEOPLE[name]), (PEOPLE[name], o)):
                d = caps.may_contact(x, y, {})
                assert not d and d.reason == "no_shared_organization", (x.user_id, y.user_id)


def test_a_person_in_two_organizations_is_judged_in_each(caps):
    """A teacher of school-7 who is also a parent in school-8 reaches school-7's students they teach."""
    both = person("both", member(Role.TEACHER, ORG, confirmed=True, classes={CLASS}),
                  member(Role.PARENT, OTHER, classes={"1a"}, children={"kid8"}))
    kid8 = person("kid8", member(Role.STUDENT, OTHER, classes={"1a"}))
    assert caps.may_contact(both, PEOPLE["st"], {})
    assert caps.may_contact(kid8, both, {})
    assert not caps.may_contact(both, PEOPLE["st6"], {})
    assert caps.may_contact(both, PEOPLE["oth"], {})          # the admin of school-8 reaches its parents
    other_kid = person("other8", member(Role.STUDENT, OTHER, classes={CLASS}))
    assert not caps.may_contact(both, other_kid, {})          # teaching "5a" of school-7, not of school-8


def test_two_parents_of_one_class_may_talk(caps):
    pa2 = person("pa2", member(Role.PARENT, classes={CLASS}, children={"cm"}))
    assert caps.may_contact(PEOPLE["pa"], pa2, {})
    assert caps.may_contact(pa2, PEOPLE["pa"], {})
    assert caps.may_contact(pa2, PEOPLE["cm"], {})
    assert not caps.may_contact(pa2, PEOPLE["st"], {})   # a classmate of the child is not the child
    d = caps.may_contact(pa2, PEOPLE["pa6"], {})
    assert not d and d.reason == "parent_scope"


def test_may_find_is_may_contact(caps):
    for a, b in itertools.product(NAMES, NAMES):
        assert caps.may_find(PEOPLE[a], PEOPLE[b], {}) is bool(caps.may_contact(PEOPLE[a], PEOPLE[b], {}))


# ----------------------------------------------------------------------------- may_join
# The school's own rooms of rooms.yaml for class 5a: who may join (docs/ARCHITECTURE.md "Room kinds").
# Admin and head get power in class rooms, so they may join them; the parents' chat holds
# the class teacher (homeroom) only; unconfirmed teachers see the school space and nothing else.
# journal_status: the journal bridge's reports, for the administration (the bridge itself: test_journal.py);
# the diaries (scope person) admit the accounts their tag lists, whatever the role: test_journal.py.
KINDS = ["school_space", "announcements", "staff_room", "administration",
         "class_space", "class_chat", "class_parents", "class_announcements", "class_materials", "moderation"]
JOIN_5A = parse_table("""
     school_space announcements staff_room administration class_space class_chat class_parents class_announcements
adm      Y            Y            Y           Y              Y           Y           Y              Y
hd       Y            Y            Y           Y              Y           Y           Y              Y
tch      Y            Y            Y           N              Y           Y           N              Y
hr       Y            Y            Y           N              Y           Y           Y              Y
unc      Y            N            N           N              N           N           N              N
st       Y            Y            N           N              Y           Y           N              Y
cm       Y            Y            N           N              Y           Y           N              Y
st6      Y            Y            N           N              N           N           N              N
pa       Y            Y            N           N              Y           N           Y              Y
pa6      Y            Y            N           N              N           N           N              N
oth      N            N            N           N              N           N           N              N
out      N            N            N           N              N           N           N              N
""") | parse_table("""
     class_materials
adm      Y
hd       Y
tch      Y
hr       Y
unc      N
st       Y
cm       Y
st6      N
pa       Y
pa6      N
oth      N
out      N
""") | parse_table("""
     moderation
adm      Y
hd       Y
tch      N
hr       N
unc      N
st       N
cm       N
st6      N
pa       N
pa6      N
oth      N
out      N
""")
# The journal status room (the journal bridge's reports, for the administration).
JOIN_STATUS = parse_table("""
     journal_status
adm      Y
hd       Y
tch      N
hr       N
unc      N
st       N
cm       N
st6      N
pa       N
pa6      N
oth      N
out      N
""")
# The class rooms of 6b, which none of the teachers above teaches (and which has no class teacher).
JOIN_6B = parse_table("""
     class_space class_chat class_parents class_announcements  class_materials
adm      Y           Y           Y              Y              Y
hd       Y           Y           Y              Y              Y
tch      N           N           N              N              N
hr       N           N           N              N              N
unc      N           N           N              N              N
st       N           N           N              N              N
cm       N           N           N              N              N
st6      Y           Y           N              Y              Y
pa       N           N           N              N              N
pa6      Y           N           Y              Y              Y
oth      N           N           N              N              N
out      N           N           N              N              N
""")


def room(kind: str, class_id: str | None = None, class_title: str | None = None) -> RoomInfo:
    scope = default_templates().kinds[kind].scope
    if scope == "class":
        class_id = class_id or CLASS
        class_title = class_title or {CLASS: CLASS_TITLE, CLASS6: CLASS6_TITLE}[class_id]
        return RoomInfo(kind=kind, org=ORG, org_name=ORG_NAME, class_id=class_id, class_title=class_title)
    return RoomInfo(kind=kind, org=ORG, org_name=ORG_NAME)


def test_the_join_table_covers_every_kind_of_rooms_yaml():
    assert set(KINDS) | {"journal_status", "diary", "teacher_journal"} == set(default_templates().kinds)
    assert {c for _, c in JOIN_5A} == set(KINDS) and {c for _, c in JOIN_STATUS} == {"journal_status"}
    assert {r for r, _ in JOIN_5A} == set(NAMES) == {r for r, _ in JOIN_6B}
    assert {c for _, c in JOIN_6B} == {k for k in KINDS if default_templates().kinds[k].scope == "class"}


JOIN_CASES = ([(name, kind, CLASS, JOIN_5A[(name, kind)]) for name in NAMES for kind in KINDS]
              + [(name, kind, CLASS, cell) for (name, kind), cell in JOIN_STATUS.items()]
              + [(name, kind, CLASS6, JOIN_6B[(name, kind)]) for (name, kind) in JOIN_6B])


@pytest.mark.parametrize("invited", [False, True], ids=["uninvited", "invited"])
@pytest.mark.parametrize("name,kind,class_id,cell", JOIN_CASES)
def test_may_join_school_rooms(caps, name, kind, class_id, cell, invited):
    """An invitation changes nothing in the school's rooms: whatever link or room id one holds."""
    r = room(kind, class_id)
    d = caps.may_join(PEOPLE[name], r, is_invited=invited)
    assert bool(d) is (cell == "Y"), d
    if cell == "Y":
        return
    messages = d.messages()
    assert messages["ru"] and messages["en"] and messages["ru"] != messages["en"]
    if ORG not in PEOPLE[name].memberships:
        assert d.reason == "not_in_organization"
        mention = ORG_NAME
    else:
        assert d.reason == f"not_for_{kind}"
        assert d.msgid == default_templates().kinds[kind].join_refusal
        mention = r.class_title if default_templates().kinds[kind].scope == "class" else ORG_NAME
    assert all(mention in text for text in messages.values()), messages


def test_join_refusal_falls_back_to_ids_without_titles(caps):
    d = caps.may_join(PEOPLE["st6"], RoomInfo(kind="class_chat", org=ORG, class_id=CLASS), False)
    assert not d and CLASS in d.message("en")
    d = caps.may_join(PEOPLE["st"], RoomInfo(kind="staff_room", org=ORG), False)
    assert not d and ORG in d.message("en")
    d = caps.may_join(PEOPLE["out"], RoomInfo(kind="announcements", org=ORG), False)
    assert not d and d.reason == "not_in_organization" and ORG in d.message("ru")


def test_class_parents_admit_the_homeroom_teacher_only():
    """The parents' chat: the class teacher of the class, not every teacher of it."""
    caps = default_capabilities()
    r = room("class_parents")
    assert caps.may_join(PEOPLE["hr"], r, False)
    assert not caps.may_join(PEOPLE["tch"], r, False)
    # a homeroom entry of an unconfirmed teacher grants nothing
    unc_hr = person("unchr", member(Role.TEACHER, classes={CLASS}, homeroom={CLASS}))
    assert not caps.may_join(unc_hr, r, False)
    # the class teacher of 5a is not the class teacher of 6b
    assert not caps.may_join(PEOPLE["hr"], room("class_parents", CLASS6), False)


def test_people_rooms_are_by_invitation_only(caps):
    for kind in ("dm", "chat"):
        r = RoomInfo(kind=kind, org=ORG)
        for name in NAMES:
            assert caps.may_join(PEOPLE[name], r, is_invited=True)
            d = caps.may_join(PEOPLE[name], r, is_invited=False)
            assert not d and d.reason == "invite_only"


def test_network_rooms_admit_confirmed_staff_of_their_organizations(caps):
    r = RoomInfo(kind="network", orgs=(ORG, OTHER))
    for name in NAMES:
        d = caps.may_join(PEOPLE[name], r, is_invited=True)
        assert bool(d) is (name in {"adm", "hd", "tch", "hr", "oth"}), name
        if not d:
            assert d.reason == "network_staff_only"
    only_other = RoomInfo(kind="network", orgs=(OTHER,))
    assert caps.may_join(PEOPLE["oth"], only_other, False)
    assert not caps.may_join(PEOPLE["adm"], only_other, False)


def test_unknown_room_kind_is_closed(caps):
    d = caps.may_join(PEOPLE["adm"], RoomInfo(kind="lounge", org=ORG), True)
    assert not d and d.reason == "unknown_room"


# ----------------------------------------------------------------------------- may_invite
INVITERS_OF_SCHOOL_ROOMS = {"adm", "hd", "tch", "hr"}   # invite_to_chat


@pytest.mark.parametrize("name", NAMES)
def test_only_invite_to_chat_roles_invite_into_school_rooms(caps, name):
    r = room("class_chat")
    d = caps.may_invite(PEOPLE[name], PEOPLE["cm"], r, [], {})
    assert bool(d) is (name in INVITERS_OF_SCHOOL_ROOMS), d
    if not d:
        assert d.reason == "may_not_invite"
        assert d.messages()["ru"] != d.messages()["en"]


@pytest.mark.parametrize("name,kind,class_id,cell", JOIN_CASES)
def test_the_invitee_of_a_school_room_must_be_one_who_may_join(caps, name, kind, class_id, cell):
    r = room(kind, class_id)
    d = caps.may_invite(PEOPLE["adm"], PEOPLE[name], r, [], {})
    join = caps.may_join(PEOPLE[name], r, is_invited=False)
    assert bool(d) is (cell == "Y") is bool(join)
    if not d:
        assert d.reason == join.reason
        assert PEOPLE[name].user_id in d.message("en")


def test_invite_into_a_group_chat_needs_invite_to_chat(caps):
    chat = RoomInfo(kind="chat", org=ORG)
    for name in ("unc", "st", "pa", "st6"):
        d = caps.may_invite(PEOPLE[name], PEOPLE["adm"], chat, [], {})
        assert not d and d.reason == "may_not_invite", name
    for name in INVITERS_OF_SCHOOL_ROOMS:
        assert caps.may_invite(PEOPLE[name], PEOPLE["st"], chat, [], {})
    # room None: a room being created is judged like a group chat
    assert not caps.may_invite(PEOPLE["st"], PEOPLE["cm"], None, [], {})
    assert caps.may_invite(PEOPLE["tch"], PEOPLE["st"], None, [], {})


def test_everyone_in_a_chat_must_be_allowed_with_the_invitee(caps):
    chat = RoomInfo(kind="chat", org=ORG)
    # the teacher's chat with a 5a student: the classmate fits, the parent of the student too
    assert caps.may_invite(PEOPLE["tch"], PEOPLE["cm"], chat, [PEOPLE["st"]], {})
    assert caps.may_invite(PEOPLE["tch"], PEOPLE["pa"], chat, [PEOPLE["st"]], {})
    # ...but not the parent of a 6b student, though the admin inviting may reach that parent
    d = caps.may_invite(PEOPLE["adm"], PEOPLE["pa6"], chat, [PEOPLE["st"]], {})
    assert not d and d.reason == "child_safety"
    assert PEOPLE["pa6"].user_id in d.message("en")
    # the inviter's own refusal comes as is
    d = caps.may_invite(PEOPLE["tch"], PEOPLE["st6"], chat, [PEOPLE["st"]], {})
    assert not d and d.reason == "child_safety"
    assert d.msgid == caps.may_contact(PEOPLE["tch"], PEOPLE["st6"], {}).msgid
    # classmates with the setting off
    off = {ORG: {"students_may_message_classmates": False}}
    assert not caps.may_invite(PEOPLE["tch"], PEOPLE["cm"], chat, [PEOPLE["st"]], off)
    # the invitee listed among the members (a re-invite) is not checked against themselves
    assert caps.may_invite(PEOPLE["tch"], PEOPLE["cm"], chat, [PEOPLE["st"], PEOPLE["cm"]], {})


def test_a_direct_chat_holds_two(caps):
    dm = RoomInfo(kind="dm", org=ORG)
    # anyone may invite the one other person they may reach
    assert caps.may_invite(PEOPLE["st"], PEOPLE["cm"], dm, [], {})
    assert caps.may_invite(PEOPLE["st"], PEOPLE["cm"], dm, [PEOPLE["st"]], {})   # the inviter as a member
    assert caps.may_invite(PEOPLE["pa"], PEOPLE["hr"], dm, [], {})
    assert caps.may_invite(PEOPLE["unc"], PEOPLE["tch"], dm, [], {})
    d = caps.may_invite(PEOPLE["st"], PEOPLE["st6"], dm, [], {})
    assert not d and d.reason == "child_safety"
    d = caps.may_invite(PEOPLE["unc"], PEOPLE["st"], dm, [], {})
    assert not d and d.reason == "child_safety"
    # a third person: refused even for the admin
    d = caps.may_invite(PEOPLE["adm"], PEOPLE["hd"], dm, [PEOPLE["tch"]], {})
    assert not d and d.reason == "direct_chat_full"
    d = caps.may_invite(PEOPLE["st"], PEOPLE["tch"], dm, [PEOPLE["st"], PEOPLE["cm"]], {})
    assert not d and d.reason == "direct_chat_full"


def test_nobody_invites_across_organizations(caps):
    for kind in ("dm", "chat"):
        r = RoomInfo(kind=kind, org=ORG)
        d = caps.may_invite(PEOPLE["adm"], PEOPLE["oth"], r, [], {})
        assert not d and d.reason == "no_shared_organization"
        d = caps.may_invite(PEOPLE["oth"], PEOPLE["adm"], r, [], {})
        assert not d and d.reason == "no_shared_organization"
        d = caps.may_invite(PEOPLE["out"], PEOPLE["st"], r, [], {})
        assert not d and d.reason == "no_shared_organization"


def test_network_room_invitations(caps):
    r = RoomInfo(kind="network", orgs=(ORG, OTHER))
    assert caps.may_invite(PEOPLE["adm"], PEOPLE["oth"], r, [], {})
    assert caps.may_invite(PEOPLE["tch"], PEOPLE["hd"], r, [], {})
    d = caps.may_invite(PEOPLE["adm"], PEOPLE["st"], r, [], {})
    assert not d and d.reason == "network_staff_only"
    d = caps.may_invite(PEOPLE["st"], PEOPLE["adm"], r, [], {})
    assert not d and d.reason == "may_not_invite"
    d = caps.may_invite(PEOPLE["out"], PEOPLE["adm"], r, [], {})
    assert not d and d.reason == "may_not_invite"


def test_invite_refusal_explains_itself_in_each_language(caps):
    r = room("staff_room")
    d = caps.may_invite(PEOPLE["adm"], PEOPLE["st"], r, [], {})
    join = caps.may_join(PEOPLE["st"], r, is_invited=False)
    assert not d
    messages = d.messages()
    assert join.message("en") in messages["en"]
    assert join.message("ru") in messages["ru"]


def test_people_in_no_organization_reach_nobody(caps):
    """Decided: people in no organization (e.g. suspended former members) may create a room
    but invite nobody, not even each other."""
    other_outsider = Account(uid("out2"))
    assert caps.may_create(PEOPLE["out"], False, [], {})
    assert caps.may_invite(PEOPLE["out"], other_outsider, RoomInfo(kind="dm"), [], {}).reason == \
        "no_shared_organization"


# ----------------------------------------------------------------------------- may_create
@pytest.mark.parametrize("name", ["adm", "hd", "tch", "hr"])
def test_staff_create_chats(caps, name):
    p = PEOPLE[name]
    assert caps.may_create(p, False, [], {})
    assert caps.may_create(p, False, [PEOPLE["st"], PEOPLE["pa"]], {})
    assert caps.may_create(p, True, [PEOPLE["st"]], {})


# (creator, is_direct, invitees, allowed, reason)
CREATE_CASES = [
    ("unc", False, [], False, "may_not_create_chat"),
    ("unc", False, ["tch"], False, "may_not_create_chat"),
    ("unc", True, ["tch"], True, "ok"),
    ("unc", True, ["st"], False, "child_safety"),
    ("st", True, ["cm"], True, "ok"),
    ("st", True, ["tch"], True, "ok"),
    ("st", True, ["pa"], True, "ok"),
    ("st", True, ["adm"], True, "ok"),
    ("st", True, ["st6"], False, "child_safety"),
    ("st", True, ["pa6"], False, "child_safety"),
    ("st", True, ["oth"], False, "no_shared_organization"),
    ("st", False, ["cm"], False, "may_not_create_chat"),
    ("st", True, ["cm", "tch"], False, "may_not_create_chat"),
    ("st", True, [], False, "may_not_create_chat"),
    ("pa", True, ["hr"], True, "ok"),
    ("pa", True, ["st"], True, "ok"),
    ("pa", True, ["cm"], False, "child_safety"),
    ("pa", True, ["pa6"], False, "parent_scope"),
    ("pa", False, ["hr"], False, "may_not_create_chat"),
    ("st6", True, ["tch"], False, "child_safety"),
    # people with no organization may create rooms (they cannot invite school members)
    ("out", False, [], True, "ok"),
    ("out", True, ["st"], True, "ok"),
    # the admin of another school creates chats in their own school
    ("oth", False, [], True, "ok"),
]


@pytest.mark.parametrize("name,is_direct,invitees,allowed,reason", CREATE_CASES)
def test_may_create(caps, name, is_direct, invitees, allowed, reason):
    d = caps.may_create(PEOPLE[name], is_direct, [PEOPLE[i] for i in invitees], {})
    assert bool(d) is allowed and d.reason == reason, d


def test_may_create_direct_chat_with_classmate_follows_the_setting(caps):
    off = {ORG: {"students_may_message_classmates": False}}
    d = caps.may_create(PEOPLE["st"], True, [PEOPLE["cm"]], off)
    assert not d and d.reason == "child_safety"


# ----------------------------------------------------------------------------- may_send_state
BOT_ONLY = ["m.space.parent", "m.space.child", "m.room.server_acl", "m.room.tombstone",
            "org.parta.room", "org.parta.role", "org.parta.org", "org.parta.person",
            "im.vector.modular.widgets", "m.widget", "io.element.widgets.layout"]
ROOMS_FOR_STATE = {
    "none": None,
    "dm": RoomInfo(kind="dm", org=ORG),
    "chat": RoomInfo(kind="chat", org=ORG),
    "announcements": room("announcements"),
    "class_chat": room("class_chat"),
    "network": RoomInfo(kind="network", orgs=(ORG, OTHER)),
}


@pytest.mark.parametrize("room_name", list(ROOMS_FOR_STATE))
@pytest.mark.parametrize("event_type", BOT_ONLY)
def test_bot_only_state_is_refused_to_everyone(caps, room_name, event_type):
    assert caps.bot_only_state == frozenset(BOT_ONLY)
    for name in NAMES:
        d = caps.may_send_state(PEOPLE[name], ROOMS_FOR_STATE[room_name], event_type, {}, {})
        assert not d and d.reason == "bot_only_state", (name, d)
        assert event_type in d.message("en")


OPENING_VALUES = [
    ("m.room.join_rules", {"join_rule": "public"}),
    ("m.room.join_rules", {"join_rule": "knock"}),
    ("m.room.join_rules", {"join_rule": "knock_restricted"}),
    ("m.room.join_rules", {}),
    ("m.room.history_visibility", {"history_visibility": "world_readable"}),
    ("m.room.guest_access", {"guest_access": "can_join"}),
]


@pytest.mark.parametrize("room_name", list(ROOMS_FOR_STATE))
@pytest.mark.parametrize("event_type,content", OPENING_VALUES)
def test_values_that_open_a_room_are_refused_to_everyone(caps, room_name, event_type, content):
    for name in NAMES:
        d = caps.may_send_state(PEOPLE[name], ROOMS_FOR_STATE[room_name], event_type, content, {})
        assert not d and d.reason == "closed_rooms", (name, d)


CLOSED_VALUES = [
    ("m.room.join_rules", {"join_rule": "invite"}),
    ("m.room.history_visibility", {"history_visibility": "joined"}),
    ("m.room.history_visibility", {"history_visibility": "invited"}),
    ("m.room.history_visibility", {"history_visibility": "shared"}),
    ("m.room.guest_access", {"guest_access": "forbidden"}),
    ("m.room.power_levels", {"users": {}}),
    ("m.room.canonical_alias", {}),
]


@pytest.mark.parametrize("event_type,content", CLOSED_VALUES)
def test_room_settings_of_school_rooms_are_for_admins_only(caps, event_type, content):
    for kind in KINDS:
        r = room(kind)
        for name in NAMES:
            d = caps.may_send_state(PEOPLE[name], r, event_type, content, {})
            assert bool(d) is (name == "adm"), (kind, name, d)
            if not d:
                assert d.reason == "room_settings_admin_only"
    # a cross-school room's settings: nobody (but the bot)
    d = caps.may_send_state(PEOPLE["adm"], ROOMS_FOR_STATE["network"], event_type, content, {})
    assert not d and d.reason == "room_settings_admin_only"


@pytest.mark.parametrize("event_type,content", CLOSED_VALUES)
def test_closed_settings_of_peoples_chats_are_free(caps, event_type, content):
    for room_name in ("none", "dm", "chat"):
        for name in NAMES:
            assert caps.may_send_state(PEOPLE[name], ROOMS_FOR_STATE[room_name], event_type, content, {}), \
                (room_name, name)


def test_other_state_of_school_rooms_is_left_to_power_levels(caps):
    for name in ("tch", "st"):
        assert caps.may_send_state(PEOPLE[name], room("class_chat"), "m.room.topic", {"topic": "x"}, {})
        assert caps.may_send_state(PEOPLE[name], room("class_chat"), "m.room.pinned_events", {"pinned": []}, {})


@pytest.mark.parametrize("room_name", ["none", "dm", "chat"])
def test_encryption_in_peoples_chats_follows_the_setting(caps, room_name):
    r = ROOMS_FOR_STATE[room_name]
    content = {"algorithm": "m.megolm.v1.aes-sha2"}
    for name in NAMES[:-2]:
        p = PEOPLE[name]
        d = caps.may_send_state(p, r, "m.room.encryption", content, {})
        assert not d and d.reason == "encryption_off", name
        d = caps.may_send_state(p, r, "m.room.encryption", content, {ORG: {"encryption_in_chats": False}})
        assert not d and d.reason == "encryption_off", name
        assert caps.may_send_state(p, r, "m.room.encryption", content, {ORG: {"encryption_in_chats": True}}), name
        assert caps.may_encrypt(p, {ORG: {"encryption_in_chats": True}})
        assert not caps.may_encrypt(p, {})
    # people with no organization keep encryption; the other school decides for its own people
    assert caps.may_send_state(PEOPLE["out"], r, "m.room.encryption", content, {})
    assert caps.may_send_state(PEOPLE["oth"], r, "m.room.encryption", content, {OTHER: {"encryption_in_chats": True}})
    assert not caps.may_send_state(PEOPLE["oth"], r, "m.room.encryption", content, {ORG: {"encryption_in_chats": True}})


def test_encryption_in_school_rooms_is_a_room_setting(caps):
    content = {"algorithm": "m.megolm.v1.aes-sha2"}
    assert caps.may_send_state(PEOPLE["adm"], room("class_chat"), "m.room.encryption", content, {})
    d = caps.may_send_state(PEOPLE["tch"], room("class_chat"), "m.room.encryption", content,
                            {ORG: {"encryption_in_chats": True}})
    assert not d and d.reason == "room_settings_admin_only"


# ----------------------------------------------------------------------------- may_post
MESSAGE = "m.room.message"
# open events, each with the content that makes it one (a reaction must relate to an event)
OPEN_EVENTS = {
    "m.reaction": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e", "key": "👍"}},
    "m.room.redaction": {},
    "m.poll.response": {"m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}},
    "org.matrix.msc3381.poll.response": {"m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}},
}
POSTING = parse_table("""
     announcements announcements_setting class_announcements class_announcements_6b  class_materials  class_materials_6b
adm       Y               Y                      Y                  Y                 Y                Y
hd        Y               Y                      Y                  Y                 Y                Y
tch       N               Y                      Y                  N                 Y                N
hr        N               Y                      Y                  N                 Y                N
unc       N               N                      N                  N                 N                N
st        N               N                      N                  N                 N                N
cm        N               N                      N                  N                 N                N
st6       N               N                      N                  N                 N                N
pa        N               N                      N                  N                 N                N
pa6       N               N                      N                  N                 N                N
oth       N               N                      N                  N                 N                N
out       N               N                      N                  N                 N                N
""")
POSTING_ROOMS = {
    "announcements": (room("announcements"), {}),
    "announcements_setting": (room("announcements"), {"teachers_may_post_announcements": True}),
    "class_announcements": (room("class_announcements"), {}),
    "class_announcements_6b": (room("class_announcements", CLASS6), {}),
    "class_materials": (room("class_materials"), {}),
    "class_materials_6b": (room("class_materials", CLASS6), {}),
}


@pytest.mark.parametrize("name,column", sorted(POSTING))
def test_may_post_in_announcement_rooms(caps, name, column):
    r, settings = POSTING_ROOMS[column]
    for event_type in (MESSAGE, "m.poll.start", "org.matrix.msc3381.poll.start", "m.sticker"):
        d = caps.may_post(PEOPLE[name], r, event_type, settings)
        assert bool(d) is (POSTING[(name, column)] == "Y"), (event_type, d)
        if not d:
            assert d.reason == "announcements_read_only"
    for event_type, content in OPEN_EVENTS.items():
        assert caps.may_post(PEOPLE[name], r, event_type, settings, content), event_type
    if POSTING[(name, column)] != "Y":
        # a "reaction" that reacts to nothing is a message in disguise; call membership is not open
        assert not caps.may_post(PEOPLE[name], r, "m.reaction", settings, {"body": "text", "msgtype": "m.text"})
        assert not caps.may_post(PEOPLE[name], r, "org.matrix.msc3401.call.member", settings, {"x": 1})


def test_class_announcements_ignore_the_school_posting_setting(caps):
    r = room("class_announcements", CLASS6)
    assert not caps.may_post(PEOPLE["tch"], r, MESSAGE, {"teachers_may_post_announcements": True})


def test_rooms_without_posting_rule_are_open(caps):
    for kind in ("school_space", "staff_room", "administration", "class_space", "class_chat", "class_parents"):
        assert caps.may_post(PEOPLE["st"], room(kind), MESSAGE, {}), kind
    for r in (RoomInfo(kind="dm", org=ORG), RoomInfo(kind="chat", org=ORG), RoomInfo(kind="network")):
        assert caps.may_post(PEOPLE["out"], r, MESSAGE, {})


# ----------------------------------------------------------------------------- aliases
@pytest.mark.parametrize("localpart", ["school-7", "school-7.staff", "School-7.staff", "schооl-7.staff",
                                       "school-8.anything", "parta", "my-room", "krujok"])
def test_nobody_but_the_bot_creates_an_alias(caps, localpart):
    for name in ("adm", "st", "out"):
        d = caps.may_create_alias(PEOPLE[name], localpart)
        assert not d and d.reason == "no_aliases", (name, d)
        assert localpart in d.message("en") and localpart in d.message("ru")


# ----------------------------------------------------------------------------- Decision
def test_decision_messages_in_both_languages(caps):
    d = caps.may_contact(PEOPLE["st"], PEOPLE["st6"], {})
    messages = d.messages()
    assert set(messages) == {"ru", "en"}
    assert messages["ru"] and messages["en"] and messages["ru"] != messages["en"]
    assert has_cyrillic(messages["ru"]) and not has_cyrillic(messages["en"])
    assert messages["en"] == d.msgid.format(**d.params)
    assert d.message() == messages["ru"]           # Russian by default
    i18n.set_language("en")
    assert d.message() == messages["en"]


def test_allow_has_no_message():
    assert ALLOW.allowed and ALLOW.reason == "ok" and bool(ALLOW)
    assert ALLOW.messages() == {"ru": "", "en": ""}
    assert not Decision(False, "x", "")


def test_every_refusal_of_the_tables_is_translated(caps):
    """Each refusal the matrix gives above reads differently in Russian and English."""
    seen = set()
    decisions = [caps.may_contact(PEOPLE[a], PEOPLE[b], {}) for a, b in itertools.product(NAMES, NAMES)]
    decisions += [caps.may_join(PEOPLE[n], room(k), False) for n in NAMES for k in KINDS]
    decisions += [caps.may_create(PEOPLE["st"], False, [], {}),
                  caps.may_post(PEOPLE["st"], room("announcements"), MESSAGE, {}),
                  caps.may_send_state(PEOPLE["st"], None, "m.room.encryption", {}, {}),
                  caps.may_send_state(PEOPLE["st"], None, "org.parta.room", {}, {}),
                  caps.may_send_state(PEOPLE["st"], None, "m.room.join_rules", {"join_rule": "public"}, {}),
                  caps.may_send_state(PEOPLE["tch"], room("class_chat"), "m.room.power_levels", {}, {}),
                  caps.may_invite(PEOPLE["st"], PEOPLE["cm"], RoomInfo(kind="chat", org=ORG), [], {}),
                  caps.may_invite(PEOPLE["st"], PEOPLE["tch"], RoomInfo(kind="dm", org=ORG), [PEOPLE["cm"]], {}),
                  caps.may_create_alias(PEOPLE["st"], "parta.x")]
    for d in decisions:
        if d or d.msgid in seen:
            continue
        seen.add(d.msgid)
        messages = d.messages()
        assert messages["ru"] != messages["en"], d.msgid
        assert has_cyrillic(messages["ru"]), d.msgid
    assert len(seen) >= 15


# ----------------------------------------------------------------------------- registry
def test_person_from_registry():
    content = {"orgs": {
        ORG: {"role": "teacher", "confirmed": True, "classes": [CLASS], "homeroom": [CLASS]},
        OTHER: {"role": "parent", "classes": ["1a"], "children": ["@kid:s"]},
        "school-9": {"role": "janitor"},      # unknown role: grants nothing
        "school-10": {"confirmed": True},     # no role: grants nothing
    }}
    p = Account.from_registry("@t:s", content)
    assert set(p.memberships) == {ORG, OTHER}
    assert p.memberships[ORG].cap_role == "teacher" and p.memberships[ORG].homeroom == {CLASS}
    assert p.memberships[OTHER].children == {"@kid:s"}
    assert p.roles() == {"teacher", "parent"}
    assert p.is_staff_in(ORG) and not p.is_staff_in(OTHER)
    assert Account.from_registry("@o:s", None).memberships == {}
    unconfirmed = Account.from_registry("@u:s", {"orgs": {ORG: {"role": "teacher"}}})
    assert unconfirmed.memberships[ORG].cap_role == "teacher_unconfirmed"


def test_room_info_round_trip():
    r = RoomInfo(kind="class_chat", org=ORG, class_id=CLASS, class_title=CLASS_TITLE, org_name=ORG_NAME)
    assert RoomInfo.from_state(r.to_state()) == r
    n = RoomInfo(kind="network", orgs=(ORG, OTHER), creator="@a:s")
    assert RoomInfo.from_state(n.to_state()) == n
    assert RoomInfo.from_state(None) is None
    # present but unreadable (e.g. redacted): a closed room, never an open one
    assert RoomInfo.from_state({"kind": 5}).kind == "unknown"
    assert RoomInfo.from_state({}).kind == "unknown"
