"""The consequences a confirmation page shows before a person is removed or moved: the rooms they leave
and join, the guardians whose rooms change with them, a suspension when no other school remains
(``ops.consequences``, read from the same snapshot and selectors the reconciler places people by)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from policies.templates import default_templates

from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import ProvisioningError
from spaces_provisioner.ops.consequences import consequences
from spaces_provisioner.ops.context import Context


@pytest.fixture
def ctx(tmp_path):
    store = st.Store(f"sqlite:///{tmp_path / 'parta.db'}")
    c = Context(SimpleNamespace(language="en"), store, None, default_templates())  # type: ignore[arg-type]
    with store.begin() as tx:
        tx.execute(st.organizations.insert().values(id="s1", name="School 1", kind="school", fingerprint="x",
                                                    payload=json.dumps({}), approved_at=0))
        for cid, title in (("c5a", "5A"), ("c5b", "5B")):
            tx.execute(st.classes.insert().values(org_id="s1", class_id=cid, title=title, grades='["05"]'))
        for pid, role, user, given in (("kid", "student", "@kid:t", "Kid"), ("mum", "parent", "@mum:t", "Mum"),
                                       ("dad", "parent", None, "Dad"), ("t1", "teacher", "@t1:t", "Tea")):
            tx.execute(st.people.insert().values(org_id="s1", person_id=pid, family_name="Doe", given_name=given,
                                                 middle_name="", role=role, grades="[]", confirmed=True,
                                                 user_id=user, status="active"))
        tx.execute(st.enrollments.insert().values(org_id="s1", class_id="c5a", person_id="kid", role="student",
                                                  is_primary=False))
        tx.execute(st.enrollments.insert().values(org_id="s1", class_id="c5a", person_id="t1", role="teacher",
                                                  is_primary=True))
        for g in ("mum", "dad"):
            tx.execute(st.guardianships.insert().values(org_id="s1", student_id="kid", guardian_id=g,
                                                        relation="parent"))
    return c


def test_moving_a_pupil_shows_the_rooms_and_the_guardians_who_follow(ctx):
    c = consequences(ctx, "s1", "kid", "en", classes=["c5b"])
    assert c.has_account and not c.suspended
    assert any("5A" in r for r in c.left) and any("5B" in r for r in c.joined), c
    assert c.guardians == ["Doe Dad", "Doe Mum"]
    mum = c.others["Doe Mum"]
    assert any("5A" in r for r in mum["left"]) and any("5B" in r for r in mum["joined"]), c.others


def test_removing_suspends_an_account_in_no_other_school_and_leaves_every_room(ctx):
    c = consequences(ctx, "s1", "t1", "en", remove=True)
    assert c.suspended and c.left and not c.joined
    assert consequences(ctx, "s1", "t1", "en", classes=["c5a"]).left == []  # nothing changes: nothing listed


def test_a_person_without_an_account_changes_no_rooms_and_an_unknown_one_is_404(ctx):
    c = consequences(ctx, "s1", "dad", "en", remove=True)
    assert not c.has_account and not c.left and not c.suspended
    with pytest.raises(ProvisioningError) as e:
        consequences(ctx, "s1", "nobody", "en", remove=True)
    assert e.value.status == 404
