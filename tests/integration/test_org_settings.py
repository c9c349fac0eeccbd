"""Issue 14: a school's administrator changes the organization's settings through the API (no
command line) and the school's rooms follow on the real Synapse; a bad value is refused with the
setting named and nothing changed. The world is ``reports_world`` (schools A and B)."""

from __future__ import annotations

import asyncio
import json

import pytest

from policies.templates import RoomRef, default_templates

from ..helpers import api, q
from .reports_world import V, World, build, ok

pytestmark = pytest.mark.synapse
T = default_templates()


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    return await build(hs, tmp_path_factory)


async def settings(w: World, who, org: str | None = None) -> dict:
    """``{key: {"value", "default", "own"}}`` of the organization, read through the API."""
    body = ok(await api(who, "GET", f"/organizations/{q(org or w.org)}/settings", base=w.base))
    return {s["key"]: s for s in body["settings"]}


async def announce(hs, w: World, text: str) -> int:
    """The teacher's attempt to post in school A's announcements: the HTTP status."""
    room = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(w.org, 'announcements'))}:{hs.server_name}")
    await w.teacher.attempt("POST", f"{V}/join/{q(room)}", {})
    code, _body = await w.teacher.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/{text}",
                                          {"msgtype": "m.text", "body": text})
    return code


async def test_the_administrator_lets_teachers_post_announcements_and_the_room_follows(w, hs):
    before = await settings(w, w.admin)
    assert before["teachers_may_post_announcements"] == {"key": "teachers_may_post_announcements", "value": False,
                                                         "default": False, "own": True}
    assert await announce(hs, w, "before") == 403
    body = ok(await api(w.admin, "PATCH", f"/organizations/{q(w.org)}/settings",
                        {"teachers_may_post_announcements": True}, base=w.base))
    assert body["changed"] == ["teachers_may_post_announcements"]
    assert (await settings(w, w.admin))["teachers_may_post_announcements"]["value"] is True
    assert await announce(hs, w, "after") == 200
    # and back: the teacher loses the power again
    ok(await api(w.admin, "PATCH", f"/organizations/{q(w.org)}/settings",
                 {"teachers_may_post_announcements": False}, base=w.base))
    assert await announce(hs, w, "again") == 403


async def test_a_bad_value_is_refused_with_the_setting_named_and_nothing_changed(w, hs):
    before = await settings(w, w.admin)
    code, body = await api(w.admin, "PATCH", f"/organizations/{q(w.org)}/settings",
                           {"students_may_message_classmates": False, "retention_archived_months": "many",
                            "office_hours": {"days": [1], "from": "25:00", "to": "20:00"}}, base=w.base)
    assert code == 400 and body["errcode"] == "M_INVALID_PARAM", body
    assert "retention_archived_months" in body["error"] and "office_hours" in body["error"], body
    assert any(d.startswith("retention_archived_months: ") and "1200" in d for d in body["details"]), body
    assert any(d.startswith("office_hours: ") and "23:59" in d for d in body["details"]), body
    assert await settings(w, w.admin) == before  # the good value in the same request was not stored either
    code, body = await api(w.admin, "PATCH", f"/organizations/{q(w.org)}/settings", {"language": "en"}, base=w.base)
    assert code == 400 and "students_may_message_classmates" in body["details"][0], body


async def test_the_change_is_audited(w, hs):
    ok(await api(w.admin, "PATCH", f"/organizations/{q(w.org)}/settings",
                 {"retention_direct_chats_months": 24}, base=w.base))
    code, body = await api(w.admin, "GET", f"/organizations/{q(w.org)}/audit", base=w.base)
    assert code == 200, body
    line = next(e for e in body["entries"] if e["action"] == "org.settings")
    assert line["actor"] == w.admin.user_id and line["detail"]["new"] == {"retention_direct_chats_months": 24}, line


async def test_the_command_line_shows_and_changes_the_settings(w, hs, capsys):
    from spaces_provisioner.cli.main import main

    root = str(hs.settings.root)
    rc = await asyncio.to_thread(main, ["org", "settings", w.org, "--set", "retention_archived_months=36",
                                        "--set", 'office_hours={days: [1, 2, 3, 4, 5], from: "08:00", to: "18:00"}',
                                        "--json", "-d", root])
    body = json.loads(capsys.readouterr().out)
    assert rc == 0 and body["changed"] == ["office_hours", "retention_archived_months"], body
    view = await settings(w, w.admin)
    assert view["retention_archived_months"]["value"] == 36 and view["retention_archived_months"]["default"] == 12
    assert view["office_hours"]["value"] == {"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "18:00"}
    rc = await asyncio.to_thread(main, ["org", "settings", w.org, "-d", root])
    out = capsys.readouterr().out
    assert rc == 0 and "retention_archived_months: 36" in out and "timezone: " in out, out


async def test_the_console_settings_form_saves_and_explains_a_bad_value(w, hs):
    from .console_school_world import Console

    async with Console(w.base) as c:
        await c.sign_in(w.admin.token)
        status, text = await c.get(f"/console/org/{q(w.org)}/settings")
        assert status == 200 and 'name="max_guardians_per_child"' in text and 'name="csrf"' in text.lower(), text
        status, text = await c.post(f"/console/org/{q(w.org)}/settings",
                                    {"max_guardians_per_child": "4", "timezone": '"Europe/Moscow"'})
        assert status == 200 and "Сохранено: max_guardians_per_child" in text, text
        assert (await settings(w, w.admin))["max_guardians_per_child"]["value"] == 4
        status, text = await c.post(f"/console/org/{q(w.org)}/settings", {"max_guardians_per_child": "99"})
        assert status == 200 and "max_guardians_per_child: должно быть целым числом от 1 до 10" in text, text
        assert (await settings(w, w.admin))["max_guardians_per_child"]["value"] == 4
