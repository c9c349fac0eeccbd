"""A school for the console's school pages (issue 14), and a console client without a browser.

:func:`console_school` makes a two-class school through the real provisioning service: the
administrator (from the approval), teachers ``t1`` (class 5А) and ``t2`` (5Б) with accounts and not
yet confirmed, pupils ``s1`` (5А, guardian ``p1``) and ``s2`` (5Б) without accounts.
:class:`Console` is a cookie-keeping HTTP client of ``/console/`` that signs in with a Matrix
access token and sends forms with their CSRF token, as a browser without JavaScript does.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from ..helpers import write_classes_roster

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CLASSES = [("c5a", "5А", "05"), ("c5b", "5Б", "05")]
PEOPLE = [("t1", "teacher", "Анна", "Сидорова", ""), ("t2", "teacher", "Борис", "Котов", ""),
          ("s1", "student", "Иван", "Петров", "p1"), ("s2", "student", "Ольга", "Зуева", ""),
          ("p1", "parent", "Мария", "Петрова", "")]
ENROLLMENTS = [("c5a", "t1", "teacher"), ("c5b", "t2", "teacher"), ("c5a", "s1", "student"),
               ("c5b", "s2", "student")]


def school_roster(folder: Path, extra_classes=(), extra_people=(), extra_enrollments=()) -> Path:
    """The school's roster (plus extras: a later export)."""
    return write_classes_roster(folder, CLASSES + list(extra_classes), people=PEOPLE + list(extra_people),
                                enrollments=ENROLLMENTS + list(extra_enrollments))


async def console_school(hs, tmp_path: Path) -> dict:
    """``{"org", "admin": User, "t1": User, "t2": User}`` (teachers signed in, not confirmed)."""
    school = await hs.new_school(roster=school_roster(tmp_path / "roster"))
    org = school["org"]
    acc = {a["role"]: a for a in school["approve"]["accounts"]}
    admin = await hs.login(acc["admin"]["user_id"], acc["admin"]["password"])
    return {"org": org, "admin": admin, "t1": await hs.person(org, "t1"), "t2": await hs.person(org, "t2")}


class Console:
    """One browser's session of the console (cookies kept), signed in with ``token``."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def __aenter__(self) -> Console:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()

    def _remember(self, text: str) -> None:
        m = CSRF.search(text)
        if m:
            self.csrf = m.group(1)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as r:
            text = await r.text()
        self._remember(text)
        return r.status, text

    async def post(self, path: str, fields: dict | list | aiohttp.FormData) -> tuple[int, str]:
        """POST a form (with this session's CSRF token), following the redirect like a browser."""
        if isinstance(fields, aiohttp.FormData):
            fields.add_field("csrf", self.csrf)
            data: object = fields
        else:
            items = list(fields.items()) if isinstance(fields, dict) else list(fields)
            data = items + [("csrf", self.csrf)]
        async with self.session.post(self.base + path, data=data) as r:
            text = await r.text()
        self._remember(text)
        return r.status, text

    async def sign_in(self, token: str) -> None:
        await self.get("/console/login")
        status, text = await self.post("/console/login", {"token": token})
        assert status == 200 and "/console/logout" in text, text[:2000]
