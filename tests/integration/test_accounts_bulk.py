"""Issue 9: the accounts of a whole school at once (``parta accounts create``): everyone without an
account gets one, placed in their rooms (families together), the one-time passwords in a file only
the operator reads; a second run creates nothing."""

from __future__ import annotations

import csv
import stat

import pytest

from policies.templates import RoomRef

from ..helpers import rooms_of
from ..schools import attack_cast, write_attack_roster
from .test_bad_input import Cli

pytestmark = pytest.mark.synapse
V = "/_matrix/client/v3"


async def test_accounts_for_a_whole_school(hs, installation, tmp_path):
    c = attack_cast()
    school = await hs.new_school(roster=write_attack_roster(tmp_path / "roster"))
    org = school["org"]
    out = tmp_path / "accounts.csv"
    r = Cli("accounts", "create", "--org", org, "--out", str(out), "-d", str(installation.root)).result()
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = {row["person_id"]: row for row in csv.DictReader(f, delimiter=";")}
    people = {p["person_id"]: p for p in (await hs.api.people(org))["people"]}
    roster_people = {k for k in people if not k.startswith("application:")}
    assert set(rows) == roster_people, set(rows) ^ roster_people
    assert all(p["user_id"] for p in people.values())
    # the pupil and the parent are in their rooms, signing in with the one-time passwords
    pupil = await hs.login(rows[c.student]["user_id"], rows[c.student]["password"])
    parent = await hs.login(rows[c.parent]["user_id"], rows[c.parent]["password"])
    rooms = await rooms_of(hs, org, {"chat": RoomRef(org, "class_chat", c.class_id),
                                     "parents": RoomRef(org, "class_parents", c.class_id)})
    assert rooms["chat"] in set((await pupil.get(f"{V}/joined_rooms"))["joined_rooms"])
    assert rooms["parents"] in set((await parent.get(f"{V}/joined_rooms"))["joined_rooms"])
    # again: nobody is left without an account, nothing is created
    again = await hs.api.provision_many(org)
    assert again["created"] == 0 and again["accounts"] == [], again
