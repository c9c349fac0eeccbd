"""Round 20 of the attacks: holes found by attacker20 (each marked ``xfail(strict=True)`` until fixed).

A school's head imports the school's roster through the API (``POST /api/v1/organizations/{org}/roster``,
open to the administration since issue 14). ``PATCH /people/{person}`` and ``DELETE`` pass through
``policies.administration.may_change_person`` (row 90: nobody changes their own role, only an
administrator makes or unmakes an administrator), the roster import does not: the roster's roles are
written as they are. Each test asserts the secure behaviour and the legitimate twin next to it.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from ..helpers import API, User, q
from ..schools import write_attack_roster

pytestmark = pytest.mark.synapse

ADMIN_PERSON = "application:administrator"
HEAD_PERSON = "application:head"


@dataclass
class World:
    org: str
    admin: User
    head: User
    roster: Path          # the roster the school was created with (OneRoster 1.2 CSV files)
    base: str             # the provisioning service
    operator: str         # the operator's token


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> World:
    roster = write_attack_roster(tmp_path_factory.mktemp("round20-roster"))
    a = await hs.new_school(roster=roster)
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    return World(org=a["org"], roster=roster,
                 admin=await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
                 head=await hs.login(acc["head"]["user_id"], acc["head"]["password"]),
                 base=hs.settings.provisioning_url, operator=hs.settings.operator_token)


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
    return buf.getvalue()


def _with_people(src: Path, dst: Path, people: list[tuple[str, str, str, str]]) -> bytes:
    """``src``'s roster plus ``people`` (sourcedId, family name, given name, OneRoster role) as a zip."""
    shutil.copytree(src, dst)
    users, roles = dst / "users.csv", dst / "roles.csv"
    with users.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    with users.open("a", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, header)
        for pid, family, given, _role in people:
            out.writerow({k: "" for k in header} | {"sourcedId": pid, "enabledUser": "true", "givenName": given,
                                                     "familyName": family, "primaryOrgSourcedId": "org-1"})
    with roles.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    with roles.open("a", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, header)
        for pid, _family, _given, role in people:
            out.writerow({k: "" for k in header} | {"sourcedId": f"role-{pid}", "userSourcedId": pid,
                                                     "roleType": "primary", "role": role, "orgSourcedId": "org-1"})
    return _zip(dst)


async def _import(w: World, token: str, data: bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(
            f"{w.base}{API}/organizations/{q(w.org)}/roster", data=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"}) as r:
        return r.status, await r.json(content_type=None)


async def _role(w: World, person_id: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(
            f"{w.base}{API}/organizations/{q(w.org)}/people",
            headers={"Authorization": f"Bearer {w.operator}"}) as r:
        body = await r.json(content_type=None)
    return next(p["role"] for p in body["people"] if p["person_id"] == person_id)


def _refused(resp: tuple[int, dict], reason: str) -> None:
    status, body = resp
    assert status == 403 and body.get("errcode") == "M_FORBIDDEN", body
    assert body.get("org.parta.reason") == reason, body


@pytest.mark.xfail(strict=True, reason="hole: the roster import skips may_change_person: the head demotes the "
                                       "school's administrator by listing them as a teacher")
async def test_head_demotes_the_administrator_through_a_roster(w, tmp_path):
    """Attack: the head imports the school's roster with the administrator's record
    (``application:administrator``) listed as a teacher → must be 403 ``admin_by_admin_only`` (row 90:
    only an administrator changes an administrator). Legitimate twin: the head imports the roster the
    school was made with → 200, and the administrator stays one."""
    status, body = await _import(w, w.head.token, _zip(w.roster))
    assert status == 200, body
    assert await _role(w, ADMIN_PERSON) == "admin"
    data = _with_people(w.roster, tmp_path / "r", [(ADMIN_PERSON, "Администраторова", "Анна", "teacher")])
    resp = await _import(w, w.head.token, data)
    try:
        _refused(resp, "admin_by_admin_only")
    finally:
        print("head's import:", resp[0], await _role(w, ADMIN_PERSON))
    assert await _role(w, ADMIN_PERSON) == "admin"


@pytest.mark.xfail(strict=True, reason="hole: the roster import skips may_change_person: the head makes "
                                       "themselves administrator by listing their own record so")
async def test_head_makes_themselves_administrator_through_a_roster(w, tmp_path):
    """Attack: the head imports the roster with the head's own record (``application:head``) listed as an
    administrator → must be 403 ``not_own_record`` (row 90 refuses the same through ``PATCH``).
    Legitimate twin: the head imports the unchanged roster → 200, the head stays head."""
    status, body = await _import(w, w.head.token, _zip(w.roster))
    assert status == 200, body
    assert await _role(w, HEAD_PERSON) == "head"
    data = _with_people(w.roster, tmp_path / "r", [(HEAD_PERSON, "Директорова", "Дина", "administrator")])
    resp = await _import(w, w.head.token, data)
    try:
        _refused(resp, "not_own_record")
    finally:
        print("head's import:", resp[0], await _role(w, HEAD_PERSON))
    assert await _role(w, HEAD_PERSON) == "head"
