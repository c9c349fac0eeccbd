"""A school's own roster import changes people only as ``PATCH``/``DELETE /people`` would let the importer
(``policies.administration.may_change_person``, row 90; ``ops.rosters.check_rights``): the head makes,
changes, removes, brings back or adds no administrator through a roster, nobody changes their own
record, in the dry run (the console's preview) as in the import; the administrator may, and so may the
operator. The head's and the administrator's imports that change nothing of the kind go through.

The attacker's own tests of the same hole: ``test_round20_attacks.py`` (the head demotes the
administrator; the head makes themselves administrator). Each school here is small and fresh (a
OneRoster 1.1 roster of :mod:`.console_school_world`, plus the people a test adds).
"""

from __future__ import annotations

import aiohttp
import pytest

from policies.i18n import gettext_

from spaces_provisioner.roster.source import zip_folder

from ..helpers import API, User, q
from .console_school_world import Console, school_roster

pytestmark = pytest.mark.synapse

ADMIN_PERSON = "application:administrator"
HEAD_PERSON = "application:head"
#: The role's words in a OneRoster 1.1 users.csv.
ADMINISTRATOR = "administrator"
X = ("x1", "Ксения", "Иксова")  # a teacher made administrator in the tests (id, given, family)
ADMIN_REFUSAL = ("Only the school's administrator can make someone an administrator or change or remove "
                 "an administrator")
OWN_REFUSAL = ("Nobody changes their own role, confirmation or membership; ask another administrator of the "
               "school or the operator")


class School:
    """A fresh school: its id, the administrator and the head signed in, the service's address."""

    def __init__(self, org: str, admin: User, head: User, base: str, operator: str, tmp):
        self.org, self.admin, self.head, self.base, self.operator, self.tmp = org, admin, head, base, operator, tmp
        self._n = 0

    def roster(self, *people: tuple[str, str, str, str]) -> bytes:
        """The school's roster plus ``people`` (id, OneRoster role, given, family), as a zip."""
        self._n += 1
        folder = school_roster(self.tmp / f"roster-{self._n}",
                               extra_people=[(pid, role, given, family, "") for pid, role, given, family in people])
        return zip_folder(folder)

    async def import_(self, who: User | str, data: bytes, *, dry_run: bool = False) -> tuple[int, dict]:
        token = who.token if isinstance(who, User) else who
        async with aiohttp.ClientSession() as s, s.post(
                f"{self.base}{API}/organizations/{q(self.org)}/roster", data=data,
                params={"dry_run": "true"} if dry_run else {},
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip",
                         "Accept-Language": "en"}) as r:
            return r.status, await r.json(content_type=None)

    async def person(self, person_id: str) -> dict:
        async with aiohttp.ClientSession() as s, s.get(
                f"{self.base}{API}/organizations/{q(self.org)}/people",
                headers={"Authorization": f"Bearer {self.operator}"}) as r:
            body = await r.json(content_type=None)
        return next(p for p in body["people"] if p["person_id"] == person_id)


@pytest.fixture
async def s(hs, tmp_path) -> School:
    school = await hs.new_school(roster=school_roster(tmp_path / "roster"))
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    return School(school["org"], await hs.login(acc["admin"]["user_id"], acc["admin"]["password"]),
                  await hs.login(acc["head"]["user_id"], acc["head"]["password"]),
                  hs.settings.provisioning_url, hs.settings.operator_token, tmp_path)


async def _refused_alike(s: School, who: User, data: bytes, reason: str, *named: str) -> dict:
    """The import and its dry run are both refused with 403 ``reason``, the same body, naming ``named``."""
    dry = await s.import_(who, data, dry_run=True)
    real = await s.import_(who, data)
    for status, body in (dry, real):
        assert status == 403 and body.get("errcode") == "M_FORBIDDEN", body
        assert body.get("org.parta.reason") == reason, body
        for text in named:
            assert text in body["error"], body
            assert any(text in line for line in body["details"]), body
    assert dry[1] == real[1]
    return real[1]


