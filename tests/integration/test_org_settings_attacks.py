"""Issue 14's attack on an organization's settings: another school's administrator and a teacher of
the school try to change them, each refused with an errcode and message; the school's administrator's
change next to it succeeds (docs/security.md lists them; the world is ``reports_world``)."""

from __future__ import annotations

import pytest

from ..helpers import api, q
from .reports_world import World, build, ok

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    return await build(hs, tmp_path_factory)


def forbidden(resp: tuple[int, dict]) -> None:
    code, body = resp
    assert code == 403 and body.get("errcode") == "M_FORBIDDEN" and body.get("error"), body


async def test_another_schools_administrator_or_a_teacher_changes_this_schools_settings(w, hs):
    path = f"/organizations/{q(w.org)}/settings"
    change = {"students_may_message_classmates": False}
    forbidden(await api(w.admin_b, "PATCH", path, change, base=w.base))
    forbidden(await api(w.teacher, "PATCH", path, change, base=w.base))
    forbidden(await api(w.student, "PATCH", path, change, base=w.base))
    forbidden(await api(w.admin_b, "GET", path, base=w.base))
    body = ok(await api(w.admin, "GET", path, base=w.base))
    assert next(s for s in body["settings"] if s["key"] == "students_may_message_classmates")["value"] is True
    # the legitimate requests next to them: each administrator changes their own school's
    assert ok(await api(w.admin, "PATCH", path, change, base=w.base))["changed"] == ["students_may_message_classmates"]
    ok(await api(w.admin_b, "PATCH", f"/organizations/{q(w.org_b)}/settings", {"max_guardians_per_child": 3},
                 base=w.base))
