"""Who stays in a network room after a role change or a removal, and whose people a school may take out
of a shared one (policies.federation.may_stay_in_network_room, policies.moderation.may_remove_from_shared_room)."""

from __future__ import annotations

from policies.capabilities import Account, Membership, RoomInfo
from policies.federation import may_stay_in_network_room
from policies.model import Role
from policies.moderation import may_redact_in_shared_room, may_remove_from_shared_room

NETWORK = RoomInfo(kind="network", orgs=("a", "b"))


def person(role: Role | None, confirmed: bool = True, org: str = "a") -> Account:
    if role is None:
        return Account("@x:school1.example", {})
    return Account("@x:school1.example", {org: Membership(org=org, role=role, confirmed=confirmed)})


def test_confirmed_staff_of_the_rooms_schools_stay():
    assert may_stay_in_network_room(person(Role.TEACHER), NETWORK, partners_room=False)
    assert not may_stay_in_network_room(person(Role.TEACHER, org="c"), NETWORK, partners_room=False)
    assert not may_stay_in_network_room(person(Role.PARENT), NETWORK, partners_room=False)
    assert not may_stay_in_network_room(person(Role.TEACHER, confirmed=False), NETWORK, partners_room=False)
    assert not may_stay_in_network_room(person(None), NETWORK, partners_room=False)  # removed


def test_in_a_partners_room_confirmed_staff_of_any_school_here_stay():
    assert may_stay_in_network_room(person(Role.TEACHER, org="c"), NETWORK, partners_room=True)
    assert not may_stay_in_network_room(person(None), NETWORK, partners_room=True)
    assert not may_stay_in_network_room(person(Role.PARENT), NETWORK, partners_room=True)


def test_a_school_takes_only_its_own_people_out_of_a_shared_room():
    assert may_remove_from_shared_room(person(Role.TEACHER, org="a"), "a", NETWORK.orgs)
    assert may_remove_from_shared_room(person(None), "a", NETWORK.orgs)  # a partner server's user
    assert may_remove_from_shared_room(person(Role.TEACHER, org="b"), "a", NETWORK.orgs).reason == "not_own_person"


def test_a_school_removes_only_its_own_peoples_messages_in_a_shared_room():
    assert may_redact_in_shared_room(person(Role.TEACHER, org="a"), "a", NETWORK.orgs)
    assert may_redact_in_shared_room(person(None), "a", NETWORK.orgs)  # a partner server's user
    refused = may_redact_in_shared_room(person(Role.TEACHER, org="b"), "a", NETWORK.orgs)
    assert refused.reason == "not_own_person" and "messages" in refused.message("en")
