"""Who gets a token for a room's group call (policies/calls.py), and when a call runs."""

from __future__ import annotations

import pytest

from policies.calls import call_running, may_get_call_token, power_allows_state
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
CLASSMATE = account("classmate", Role.STUDENT)
PARENT = account("parent", Role.PARENT)
ADMIN = account("admin", Role.ADMIN, classes=())
STUDENT_B = account("student_b", Role.STUDENT, org="b")
NOBODY = Account("@nobody:school.test")
CLASS_CHAT = RoomInfo(kind="class_chat", org="a", class_id="5a")
MATERIALS = RoomInfo(kind="class_materials", org="a", class_id="5a")


def member_event(sender: str, content: dict, ts: int = NOW - 1000) -> dict:
    return {"type": CALL, "state_key": f"_{sender}_DEV_m.call", "sender": sender, "content": content,
            "origin_server_ts": ts}


def joined(*people: Account) -> list[dict]:
    return [{"type": "m.room.member", "state_key": p.user_id, "sender": p.user_id,
             "content": {"membership": "join"}} for p in people]


LIVE = {"application": "m.call", "expires": 4 * 3600 * 1000}


@pytest.mark.parametrize(("entries", "running"), [
    ([], False),
    ([member_event(TEACHER.user_id, LIVE)], True),
    ([member_event(TEACHER.user_id, {})], False),                                           # left
    ([member_event(TEACHER.user_id, {"leave_reason": "m.delayed"})], False),                # delayed leave
    ([member_event(TEACHER.user_id, {"expires": 1000}, ts=NOW - 5000)], False),             # expired
    ([member_event(TEACHER.user_id, {"application": "m.call"})], False),                    # no expiry: never live
    ([member_event(TEACHER.user_id, {"expires": 10 ** 12, "created_ts": NOW})], True),
    ([member_event(TEACHER.user_id, {"expires": 10 ** 12}, ts=NOW - 6 * 3600 * 1000)], False),  # over the cap
    ([member_event(STUDENT.user_id, {"expires": 3_600_000})], False),                       # one's own entry
    ([member_event(CLASSMATE.user_id, LIVE)], False),               # a pupil keeps no lesson going
    ([{**member_event(TEACHER.user_id, {"expires": 3_600_000}), "type": "m.room.topic"}], False),
])
def test_a_call_runs_while_a_starters_membership_lives(entries, running):
    people = {p.user_id: p for p in (TEACHER, STUDENT, CLASSMATE)}
    may_start = lambda sender: CAPS.may_start_call(people[sender], CLASS_CHAT)  # noqa: E731
    assert call_running(entries + joined(TEACHER, STUDENT, CLASSMATE), STUDENT.user_id, NOW, CAPS.call_member_state,
                        may_start) is running
    # someone who left the room keeps no call running
    assert call_running(entries, STUDENT.user_id, NOW, CAPS.call_member_state) is False


def power_state(version: str = "12", creator: str = "@parta:school.test", **pl) -> list[dict]:
    return [{"type": "m.room.create", "state_key": "", "sender": creator, "content": {"room_version": version}},
            {"type": "m.room.power_levels", "state_key": "", "sender": creator, "content": pl}]


def test_power_levels_for_a_call_membership():
    assert power_allows_state(power_state(state_default=0), STUDENT.user_id, CALL)
    assert not power_allows_state(power_state(events={CALL: 100}), STUDENT.user_id, CALL)
    assert power_allows_state(power_state(events={CALL: 100}, users={TEACHER.user_id: 100}), TEACHER.user_id, CALL)
    assert not power_allows_state(power_state(), STUDENT.user_id, CALL)               # state_default 50
    assert power_allows_state(power_state(creator=STUDENT.user_id), STUDENT.user_id, CALL)  # v12 creator
    assert not power_allows_state(power_state("10", creator=STUDENT.user_id), STUDENT.user_id, CALL)
    assert not power_allows_state([], STUDENT.user_id, CALL)                           # no such room


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
    (PARENT, MATERIALS, "join", True, "call_read_only"),          # read-only for her: no token
    (STUDENT, MATERIALS, "join", True, "call_read_only"),
    (TEACHER, MATERIALS, "join", False, "ok"),                    # the class's teachers post there
    (account("other_teacher", Role.TEACHER, classes=("6b",)), MATERIALS, "join", True, "call_read_only"),
])
def test_who_gets_a_call_token(person, room, membership, running, reason):
    decision = may_get_call_token(CAPS, person, room, membership, running)
    assert decision.reason == reason, decision
    assert decision.allowed is (reason == "ok")
    if not decision.allowed:
        assert decision.message("en") and decision.message("ru") != decision.message("en")


