"""policies.people_chats: a people's chat belongs to the schools of the people in it, not to its creator's first
school (attacker20, holes 5 and 6: a parent of school A who teaches in school B)."""

from __future__ import annotations

from policies import moderation, people_chats
from policies.capabilities import Account, Membership, RoomInfo, default_capabilities
from policies.model import Role


def _acc(user_id: str, **roles: Role) -> Account:
    return Account(user_id, {o: Membership(org=o, role=r, confirmed=True) for o, r in roles.items()})


DUAL = _acc("@mum:s", A=Role.PARENT, B=Role.TEACHER)      # a parent in A who teaches in B
PUPIL = _acc("@kid:s", A=Role.STUDENT)
TEACHER_A = _acc("@t:s", A=Role.TEACHER)
COLLEAGUE_B = _acc("@c:s", B=Role.TEACHER)
ADMIN_B_PARENT_A = _acc("@boss:s", A=Role.PARENT, B=Role.ADMIN)
ADMIN_A = _acc("@adm:s", A=Role.ADMIN)
OUTSIDER = Account("@gone:s")
OLD_TAG = RoomInfo(kind="dm", org="B", creator="@mum:s")  # tagged the old way: the creator's first staff school


def test_a_new_chat_is_tagged_with_the_organizations_the_creator_shares_with_the_invitees():
    assert people_chats.tag_orgs(DUAL, [PUPIL]) == ("A", ("A",))
    assert people_chats.tag_orgs(DUAL, [COLLEAGUE_B]) == ("B", ("B",))
    # nobody invited yet (a chat filled by a link later): every organization of the creator, staff first
    assert people_chats.tag_orgs(DUAL, []) == ("B", ("A", "B"))
    # no organization shared by all: those shared with anyone
    assert people_chats.tag_orgs(DUAL, [PUPIL, COLLEAGUE_B]) == ("B", ("A", "B"))
    assert people_chats.tag_orgs(OUTSIDER, [PUPIL]) == (None, ())


def test_a_pupils_chat_with_her_parent_is_her_schools_record_not_the_parents_other_school():
    members = [DUAL, PUPIL]
    assert people_chats.chat_orgs(OLD_TAG, members) == {"A"}
    assert not people_chats.belongs_to(OLD_TAG, members, "B")
    assert people_chats.belongs_to(OLD_TAG, members, "A")  # the twin: the pupil's own school
    new_tag = RoomInfo(kind="dm", org="A", orgs=("A",))
    assert people_chats.chat_orgs(new_tag, members) == {"A"}
    # a tag only narrows: people of A and B both, in a chat made for A, are not B's record
    assert people_chats.chat_orgs(new_tag, [DUAL, ADMIN_B_PARENT_A]) == {"A"}
    assert people_chats.chat_orgs(OLD_TAG, [DUAL, ADMIN_B_PARENT_A]) == {"A", "B"}


def test_people_of_no_school_do_not_count_and_nobody_of_a_school_means_no_school():
    assert people_chats.chat_orgs(OLD_TAG, [DUAL, OUTSIDER]) == {"A", "B"}
    assert people_chats.chat_orgs(OLD_TAG, [OUTSIDER]) == frozenset()
    assert people_chats.chat_orgs(OLD_TAG, []) == frozenset()
    assert not people_chats.belongs_to(OLD_TAG, [TEACHER_A, COLLEAGUE_B], "A")  # nobody's alone


def test_school_rooms_keep_their_tag():
    assert people_chats.belongs_to(RoomInfo(kind="class_chat", org="A"), [], "A")
    assert not people_chats.belongs_to(RoomInfo(kind="class_chat", org="A"), [DUAL], "B")
    assert people_chats.belongs_to(RoomInfo(kind="network", orgs=("A", "B")), [], "B")


def test_quiet_hours_of_a_people_chat_ask_every_organization_of_the_sender():
    assert people_chats.rule_orgs(OLD_TAG, DUAL) == ["A", "B"]
    assert people_chats.rule_orgs(RoomInfo(kind="class_parents", org="A"), DUAL) == ["A"]
    assert people_chats.rule_orgs(RoomInfo(kind="network", orgs=("A", "B")), DUAL) == ["A", "B"]


def test_urgent_in_a_people_chat_only_from_each_recipients_own_administration():
    caps = default_capabilities()
    # B's administrator, a parent in A, to A's teacher: refused whatever the tag says
    d = people_chats.may_send_urgent(caps, ADMIN_B_PARENT_A, OLD_TAG, [TEACHER_A])
    assert not d and d.reason == "urgent_admin_only"
    # the twins: to B's own teacher, and A's administrator to A's teacher
    assert people_chats.may_send_urgent(caps, ADMIN_B_PARENT_A, OLD_TAG, [COLLEAGUE_B])
    assert people_chats.may_send_urgent(caps, ADMIN_A, OLD_TAG, [TEACHER_A])
    assert not people_chats.may_send_urgent(caps, ADMIN_B_PARENT_A, OLD_TAG, [COLLEAGUE_B, TEACHER_A])
    assert not people_chats.may_send_urgent(caps, TEACHER_A, RoomInfo(kind="dm"), [ADMIN_A])
    # school rooms: the room's organization
    assert people_chats.may_send_urgent(caps, ADMIN_B_PARENT_A, RoomInfo(kind="announcements", org="B"), [])
    assert not people_chats.may_send_urgent(caps, ADMIN_B_PARENT_A, RoomInfo(kind="announcements", org="A"), [])


def test_a_report_about_a_people_chat_follows_its_people_not_its_old_tag():
    # the pupil reports her chat tagged B: it reaches her school A (before: nobody, she is not of B)
    assert moderation.report_schools(PUPIL, OLD_TAG, DUAL.memberships) == {"A"}
    assert moderation.report_schools(DUAL, OLD_TAG, PUPIL.memberships) == {"A"}
    assert moderation.report_schools(DUAL, RoomInfo(kind="dm", org="A", orgs=("A",))) == {"A"}
    assert moderation.report_schools(DUAL, RoomInfo(kind="dm", org="B")) == {"A", "B"}
