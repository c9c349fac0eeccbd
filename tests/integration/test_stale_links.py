"""A registration link works only while its creator may still issue it (spaces_provisioner/ops/stale_links.py).

Real Synapse and the real provisioning service (tests/integration/console_school_world.py: teachers t1 of
5А and t2 of 5Б, confirmed here). The attack of a removed teacher is
``test_console_federation_attacks.py::test_a_removed_teachers_links_stop_registering``; these tests cover
the other ways of losing the right (classes taken away, confirmation withdrawn) and the links that must
keep working next to them (the administration's, the colleague's).
"""

from __future__ import annotations

import aiohttp
import pytest

from policies.i18n import _

from ..helpers import api, ok, q
from .console_school_world import console_school

REVOKED = "This link was revoked; ask the school for a new one"


async def _token_valid(hs, code: str) -> bool:
    async with aiohttp.ClientSession() as s, s.get(
            f"{hs.settings.homeserver_url}/_matrix/client/v1/register/m.login.registration_token/validity",
            params={"token": code}) as r:
        return bool((await r.json())["valid"])


async def _page(hs, code: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"{hs.settings.provisioning_url}/register",
                                                   params={"code": code}) as r:
        return r.status, await r.text()


async def _school_with_links(hs, tmp_path) -> tuple[dict, dict[str, str]]:
    """console_school with t1 and t2 confirmed; student links of t1 (5А), t2 (5Б) and the administrator (5А)."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    for t in ("t1", "t2"):
        ok(await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s[t].user_id)}", {"confirmed": True}, base))
    codes = {}
    for who, cls in (("t1", "c5a"), ("t2", "c5b"), ("admin", "c5a")):
        link = ok(await api(s[who], "POST", f"/organizations/{org}/links", {"role": "student", "class_id": cls},
                            base), status=201)
        codes[who] = link["code"]
    return s, codes


@pytest.mark.synapse
async def test_a_teacher_moved_to_another_class_loses_the_old_class_link(hs, tmp_path):
    """t1 is moved from 5А to 5Б: t1's 5А link stops (token invalid, the page says it was revoked); the
    administrator's 5А link and t2's 5Б link keep registering."""
    s, codes = await _school_with_links(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    body = ok(await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t1'].user_id)}",
                        {"classes": ["c5b"]}, base))
    assert any(codes["t1"] in line for line in body.get("details", [])), body
    assert not await _token_valid(hs, codes["t1"])
    status, text = await _page(hs, codes["t1"])
    assert status == 410 and _(REVOKED, "ru") in text, text[:500]
    assert await _token_valid(hs, codes["admin"]) and await _token_valid(hs, codes["t2"])
    links = ok(await api(s["admin"], "GET", f"/organizations/{org}/links", None, base))
    revoked = {link["code"]: link["revoked"] for link in (links if isinstance(links, list) else links["links"])}
    assert revoked[codes["t1"]] and not revoked[codes["admin"]] and not revoked[codes["t2"]], revoked


@pytest.mark.synapse
async def test_a_teachers_links_stop_when_the_confirmation_is_withdrawn(hs, tmp_path):
    """The administration withdraws t2's confirmation (an unconfirmed teacher issues no links): t2's
    link stops; t1's link stays valid."""
    s, codes = await _school_with_links(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    ok(await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t2'].user_id)}",
                 {"confirmed": False}, base))
    assert not await _token_valid(hs, codes["t2"])
    assert await _token_valid(hs, codes["t1"]) and await _token_valid(hs, codes["admin"])