def test_no_token_where_the_power_levels_refuse_the_membership():
    decision = may_get_call_token(CAPS, TEACHER, RoomInfo(kind="school_space", org="a"), "join", True,
                                  may_send_member=False)
    assert decision.reason == "call_read_only"


SERVICE = "https://school.test/api/v1/livekit"
TRANSPORTS = ({"type": "livekit", "url": "wss://school.test/livekit/sfu", "livekit_service_url": SERVICE},)
OWN_FOCUS = {"type": "livekit", "livekit_service_url": SERVICE + "/", "livekit_alias": "!room:school.test"}
SELECT = {"type": "livekit", "focus_selection": "oldest_membership"}


def membership(**extra) -> dict:
    """Element Call's membership (matrix-js-sdk MembershipManager.makeMyMembership, the MSC4143 legacy form)."""
    return {"application": "m.call", "call_id": "", "scope": "m.room", "device_id": "DEV", "expires": 14_400_000,
            "focus_active": SELECT, "foci_preferred": [OWN_FOCUS], **extra}


@pytest.mark.parametrize(("content", "reason"), [
    (membership(), "ok"),
    (membership(foci_preferred=[]), "ok"),
    (membership(focus_active={"type": "livekit", "focus_selection": "multi_sfu"},
                foci_preferred=[{"type": "livekit", "url": "wss://school.test/livekit/sfu"}]), "ok"),
    ({}, "ok"), ({"leave_reason": "m.delayed"}, "ok"), ({"memberships": []}, "ok"),            # leaves
    (membership(foci_preferred=[{"type": "livekit", "livekit_service_url": "https://evil.example/lk"}]),
     "call_focus_foreign"),
    (membership(foci_preferred=[OWN_FOCUS, {"type": "livekit", "livekit_service_url": "https://evil.example"}]),
     "call_focus_foreign"),
    (membership(focus_active={"type": "livekit", "livekit_service_url": "https://evil.example/lk"}),
     "call_focus_foreign"),
    (membership(foci_preferred=[{"type": "livekit", "url": "wss://evil.example"}]), "call_focus_foreign"),
    (membership(foci_preferred=[{"type": "mesh", "server": "https://evil.example"}]), "call_focus_foreign"),
    (membership(foci_preferred="https://evil.example"), "call_focus_foreign"),
    (membership(rtc_transports=[{"type": "livekit", "livekit_service_url": "https://evil.example"}]),
     "call_focus_foreign"),
    ({"memberships": [{"expires_ts": NOW, "foci_active": [{"type": "livekit",
                                                           "livekit_service_url": "https://evil.example"}]}]},
     "call_focus_foreign"),
    ({"leave_reason": "x", "foci_preferred": [{"type": "livekit", "livekit_service_url": "https://evil.example"}]},
     "call_focus_foreign"),
    ({k: v for k, v in membership().items() if k != "expires"}, "call_member_no_expiry"),
    (membership(expires=0), "call_member_no_expiry"),
    (membership(expires="14400000"), "call_member_no_expiry"),
])
def test_a_call_membership_names_only_this_installations_livekit(content, reason):
    key = f"_{TEACHER.user_id}_DEV_m.call"
    decision = CAPS.may_send_call_member(TEACHER, CLASS_CHAT, key, content, False, None, TRANSPORTS)
    assert decision.reason == reason, decision
    if not decision.allowed:
        assert decision.message("en") and decision.message("ru") != decision.message("en")


def test_without_transports_every_named_service_is_foreign():
    key = f"_{TEACHER.user_id}_DEV_m.call"
    assert CAPS.may_send_call_member(TEACHER, CLASS_CHAT, key, membership(), False).reason == "call_focus_foreign"
    assert CAPS.may_send_call_member(TEACHER, CLASS_CHAT, key, membership(foci_preferred=[]), False)