async def test_only_the_administrator_makes_changes_removes_and_reinstates_an_administrator(s):
    """Attacks (the head's roster imports, each with its dry run): X, a teacher, listed as an administrator
    → 403 ``admin_by_admin_only``; X, made administrator by the administrator, left out of the roster (a
    removal) → 403; X, removed by the administrator, listed again (a reinstatement) → 403. Legitimate next
    to each: the administrator's same import → 200; the head's import that leaves X as they are → 200."""
    xid, given, family = X
    as_teacher, as_admin = s.roster((xid, "teacher", given, family)), s.roster((xid, ADMINISTRATOR, given, family))
    status, body = await s.import_(s.operator, as_teacher)
    assert status == 200, body
    # the head makes a teacher administrator: refused, the message names X and says why
    body = await _refused_alike(s, s.head, as_admin, "admin_by_admin_only", f"{family} {given} ({xid})")
    assert ADMIN_REFUSAL in body["error"], body
    assert (await s.person(xid))["role"] == "teacher"
    # legitimate: the administrator does it (the dry run first, as the console's preview)
    status, body = await s.import_(s.admin, as_admin, dry_run=True)
    assert status == 200 and body["summary"]["people_changed"] == 1, body
    status, body = await s.import_(s.admin, as_admin)
    assert status == 200, body
    assert (await s.person(xid))["role"] == "admin"
    # the head's roster without X would remove an administrator: refused; with X as they are: imported
    await _refused_alike(s, s.head, s.roster(), "admin_by_admin_only", xid)
    assert (await s.person(xid))["status"] == "active"
    status, body = await s.import_(s.head, as_admin)
    assert status == 200 and body["summary"]["people_changed"] == 0, body
    # the administrator removes X by leaving them out; the head's roster listing X again is refused
    status, body = await s.import_(s.admin, s.roster())
    assert status == 200 and body["summary"]["people_removed"] == 1, body
    assert (await s.person(xid))["status"] == "removed"
    await _refused_alike(s, s.head, as_admin, "admin_by_admin_only", xid)
    assert (await s.person(xid))["status"] == "removed"
    status, body = await s.import_(s.admin, as_admin)
    assert status == 200, body
    assert (await s.person(xid))["status"] == "active"


async def test_the_head_adds_no_administrator_and_nobody_changes_their_own_record(s):
    """Attacks: the head's roster with a new person as an administrator → 403 ``admin_by_admin_only``;
    the administrator's roster with their own record as the head → 403 ``not_own_record``. Legitimate:
    the head adds a new teacher → 200; the administrator changes the head's record → 200; the operator's
    dry run of the head's own promotion → 200 (the operator is not limited)."""
    await _refused_alike(s, s.head, s.roster(("y1", ADMINISTRATOR, "Юлия", "Игрекова")),
                         "admin_by_admin_only", "Игрекова Юлия (y1)")
    status, body = await s.import_(s.head, s.roster(("y1", "teacher", "Юлия", "Игрекова")))
    assert status == 200 and body["summary"]["people_added"] == 1, body
    assert (await s.person("y1"))["role"] == "teacher"
    teacher_y = ("y1", "teacher", "Юлия", "Игрекова")
    admin = await s.person(ADMIN_PERSON)
    family, given = admin["name"].split()[:2]
    body = await _refused_alike(s, s.admin, s.roster(teacher_y, (ADMIN_PERSON, "principal", given, family)),
                                "not_own_record", ADMIN_PERSON)
    assert OWN_REFUSAL in body["error"], body
    assert (await s.person(ADMIN_PERSON))["role"] == "admin"
    head = await s.person(HEAD_PERSON)
    family, given = head["name"].split()[:2]
    status, body = await s.import_(s.operator, s.roster(teacher_y, (HEAD_PERSON, ADMINISTRATOR, given, family)),
                                   dry_run=True)
    assert status == 200 and body["summary"]["people_changed"] == 1, body
    status, body = await s.import_(s.admin, s.roster(teacher_y, (HEAD_PERSON, "teacher", given, family)))
    assert status == 200, body
    assert (await s.person(HEAD_PERSON))["role"] == "teacher"


async def test_the_heads_console_preview_shows_the_refusal(s):
    """Attack: the head previews, in the console, a roster making a teacher administrator → the preview page
    is refused (403) with the API's message naming the person, and nothing is written. Legitimate: the
    administrator's preview of the same roster → 200 with the change listed."""
    xid, given, family = X
    status, body = await s.import_(s.operator, s.roster((xid, "teacher", given, family)))
    assert status == 200, body
    data = s.roster((xid, ADMINISTRATOR, given, family))
    refusal = gettext_(ADMIN_REFUSAL, "ru")
    for who, expected in ((s.head, 403), (s.admin, 200)):
        async with Console(s.base) as c:
            await c.sign_in(who.token)
            form = aiohttp.FormData()
            form.add_field("file", data, filename="roster.zip", content_type="application/zip")
            status, text = await c.post(f"/console/org/{s.org}/roster/preview", form)
        assert status == expected, text
        if expected == 403:
            assert refusal in text and f"{family} {given} ({xid})" in text and 'role="alert"' in text, text
            assert 'name="job"' not in text  # no button to apply
        else:
            assert f"person {xid} (admin): updated" in text, text
    assert (await s.person(xid))["role"] == "teacher"
