"""Who gets a token for a room's group call (policies/calls.py), and when a call runs."""

from __future__ import annotations

import pytest

from policies.calls import call_running, may_get_call_token
from policies.capabilities import Account, Membership, RoomInfo, default_capabilities
from policies.model import Role

CAPS = default_capabilities()
CALL = "org.matrix.msc3401.call.member"
NOW = 1_800_000_000_000


def account(name: str, role: Role, org: str = "a", confirmed: bool = True, classes=("5a",)) -> Account:
    user_id = f"@{name}:school.test"
    return Account(user_id, {org: Membership(org=org, role=role, confirmed=confirmed, classes=frozenset(classes))})


TEACHER = account("teacher", Role.TEACHER)
UNCONFIRMED = account("unconfirmed", Role.TEACHER, confirmed=False)
STUDENT = account("student", Role.STUDENT)
ADMIN = account("admin", Role.ADMIN, classes=())
STUDENT_B = account("student_b", Role.STUDENT, org="b")
NOBODY = Account("@nobody:school.test")
CLASS_CHAT = RoomInfo(kind="class_chat", org="a", class_id="5a")


def member_event(sender: str, content: dict, ts: int = NOW - 1000) -> dict:
    return {"type": CALL, "state_key": f"_{sender}_DEV_m.call", "sender": sender, "content": content,
            "origin_server_ts": ts}


@pytest.mark.parametrize(("entries", "running"), [
    ([], False),
    ([member_event(TEACHER.user_id, {"application": "m.call", "expires": 4 * 3600 * 1000})], True),
    ([member_event(TEACHER.user_id, {})], False),                                           # left
    ([member_event(TEACHER.user_id, {"expires": 1000}, ts=NOW - 5000)], False),             # expired
    ([member_event(STUDENT.user_id, {"expires": 3_600_000})], False),                       # one's own entry
    ([{**member_event(TEACHER.user_id, {"expires": 3_600_000}), "type": "m.room.topic"}], False),
])
def test_a_call_runs_while_someone_elses_membership_lives(entries, running):
    assert call_running(entries, STUDENT.user_id, NOW, CAPS.call_member_state) is running


@pytest.mark.parametrize(("person", "room", "membership", "running", "reason"), [
    (TEACHER, CLASS_CHAT, "join", False, "ok"),                 # a teacher starts the lesson
    (ADMIN, CLASS_CHAT, "join", False, "ok"),
    (STUDENT, CLASS_CHAT, "join", False, "may_not_start_call"),
    (UNCONFIRMED, CLASS_CHAT, "join", False, "may_not_start_call"),
    (STUDENT, CLASS_CHAT, "join", True, "ok"),                  # a pupil joins the running lesson
    (STUDENT, CLASS_CHAT, "leave", True, "call_not_member"),
    (STUDENT, CLASS_CHAT, "invite", True, "call_not_member"),
    (STUDENT, CLASS_CHAT, None, True, "call_not_member"),
    (STUDENT_B, CLASS_CHAT, None, True, "call_not_member"),      # another school's pupil
    (STUDENT_B, CLASS_CHAT, "join", True, "call_other_org"),     # ...even if somehow joined
    (NOBODY, CLASS_CHAT, "join", True, "call_other_org"),
    (STUDENT, RoomInfo(kind="dm", org="a"), "join", False, "ok"),  # people's own chats: anyone starts
    (STUDENT, None, "join", False, "ok"),                        # not a Parta room: members only
    (NOBODY, None, None, False, "call_not_member"),
])
def test_who_gets_a_call_token(person, room, membership, running, reason):
    decision = may_get_call_token(CAPS, person, room, membership, running)
    assert decision.reason == reason, decision
    assert decision.allowed is (reason == "ok")
    if not decision.allowed:
        assert decision.message("en") and decision.message("ru") != decision.message("en")
