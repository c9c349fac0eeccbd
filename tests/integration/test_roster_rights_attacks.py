"""Issue 14: a school imports its own roster through the API (``POST /api/v1/organizations/{org}/roster``)
as the console lets its administration do; another school's administrator is refused (docs/security.md
lists them; the world is ``reports_world``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import aiohttp
import pytest

from ..helpers import API, q
from ..schools import write_attack_roster
from .reports_world import World, build

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    return await build(hs, tmp_path_factory)


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
    return buf.getvalue()


async def _import(w: World, token: str, org: str, data: bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(
            f"{w.base}{API}/organizations/{q(org)}/roster", params={"dry_run": "true"}, data=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"}) as r:
        return r.status, await r.json(content_type=None)


async def test_another_schools_administrator_imports_a_roster_into_this_school(w, tmp_path):
    """Attack: school B's administrator posts a roster for school A → 403 M_FORBIDDEN with the API's
    message. Legitimate next to it: school A's administrator imports A's own roster (dry run) → 200."""
    data = _zip(write_attack_roster(tmp_path / "roster"))
    status, body = await _import(w, w.admin_b.token, w.org, data)
    assert status == 403 and body.get("errcode") == "M_FORBIDDEN", body
    assert body.get("error") in ("Это может сделать только администратор или директор организации",
                                 "Only the organization's administrator or head can do this"), body
    status, body = await _import(w, w.admin.token, w.org, data)
    assert status == 200, body
