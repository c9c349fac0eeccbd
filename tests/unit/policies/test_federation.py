"""policies.federation: who of another server may be in which room (pure rules)."""

from __future__ import annotations

from policies.capabilities import Account, Membership, RoomInfo
from policies.federation import may_invite_remote, may_receive_remote_invite, may_take_part_in_partner_room, server_of
from policies.model import Role

PARTNERS = ["school2.example"]
NETWORK = RoomInfo(kind="network", orgs=("a",))


def person(role: Role, confirmed: bool = True, org: str = "a") -> Account:
    return Account("@x:school1.example", {org: Membership(org=org, role=role, confirmed=confirmed)})


def invite_state(kind: str | None, federate: bool = True) -> list[dict]:
    state: list[dict] = [{"type": "m.room.create", "state_key": "", "content": {"m.federate": federate}}]
    if kind:
        state.append({"type": "org.parta.room", "state_key": "", "content": {"kind": kind}})
    return state


def test_server_of_keeps_the_port():
    assert server_of("@a:127.0.0.1:8448") == "127.0.0.1:8448"


def test_local_staff_invite_partner_users_into_network_rooms_only():
    teacher = person(Role.TEACHER)
    assert may_invite_remote(teacher, "@t:school2.example", NETWORK, PARTNERS)
    assert may_invite_remote(teacher, "@t:school2.example", RoomInfo(kind="class_chat", org="a"),
                             PARTNERS).reason == "remote_user_outsider"
    assert may_invite_remote(teacher, "@t:school2.example", None, PARTNERS).reason == "remote_user_outsider"
    assert may_invite_remote(teacher, "@t:evil.example", NETWORK, PARTNERS).reason == "federation_not_partner"
    assert may_invite_remote(person(Role.STUDENT), "@t:school2.example", NETWORK, PARTNERS).reason == "may_not_invite"


def test_invitations_from_partners_reach_confirmed_staff_in_network_rooms_only():
    teacher = person(Role.TEACHER)
    assert may_receive_remote_invite(teacher, "@t:school2.example", invite_state("network"), PARTNERS)
    for state in (invite_state("class_chat"), invite_state(None), invite_state("network", federate=False)):
        assert may_receive_remote_invite(teacher, "@t:school2.example", state, PARTNERS).reason \
            == "federation_invite_refused"
    for who in (person(Role.STUDENT), person(Role.PARENT), person(Role.TEACHER, confirmed=False), Account("@o:x")):
        assert not may_receive_remote_invite(who, "@t:school2.example", invite_state("network"), PARTNERS)
    assert may_receive_remote_invite(teacher, "@t:evil.example", invite_state("network"),
                                     PARTNERS).reason == "federation_not_partner"


def test_partner_rooms_take_confirmed_staff_only():
    assert may_take_part_in_partner_room(person(Role.ADMIN))
    assert not may_take_part_in_partner_room(person(Role.TEACHER, confirmed=False))
    assert not may_take_part_in_partner_room(person(Role.STUDENT))
