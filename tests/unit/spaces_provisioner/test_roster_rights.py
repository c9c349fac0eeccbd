"""Which of a roster's changes to people the importer may not make (``ops.rosters.refused_changes``,
over ``policies.administration.may_change_person``, row 90): pure, on a hand-made diff and rows.
The real imports, refusals and twins: tests/integration/test_roster_admin_rights_attacks.py."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from policies.administration import may_change_person
from policies.capabilities import Account, Membership
from policies.i18n import set_language
from policies.model import Role

from spaces_provisioner.ops.roster_diff import RosterDiff
from spaces_provisioner.ops.rosters import refused_changes

ORG = "school"
ADMIN = Account("@admin:hs", {ORG: Membership(ORG, Role.ADMIN, confirmed=True)})
HEAD = Account("@head:hs", {ORG: Membership(ORG, Role.HEAD, confirmed=True)})


@pytest.fixture(autouse=True)
def russian() -> Iterator[None]:
    set_language("ru")  # the changes are described in the person's language; Russian here
    yield
    set_language(None)


def _row(person_id: str, role: str, user_id: str | None = None, status: str = "active") -> SimpleNamespace:
    return SimpleNamespace(person_id=person_id, role=role, user_id=user_id, status=status,
                           family_name="Фамилия", given_name=person_id, middle_name="")


def _added(person_id: str, role: str) -> dict:
    return {"person_id": person_id, "family_name": "Новикова", "given_name": person_id, "middle_name": "",
            "role": role, "grades": "[]"}


ROWS = {r.person_id: r for r in (
    _row("application:administrator", "admin", ADMIN.user_id), _row("application:head", "head", HEAD.user_id),
    _row("t1", "teacher", "@t1:hs"), _row("a2", "admin", "@a2:hs"), _row("a3", "admin", None, status="removed"))}


def test_adding_someone_as_administrator_is_the_administrators_own():
    assert may_change_person(HEAD, ORG, None, "admin", adds=True).reason == "admin_by_admin_only"
    assert may_change_person(HEAD, ORG, None, "teacher", adds=True).allowed
    assert may_change_person(ADMIN, ORG, None, "admin", adds=True).allowed
    assert may_change_person(None, ORG, None, "admin", adds=True).allowed


def test_the_heads_roster_touches_no_administrator_and_not_their_own_record():
    d = RosterDiff(people_added=[_added("n1", "admin"), _added("n2", "teacher")],
                   people_changed=[{"person_id": "application:administrator", "role": "teacher"},
                                   {"person_id": "application:head", "role": "admin"},
                                   {"person_id": "t1", "role": "teacher", "given_name": "Анна"},
                                   {"person_id": "a3", "role": "admin", "status": "active"}],
                   people_removed=[{"person_id": "a2", "role": "admin"}])
    refused = refused_changes(HEAD, ORG, d, ROWS)
    assert [(pid, decision.reason) for pid, _name, _change, decision in refused] == [
        ("n1", "admin_by_admin_only"), ("application:administrator", "admin_by_admin_only"),
        ("application:head", "not_own_record"), ("a3", "admin_by_admin_only"), ("a2", "admin_by_admin_only")]
    changes = {pid: change for pid, _name, change, _decision in refused}
    assert changes["n1"] == "новый человек, роль: Администратор"
    assert changes["application:administrator"] == "роль: Администратор → Учитель"
    assert changes["a3"] == "возвращается в школу"
    assert changes["a2"] == "исключается (его больше нет в списке)"


def test_the_administrator_may_all_but_their_own_record_and_the_operator_all():
    d = RosterDiff(people_added=[_added("n1", "admin")],
                   people_changed=[{"person_id": "t1", "role": "admin"},
                                   {"person_id": "application:head", "role": "teacher"},
                                   {"person_id": "a3", "role": "admin", "status": "active"}],
                   people_removed=[{"person_id": "a2", "role": "admin"}])
    assert refused_changes(ADMIN, ORG, d, ROWS) == []
    own = RosterDiff(people_changed=[{"person_id": "application:administrator", "role": "head"}])
    assert [x[3].reason for x in refused_changes(ADMIN, ORG, own, ROWS)] == ["not_own_record"]
    assert refused_changes(None, ORG, own, ROWS) == []
    # a name corrected is no change of role or membership: the head may
    named = RosterDiff(people_changed=[{"person_id": "application:administrator", "role": "admin",
                                        "given_name": "Анна"}])
    assert refused_changes(HEAD, ORG, named, ROWS) == []
